"""Block Kit rendering within Slack's limits, the message catalogue, and the console surface."""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from golive.bot.render import blocks
from golive.bot.render import text as render_text
from golive.bot.render.messages import DE, EN
from golive.bot.render.statuses import LOOKS
from golive.bot.state import State
from golive.checks.loader import loads
from golive.checks.probe import Evidence
from golive.checks.results import ItemResult, Records
from golive.checks.status import Status
from golive.checks.verdict import decide

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def big_state(items: int, message_size: int) -> State:
    document = {
        "release": {"name": "Big", "version": "1.0.0"},
        "signoffs": [{"id": "devops", "title": "DevOps", "approvers": {"users": ["U0001"]}}],
        "phases": [
            {
                "id": "p1",
                "title": "P1",
                "owner": "devops",
                "sections": [
                    {
                        "id": "s1",
                        "title": "S1",
                        "items": [
                            {
                                "id": f"item-{n}",
                                "title": f"Item {n}",
                                "probe": {"type": "http", "url": "http://127.0.0.1:9/"},
                            }
                            for n in range(items)
                        ],
                    }
                ],
            }
        ],
    }
    checklist = loads(yaml.safe_dump(document), env={})
    results = {
        f"item-{n}": ItemResult(
            f"item-{n}",
            Status.FAIL,
            Status.FAIL,
            f"failure {n}: " + "q" * message_size,
            1.0,
            NOW,
            {},
            Evidence("test", NOW, f"https://ci.example/{n}"),
        )
        for n in range(items)
    }
    verdict = decide(checklist, results, Records(), NOW)
    return State(checklist, 1, None, results, Records(), verdict, [], NOW)


def test_long_phase_summary_continues_in_further_messages_and_loses_nothing() -> None:
    state = big_state(200, 400)
    messages = blocks.phase_summary(state, state.checklist.phases[0])
    assert len(messages) > 1
    shown = ""
    for message in messages:
        assert message.text
        assert len(message.blocks) <= blocks.BLOCKS_LIMIT
        assert len(json.dumps(message.blocks)) < 13000
        for block in message.blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= blocks.SECTION_LIMIT
                shown += block["text"]["text"]
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= blocks.HEADER_LIMIT
    for n in range(200):
        assert f"failure {n}: " in shown, f"item {n} was cut"
    assert "(continued 1/" in messages[0].text


def test_one_huge_message_is_split_not_cut() -> None:
    state = big_state(1, 7000)
    messages = blocks.phase_summary(state, state.checklist.phases[0])
    text = "".join(b["text"]["text"] for m in messages for b in m.blocks if b["type"] == "section")
    assert text.count("q") == 7000


def test_user_text_cannot_inject_mentions() -> None:
    state = big_state(1, 1)
    evil = ItemResult("item-0", Status.FAIL, Status.FAIL, "<!channel> hi & bye", 1.0, NOW)
    state = State(state.checklist, 1, None, {"item-0": evil}, Records(), state.verdict, [], NOW)
    rendered = json.dumps(blocks.phase_summary(state, state.checklist.phases[0])[0].blocks)
    assert "<!channel>" not in rendered and "&lt;!channel&gt; hi &amp; bye" in rendered


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    assert sorted(EN.keys() - DE.keys()) == [], "missing in German"
    assert sorted(DE.keys() - EN.keys()) == [], "missing in English"
    for key in EN:
        english = {name for _, name, _, _ in string.Formatter().parse(EN[key]) if name}
        german = {name for _, name, _, _ in string.Formatter().parse(DE[key]) if name}
        assert english == german, key


