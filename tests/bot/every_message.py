"""Every message and view the bot renders, built from one state whose every field people,
servers or the database fill holds the text a test chooses: for the tests that no such
text becomes markup and that everything stays within Slack's limits."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from golive.bot.core import diff, transitions
from golive.bot.render import alert_blocks, blocks, report
from golive.bot.render.alert_blocks import ScheduleView
from golive.bot.render.blocks import Message
from golive.bot.render.messages import CATALOGUES, text
from golive.bot.render.mrkdwn import echo, escape, link_problem, mention
from golive.bot.state import ChecklistChange, Post, State
from golive.checks.loader import loads
from golive.checks.model import Checklist
from golive.checks.phrases import Phrase
from golive.checks.probe import Evidence
from golive.checks.results import Confirmation, ItemResult, Records, SignoffRecord, Waiver
from golive.checks.status import Status
from golive.checks.verdict import decide
from golive.storage import Note, PendingDeployment, RunInfo, ScheduleState

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
#: The only people and groups the bot mentions: those the checklist names.
USERS = ("U0DEVOPS", "U00OPS")
GROUPS = ("S0DEVOPS",)
#: The only links the bot builds: those the checklist names and valid evidence.
GOOD_URL = "https://wiki.example/rollback?a=1&b=2"
EVIDENCE_URL = "https://ci.example/build/7"

HOSTILE = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123>",
    "<!subteam^S123>",
    "<http://a|b>",
    "<https://evil.example|click here>",
    "&lt;b&gt;",
    "&amp;",
    "a & b",
    "\u200b\u200d\ufeff",
    "\u202e\u2066gnp.exe\u2069",
    "*bold* _it_ ~s~ `code` ```block```",
    ":rotating_light:",
    "\n\n",
    "x" * 40_000,
)


def checklist_with(value: str, language: str = "en", items: int = 2) -> Checklist:
    """The checklist with ``value`` in every free-text field."""
    document = {
        "release": {"name": f"Shop{value}", "version": "2.0.0", "channel": "C0RELEASE", "language": language},
        "signoffs": [
            {
                "id": "devops",
                "title": f"DevOps{value}",
                "approvers": {"users": [USERS[0]], "usergroups": list(GROUPS)},
            },
            {"id": "ops", "title": f"Ops{value}", "approvers": {"users": [USERS[1]]}},
        ],
        "rollback": {
            "procedure_url": GOOD_URL,
            "procedure": [f"helm rollback{value}", "verify"],
            "known_good_revision": f"shop-41{value}",
            "triggers": [
                {"name": f"Errors{value}", "description": f"5xx{value}", "condition": f"rate{value}"}
            ],
            "roles": [
                {
                    "role": f"Lead{value}",
                    "people": [{"name": f"Dana{value}", "slack": USERS[1], "phone": f"+49{value}"}],
                }
            ],
            "contacts": [{"name": f"Vendor{value}", "phone": "+49 30", "email": f"v@x.example{value}"}],
            "communication_plan": f"Status page{value}",
        },
        "schedule": {"interval": "1h"},
        "phases": [
            {
                "id": "p1",
                "title": f"P1{value}",
                "owner": "devops",
                "sections": [
                    {
                        "id": "s1",
                        "title": f"Section{value}",
                        "items": [
                            *(
                                {
                                    "id": f"health-{n}",
                                    "title": f"Health{value}",
                                    "probe": {"type": "http", "url": "http://127.0.0.1:9/"},
                                }
                                for n in range(items)
                            ),
                            {
                                "id": "runbook",
                                "title": f"Runbook{value}",
                                "owner": "ops",
                                "probe": {"type": "manual", "instructions": f"Check{value}"},
                            },
                            {
                                "id": "signed",
                                "title": f"Signed{value}",
                                "owner": "ops",
                                "probe": {"type": "manual"},
                            },
                        ],
                    }
                ],
            }
        ],
    }
    # JSON is YAML, and it writes every character as an escape YAML reads back.
    return loads(json.dumps(document), env={})


def state_with(value: str, language: str = "en", items: int = 2) -> State:
    """A release with ``value`` wherever a probe, a person or the database put text."""
    checklist = checklist_with(value, language, items)
    results = {
        f"health-{n}": ItemResult(
            f"health-{n}",
            Status.FAIL,
            Status.FAIL,
            f"[STATUS] = 503{value}",
            1.0,
            NOW,
            {"status": f"503{value}"},
            Evidence(f"http{value}", NOW, f"https://ci.example/{n}{value}"),
        )
        for n in range(items)
    }
    results["signed"] = ItemResult("signed", Status.PASS, Status.PASS, f"ok{value}", 1.0, NOW)
    records = Records(
        confirmations=(
            Confirmation("signed", f"alice{value}", NOW, f"https://x.example/a b{value}|click>", value),
        ),
        waivers=(Waiver("health-0", f"ticket{value}", f"U0DEVOPS{value}", NOW - timedelta(days=2), NOW),),
        signoffs=(
            SignoffRecord("devops", f"bob{value}", NOW, 1, {}, "f" * 16),
            SignoffRecord(
                "ops",
                USERS[1],
                NOW - timedelta(hours=1),
                1,
                {},
                "f" * 16,
                invalidated_at=NOW,
                invalidated_reason=f"regressed{value}",
            ),
        ),
    )
    run = RunInfo(1, 1, NOW, NOW, "finished", f"slack:{value}", None, "NO-GO", "f" * 16)  # type: ignore[arg-type]
    verdict = decide(checklist, results, records, NOW)
    notes = [Note(1, f"U0DEVOPS{value}", f"note{value}", NOW)]
    return State(
        checklist,
        1,
        run,
        results,
        records,
        verdict,
        notes,
        NOW,
        own_run=1,
        checklist_change=ChecklistChange("a" * 64, "b" * 64, (f"new{value}",), ()),
    )


def deployment(value: str) -> PendingDeployment:
    return PendingDeployment(
        1,
        1,
        "github",
        "d1",
        f"org/shop{value}",
        f"prod{value}",
        f"v2.0.0{value}",
        f"abc1234{value}",
        1,
        "http://127.0.0.1:9/",
        NOW,
    )


@dataclass(frozen=True)
class Rendered:
    what: str
    message: Message | None = None
    view: dict[str, Any] | None = None


def every_message(value: str, language: str = "en", items: int = 2) -> Iterator[Rendered]:
    """What the bot posts, edits, answers and opens, with ``value`` in every user field."""
    state = state_with(value, language, items)
    checklist = state.checklist
    phase = checklist.phases[0]
    for message in blocks.status_message(state):
        yield Rendered("status", message)
    for message in blocks.status_message(state, "p1"):
        yield Rendered("status p1", message)
    yield Rendered("run", blocks.run_message(state, 1, 1, 2, False, 0.0))
    yield Rendered("run finished", blocks.run_message(state, 1, 2, 2, True, 1.5))
    yield Rendered("run orphaned", blocks.orphaned_run_message(checklist, 1, None))
    for message in blocks.phase_summary(state, phase):
        yield Rendered("phase summary", message)
    yield Rendered("sign-off card", blocks.signoff_card(state))
    no_run = replace(state, run=None)
    yield Rendered("sign-off card before a run", blocks.signoff_card(no_run))
    for message in blocks.status_message(no_run):
        yield Rendered("status before a run", message)
    for message in blocks.confirm_cards(state):
        yield Rendered("confirm cards", message)
    yield Rendered(
        "confirm modal", view=blocks.confirm_modal(checklist, checklist.item("runbook"), "C0RELEASE")
    )
    for message in blocks.go_announcement(state, f"shop revision 41{value}"):
        yield Rendered("GO", message)
    for message in blocks.no_go_announcement(state, transitions.blockers_cause(state)):
        yield Rendered("NO-GO", message)
    for message in blocks.no_go_announcement(
        state, transitions.regressed_cause(language, [_regressed(value)])
    ):
        yield Rendered("NO-GO regressed", message)
    held = [deployment(value)]
    for message in blocks.waiting_deploys_message(language, held):
        yield Rendered("deploys waiting", message)
    yield Rendered("GO unblocking", Message("GO", [blocks.unblocked_context(language, held)]))
    for kind in ("failing", "reminder", "degraded", "resolved"):
        item = checklist.item("health-0")
        post = Post(kind, f"{kind}:1", NOW)
        line = alert_blocks.alert_line(checklist, item, state.results["health-0"], post, 2, 1)
        for message in alert_blocks.alert_messages(checklist, kind, [line, line]):
            yield Rendered(f"alert {kind}", message)
    role = checklist.role("ops")
    for message in alert_blocks.signoff_invalidated(checklist, role, _items(value)):
        yield Rendered("sign-off invalidated", message)
    trigger = checklist.rollback.triggers[0]
    for message in alert_blocks.rollback_call(checklist, trigger, timedelta(minutes=5)):
        yield Rendered("rollback call", message)
    paused = ScheduleState(paused=True, changed_by=f"U0DEVOPS{value}", changed_at=NOW, last_run_id=3)
    schedule = ScheduleView(paused, [NOW + timedelta(hours=1)], leader=f"pod-1{value}", leader_here=True)
    yield Rendered("schedule", alert_blocks.schedule_message(checklist, schedule))
    yield Rendered("no schedule", alert_blocks.schedule_message(checklist, None))
    for key in ("schedule_paused_now", "schedule_resumed_now"):
        yield Rendered(key, alert_blocks.notice(text(language, key, user=mention(f"U0DEVOPS{value}"))))
    change = diff.StatusChange("health-0", Status.PASS, Status.FAIL, f"[STATUS] = 503{value}")
    values = diff.ValueChange("health-0", f"status{value}", f"200{value}", f"503{value}")
    run_diff = diff.RunDiff((change,), (change,), (change,), (values,), 1)
    for message in diff.diff_message(checklist, 1, 2, run_diff, False, state.checklist_change):
        yield Rendered("diff", message)
    for message in report.report_messages(state):
        yield Rendered("report", message)
    # What the bot answers a person, privately: help, usage, refusals quoting the input.
    answers = [
        blocks.help_text(checklist),
        text(language, "unknown_command", command=echo(value)) + "\n\n" + blocks.help_text(checklist),
        *(text(language, key) for key in ("note_usage", "waive_usage", "diff_usage", "schedule_usage")),
        text(
            language,
            "waived",
            item=echo(value),
            until="2026-12-01 12:00 UTC",
            user=mention("U0DEVOPS"),
            reason=echo(f"ticket{value}", 500),
        ),
        text(language, "error", reason=echo(f"no phase {value!r}", 300)),
        text(
            language, "confirm_done", title=echo(checklist.item("runbook").title, 300), user=mention("U00OPS")
        ),
        text(language, "signoff_done", role=echo(role.title, 300), user=mention("U00OPS"), run=1),
        text(language, "note_saved"),
        text(language, "evidence_invalid", problem=text(language, "evidence_problem_bar")),
    ]
    for answer in answers:
        for message in blocks.reply(answer):
            yield Rendered("reply", message)
    yield Rendered("help", blocks.reply(blocks.help_text(checklist), language)[0])


LANGUAGES = tuple(CATALOGUES)


# -- reading what Slack would read ------------------------------------------------------

_ANGLE = re.compile(r"<([^<>]*)>")
_OWN = (
    *(f"@{user}" for user in USERS),
    *(f"!subteam^{group}" for group in GROUPS),
)
_OWN_URLS = (GOOD_URL.replace("&", "&amp;"),)


def own_urls(value: str) -> tuple[str, ...]:
    """The probes' evidence links that are valid URLs with ``value`` in them, escaped."""
    links = [f"https://ci.example/{n}{value}" for n in range(2)]
    return tuple(escape(url) for url in links if link_problem(url) is None)


