"""Slack mrkdwn read as plain text: what the console shows of a message written for Slack
(no ``*bold*`` stars, no ``<url|label>`` brackets, no ``:emoji:`` codes)."""

from __future__ import annotations

import re

from .statuses import LOOKS

#: Emoji the messages use, as one terminal character each: the statuses' own symbols
#: and the few others the catalogue writes.
SYMBOLS = {
    **{look.emoji: look.symbol for look in LOOKS.values()},
    ":rocket:": "🚀",
    ":no_entry:": "⛔",
    ":grey_question:": "?",
}

_LINK = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")
# Bold, italic and strike markers around a phrase, as Slack reads them: the marker at a
# word's edge, so ``GOLIVE_HEALTH_URL`` or ``2*3*4`` stay as written.
_EMPHASIS = [re.compile(rf"(?<![\w{m}]){m}(?=\S)([^{m}\n]*?\S){m}(?![\w{m}])") for m in (r"\*", "_", "~")]
_CODE = re.compile(r"`([^`\n]+)`")


def _link(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("@"):  # a user: <@U0123>
        return label or target
    if target.startswith("#"):  # a channel: <#C0123|general>
        return f"#{label}" if label else target
    if target.startswith("!"):  # <!channel>, <!date^…|fallback>
        return label or "@" + target[1:].split("^")[0]
    if label and label != target:
        return f"{label} ({target})"
    return target


def plain_text(mrkdwn: str) -> str:
    """The text a person reads in Slack, without the markup Slack interprets."""
    value = _LINK.sub(_link, mrkdwn)
    for emphasis in _EMPHASIS:
        value = emphasis.sub(r"\1", value)
    value = _CODE.sub(r"\1", value)
    for code, symbol in SYMBOLS.items():
        value = value.replace(code, symbol)
    # Last: an escaped "&lt;" is text a person wrote, not a link.
    return value.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