def test_main_command_prints_the_bot_messages_readably_and_writes_charts(tmp_path: Path) -> None:
    """``--verbose`` prints what the bot would post, as plain text (no Slack markup)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "golive",
            "run",
            "--checklist",
            str(ROOT / "checklists" / "valeo-neuroerp-1.1.0.yaml"),
            "--db",
            f"sqlite:///{tmp_path / 'golive.db'}",
            "--charts",
            str(tmp_path / "charts"),
            "--verbose",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
        cwd=tmp_path,
    )
    assert completed.returncode == 1, completed.stderr
    output = completed.stdout
    assert "Go-Live-Lauf #1 · VALEO-NeuroERP v1.1.0" in output
    assert "65 von 65 Punkten entschieden" not in output  # the final message shows the finished run instead
    assert "Lauf #1 nach" in output and "NO-GO" in output
    assert "nicht konfiguriert: GOLIVE_HEALTH_URL setzen" in output  # the checklist is German
    assert "P1: Image-Check & Registry" in output and "*P1: Image-Check & Registry*" not in output
    assert ":white_check_mark:" not in output and ":boom:" not in output  # symbols, not emoji codes
    pngs = sorted((tmp_path / "charts").glob("*.png"))
    # One chart per phase, each phase observed by the run: 8, none empty.
    phases = ("p1", "p2", "p3", "p4", "p5", "infra", "docs", "golive")
    assert [p.name for p in pngs] == sorted(f"{phase}.png" for phase in phases)
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_the_console_reads_slack_markup_as_plain_text() -> None:
    message = blocks.Message(
        "fallback",
        [
            blocks.header("P1: Staging :x:"),
            blocks.section(
                "*P1: Staging*: :x: 1 FAIL · _see_ <https://wiki.example/runbook|the runbook> "
                "or <https://wiki.example/plain>, asked by <@U0DEVOPS> in <#C0123|releases>"
            ),
            blocks.context("set `GOLIVE_HEALTH_URL`; 2*3*4 stays; &lt;b&gt; &amp; co"),
        ],
    )
    assert blocks.plain(message).splitlines() == [
        "P1: Staging ✘",
        "=" * len("P1: Staging :x:"),
        "P1: Staging: ✘ 1 FAIL · see the runbook (https://wiki.example/runbook) "
        "or https://wiki.example/plain, asked by @U0DEVOPS in #releases",
        "  set GOLIVE_HEALTH_URL; 2*3*4 stays; <b> & co",
    ]


def test_a_status_looks_the_same_in_slack_and_on_the_console() -> None:
    """One table: the emoji Slack shows for a status is the symbol the terminal shows."""
    state = big_state(1, 1)
    failed = ItemResult("item-0", Status.ERROR, Status.ERROR, "unreachable", 1.0, NOW)
    state = State(state.checklist, 1, None, {"item-0": failed}, Records(), state.verdict, [], NOW)
    [summary] = blocks.phase_summary(state, state.checklist.phases[0])
    assert LOOKS[Status.ERROR].emoji in json.dumps(summary.blocks)
    symbol = LOOKS[Status.ERROR].symbol
    assert f"{symbol} Item 0 (item-0) — ERROR: unreachable" in blocks.plain(summary)
    line = render_text.progress_line(state.checklist, failed)
    assert line.startswith(f"[{LOOKS[Status.ERROR].colour}]{symbol} ERROR")
    assert len({look.symbol for look in LOOKS.values()}) == len(Status)  # each status its own


#: Keys chosen at run time from a family: the prefix as the code writes it, and the
#: suffixes it can take (an alert's kind; the report's labels, read as ``words["…"]``).
_ALERT_KINDS = ("failing", "reminder", "degraded", "resolved")


def _used_keys() -> set[str]:
    sources = [
        path.read_text()
        for path in (ROOT / "golive").rglob("*.py")
        if path != ROOT / "golive" / "bot" / "render" / "messages.py"
    ]
    code = "\n".join(sources)
    used = {key for key in EN if f'"{key}"' in code or f"'{key}'" in code}
    if 'f"alert_{post.kind}"' in code:
        used |= {f"alert_{kind}" for kind in _ALERT_KINDS}
    if 'f"alert_header_{kind}"' in code:
        used |= {f"alert_header_{kind}" for kind in _ALERT_KINDS}
    if 'f"evidence_problem_{problem}"' in code:
        used |= {key for key in EN if key.startswith("evidence_problem_")}
    if 'f"deploy_{what}"' in code:
        used |= {f"deploy_{what}" for what in ("waiting", "approved", "rejected", "failed", "uncertain")}
    if 'f"report_{key}"' in code:
        used |= {f"report_{word}" for word in re.findall(r"words\[[\"']([a-z_]+)[\"']\]", code)}
    return used


def test_every_catalogue_key_is_used() -> None:
    assert sorted(EN.keys() - _used_keys()) == [], "keys nothing renders"
