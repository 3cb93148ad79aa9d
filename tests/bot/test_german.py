"""German all the way: with ``language: de`` every flow, through the real Bolt app and the
local Slack Web API, and the console and the Markdown report, shows the German catalogue
only. What people and probes wrote (titles, reasons, probe messages, ids, links) is data
and is taken out before the check; what remains must contain no English catalogue phrase
and none of the English words golive's own texts would use."""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import yaml

from golive.bot.core import usecases
from golive.bot.render import text as render_text
from golive.bot.render.messages import DE, EN
from golive.bot.render.report import render_markdown

from .slack_support import CUTOVER, DEVOPS, OPS, STRANGER, Harness, harness

#: Parameters that carry ids, routing and markup, not text a person reads.
_NOT_TEXT = {
    "channel",
    "ts",
    "thread_ts",
    "user",
    "user_id",
    "action_id",
    "block_id",
    "value",
    "type",
    "style",
    "url",
    "callback_id",
    "private_metadata",
    "trigger_id",
    "filename",
    "file_id",
    "files",
    "usergroup",
    "metadata",
    "token",
    "id",
    "channel_id",
    "message_ts",
    "cursor",
    "limit",
    "oldest",
    "include_all_metadata",
    "length",
    "channels",
}
#: Statuses and the decision are codes, the same in every language.
_CODES = re.compile(r"\b(PASS|WARN|FAIL|ERROR|STALE|PENDING|WAIVED|SKIPPED|NO-GO|GO|UTC|HTTP|OK)\b")
#: Words golive's English texts use and its German ones never do.
ENGLISH_WORDS = (
    "the",
    "not",
    "signed",
    "awaiting",
    "confirmation",
    "confirmed",
    "by",
    "run",
    "runs",
    "invalidated",
    "regressed",
    "since",
    "already",
    "revoke",
    "revoked",
    "waiver",
    "waived",
    "between",
    "days",
    "hours",
    "Procedure",
    "Contact",
    "Communication",
    "Known-good",
    "revision",
    "started",
    "scheduled",
    "covers",
    "earlier",
    "phase",
    "Usage",
    "pass",
    "did",
    "work",
    "nothing",
    "Nothing",
    "yet",
    "first",
    "please",
    "again",
    "Report",
    "attached",
    "file",
    "Notes",
    "Decision",
    "holds",
    "Stopped",
    "changed",
    "newly",
    "failing",
    "fixed",
    "items",
    "item",
    "fine",
    "evidence",
    "owner",
    "until",
    "with",
    "and",
    "of",
    "is",
    "are",
    "no",
    "No",
    "only",
    "Only",
    "approvers",
    "approver",
    "result",
    "checklist",
    "Checklist",
    "Sign",
    "Revoke",
    "Confirm",
    "Comment",
    "link",
    "That",
    "There",
    "every",
    "blocker",
    "blockers",
    "more",
    "Schedule",
    "Next",
    "Runs",
)


def _strings(value: Any, key: str = "") -> list[str]:
    if key in _NOT_TEXT:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, key)]
    return []


def _data(path: Path) -> list[str]:
    """What the checklist's authors wrote: shown as written, in whatever language."""
    document = yaml.safe_load(path.read_text())
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(document)
    return found


def _strip(shown: str, data: list[str]) -> str:
    for value in sorted(data, key=len, reverse=True):
        if len(value) > 2:
            shown = shown.replace(value, " ")
    shown = re.sub(r"<[@#!][^>]*>", " ", shown)  # mentions, built by golive
    shown = re.sub(r"<https?://[^|>]*\|?", " ", shown)  # link targets
    shown = re.sub(r"https?://\S+", " ", shown)
    shown = re.sub(r"`[^`]*`", " ", shown)  # commands, ids and values, as typed
    shown = re.sub(r":[a-z_]+:", " ", shown)  # emoji
    shown = re.sub(r"\bU0[A-Z0-9]+\b", " ", shown)  # user ids
    return _CODES.sub(" ", shown)


def _english_phrases() -> dict[str, list[str]]:
    """Per key, the English template's wording (the text between its placeholders) where
    the German one does not say the same."""
    phrases: dict[str, list[str]] = {}
    for key, template in EN.items():
        chunks = [literal for literal, _, _, _ in string.Formatter().parse(template)]
        wording = [c.strip(" .,:;*_()—•\n") for c in chunks]
        phrases[key] = [w for w in wording if " " in w and len(w) >= 8 and w not in DE[key]]
    return phrases


def _english_in(shown: str) -> list[str]:
    found = [p for phrases in _english_phrases().values() for p in phrases if p in shown]
    words = set(re.findall(r"[A-Za-z][A-Za-z-]*", shown))
    return found + sorted(words & set(ENGLISH_WORDS))


def _slack_texts(h: Harness) -> list[str]:
    texts = []
    for call in h.slack.calls:
        if call.method.startswith(("chat.", "views.", "files.")) and call.status == 200:
            texts += _strings(call.params)
    texts += [body.decode() for body in h.slack.uploads.values() if not body.startswith(b"\x89PNG")]
    return texts