def own_mentions(value: str) -> tuple[str, ...]:
    """The users recorded as ``U0DEVOPS{value}`` (a sign-off, a waiver, a pause): where that
    is a Slack user id (``value`` "0" makes ``U0DEVOPS0``), the bot mentions them itself."""
    user = f"U0DEVOPS{value}"
    return (f"@{user}",) if mention(user) == f"<@{user}>" else ()


def mrkdwn_texts(rendered: Rendered) -> Iterator[tuple[str, str]]:
    """(where, text) for every field Slack reads as mrkdwn: the fallback, section and
    context texts, fields, wherever they are nested."""
    if rendered.message is not None:
        yield f"{rendered.what}: text", rendered.message.text
        yield from _walk(rendered.message.blocks, rendered.what)
    if rendered.view is not None:
        yield from _walk(rendered.view, rendered.what)


def _walk(node: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            yield where, node["text"]
        for key, child in node.items():
            yield from _walk(child, f"{where}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _walk(child, f"{where}[{index}]")


def foreign_markup(mrkdwn: str, urls: tuple[str, ...] = ()) -> list[str]:
    """The ``<…>`` sequences Slack would act on that the bot did not build itself (its
    mentions, the checklist's link and the valid evidence ``urls``), and any stray ``<`` or ``>``."""
    found = []
    for match in _ANGLE.finditer(mrkdwn):
        inner = match.group(1)
        url = inner.partition("|")[0]
        if inner in _OWN or url in (*_OWN_URLS, *urls):
            continue
        found.append(match.group(0))
    rest = _ANGLE.sub("", mrkdwn)
    found += [c for c in rest if c in "<>"]
    return found


def displayed(mrkdwn: str) -> str:
    """The text Slack shows for escaped text: entities decoded once."""
    return mrkdwn.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def yaml_free(value: str) -> str:
    """``value`` as the checklist loader keeps it (no characters YAML cannot carry)."""
    return str(yaml.safe_load(json.dumps(value)))


def _items(value: str) -> Phrase:
    return Phrase.of("signoff_regressed_items", items=f"regressed{value}")


def _regressed(value: str) -> Phrase:
    return Phrase.of("signoff_invalidated_role", role=f"role{value}", reason=_items(value))
