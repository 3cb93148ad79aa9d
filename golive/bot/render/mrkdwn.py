"""Slack mrkdwn from text that people and servers wrote.

Slack reads ``<…>`` as a mention, a channel, a broadcast (``<!channel>``) or a link, and
``&`` starts an entity. Text from a person, a server's answer, the checklist or the
database therefore goes through :func:`escape` wherever it is put into mrkdwn; the only
markup in a message is what :func:`mention`, :func:`usergroup` and :func:`link` build from
parts they checked. Plain-text fields (headers, buttons, modal titles) take text as
written: Slack does not parse markup there.

Echoes of what someone typed are capped by :func:`echo`, so that a 40 KB command still
gets an answer Slack accepts.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

_CONTROL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
#: Slack user ids (U…, W… on Enterprise Grid) and user group ids (S…).
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,20}")
#: The longest evidence link accepted (browsers and Slack cope with far less than 3000).
LINK_LIMIT = 2000
#: How much of someone's input a reply quotes back.
ECHO_LIMIT = 80
#: Whitespace, line breaks and invisible characters (zero-width, direction marks): none
#: belongs in a link, and the invisible ones can make a link look like another.
_INVISIBLE = {"Cc", "Cf", "Zs", "Zl", "Zp"}


def escape(value: object) -> str:
    """Slack's three control characters as entities; everything else shown as written."""
    return str(value).translate(_CONTROL)


def clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """Someone's input quoted back in mrkdwn: escaped, at most ``limit`` characters of it."""
    return escape(clip(str(value), limit))


def mention(user_id: object) -> str:
    """``<@U…>`` for a Slack user id; anything else (a name the command line stored) as text."""
    value = str(user_id)
    return f"<@{value}>" if _USER_ID.fullmatch(value) else echo(value)


def usergroup(group_id: object) -> str:
    value = str(group_id)
    return f"<!subteam^{value}>" if _GROUP_ID.fullmatch(value) else echo(value)


def link_problem(url: str) -> str | None:
    """Why ``url`` is not one http(s) link Slack can show, as a catalogue key's suffix
    (``evidence_problem_<suffix>``); None when it is."""
    if len(url) > LINK_LIMIT:
        return "long"
    if any(unicodedata.category(c) in _INVISIBLE for c in url):
        return "space"
    if "|" in url:
        return "bar"
    if "<" in url or ">" in url:
        return "angle"
    if not url.lower().startswith(("http://", "https://")):
        return "scheme"
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host:
        return "host"
    return None


def link(url: str, label: str) -> str:
    """``<url|label>`` with the label escaped; a stored link that is not one valid http(s)
    URL is shown as text, never as markup."""
    if link_problem(url) is None:
        # Inside a link Slack decodes &amp; back to the & of the URL.
        return f"<{escape(url)}|{escape(label)}>"
    return f"{escape(label)}: {echo(url, 200)}"