async def _every_flow(h: Harness) -> None:
    async def say(command: str, user: str = DEVOPS) -> None:
        await h.command(command, user=user)
        await h.settle()

    async def click(action: str, value: str, user: str) -> None:
        await h.action(action, value, user)
        await h.settle()

    await say("signoff")  # nothing to sign yet
    await say("")
    await say("frobnicate")
    await say("status")
    await say("run")
    await say("run p2", user=OPS)
    await say("run nope")
    await say("status p1")
    await say("signoff")
    await click("golive_signoff", "devops", STRANGER)
    await click("golive_signoff", "devops", DEVOPS)
    await click("golive_signoff", "devops", DEVOPS)  # a double click
    await click("golive_revoke", "ops", OPS)  # nothing to revoke
    await click("golive_revoke", "devops", DEVOPS)
    await click("golive_signoff", "devops", DEVOPS)
    await click("golive_confirm", "runbook", STRANGER)
    await h.action("golive_confirm", "runbook", OPS)
    view = (await h.slack.wait_for("views.open"))[-1].params["view"]
    await h.submit_view(view, {"evidence": {"url": {"type": "url_text_input", "value": "ftp://x"}}}, OPS)
    await h.submit_view(
        view,
        {
            "evidence": {"url": {"type": "url_text_input", "value": "https://wiki.example/runbook"}},
            "comment": {"text": {"type": "plain_text_input", "value": "geprüft"}},
        },
        OPS,
    )
    await h.settle()
    await say("confirm")
    await say("note")
    await say("note Freigabe im CAB")
    await say("waive dns 200 Ticket CHG-1")
    await say("waive dns 2 kurz")
    await say("waive dns")
    await say("waive nope 2 Ticket CHG-1")
    await say("waive dns 2 Ticket CHG-1 wartet auf Provider")
    await click("golive_signoff", "ops", OPS)
    h.target.status = 500  # health regresses: the DevOps sign-off no longer holds, GO goes
    await say("run")
    await say("status")
    await say("schedule")
    await say("schedule pause")
    await say("diff 1")
    await say("diff 1 3")
    await say("diff 1 99")
    await say("report")


async def test_every_flow_in_german_shows_only_the_german_catalogue(tmp_path: Path) -> None:
    async with harness(tmp_path, language="de", more_phases=[CUTOVER]) as h:
        await _every_flow(h)
        state = await usecases.current_state(h.bot.checklist, h.store)
        console = render_text.summary(state) + render_text.verdict_lines(state)
        console += [
            render_text.signoff_line(s, state.checklist.release.language) for s in state.verdict.signoffs
        ]
        report = render_markdown(state)
        observed = [
            r.message
            for run in await h.store.runs(state.release_id)
            for r in (await h.store.run_results(run.id)).values()
        ]
        data = (
            _data(tmp_path / "checklist.yaml")
            + observed
            + [
                "Freigabe im CAB",
                "Ticket CHG-1 wartet auf Provider",
                "geprüft",
                "frobnicate",
                "Shop v2.0.0",
            ]
        )
        shown = _slack_texts(h) + console + [report]
        assert any("Lauf" in s for s in shown) and any("Nachweis" in s for s in shown), "German was shown"
        english = {s[:200]: found for s in shown if (found := _english_in(_strip(s, data)))}
        assert english == {}, json.dumps(english, ensure_ascii=False, indent=1)


def test_the_check_finds_english_and_passes_german() -> None:
    """The detector itself: golive's English wording is found, its German is not."""
    samples = {
        "signoff_not_signed": {},
        "blocker_not_run": {},
        "signoff_regressed": {"items": "health (PASS → FAIL)"},
        "waive_days": {"days": "200"},
        "result_awaiting_role": {"role": "ops"},
        "signoff_already_yours": {"role": "DevOps", "at": "2026-12-07 10:00"},
        "run_covers_phase": {"phase": "P2"},
    }
    for key, values in samples.items():
        assert _english_in(_strip(EN[key].format(**values), [])), key
        assert not _english_in(_strip(DE[key].format(**values), [])), key
    for label in ("Procedure", "Known-good revision", "Contact", "Communication"):
        assert _english_in(f"- {label}: x")


async def test_golive_s_own_words_in_stored_results_read_back_in_german(tmp_path: Path) -> None:
    """A skip for a failed dependency and a missing setting are golive's words, stored
    with the result: `/golive status` after the run, read from the database, shows them in
    German, not the English kept for logs and JSON."""
    smoke = {
        "id": "p2",
        "title": "P2: Rauchtest",
        "owner": "devops",
        "sections": [
            {
                "id": "p2-smoke",
                "title": "Rauchtest",
                "items": [
                    {
                        "id": "smoke",
                        "title": "Rauchtest grün",
                        "depends_on": ["health"],
                        "probe": {"type": "http", "url": "http://127.0.0.1:9/smoke"},
                    },
                    {
                        "id": "unset",
                        "title": "Dienst ohne Adresse",
                        "probe": {"type": "http", "url": "${GOLIVE_UNSET_URL}"},
                    },
                ],
            }
        ],
    }
    async with harness(tmp_path, language="de", more_phases=[smoke]) as h:
        h.target.status = 503
        await h.command("run")
        await h.settle()
        release = await h.store.release_id("Shop", "2.0.0")
        stored = await h.store.latest_results(release)
        assert stored["smoke"].message == "depends on health, which is FAIL"  # English kept
        assert stored["smoke"].phrase is not None  # and the phrase beside it
        since = len(h.slack.answers())
        await h.command("status")
        await h.settle()
        shown = json.dumps([c.params for c in h.slack.answers()[since:]], ensure_ascii=False)
        assert "hängt von health ab, der FAIL ist" in shown, shown[:2000]
        assert "nicht konfiguriert: GOLIVE_UNSET_URL setzen" in shown
        assert "depends on health" not in shown and "not configured" not in shown
