"""Where the bot answers and whom it serves: every command answered through its
response_url wherever it is asked (a DM, a channel the bot is not in), changes made
elsewhere announced in the release channel with a link, and requests from any other
workspace refused. End to end: signed requests, the real Bolt app, the local Slack."""

from __future__ import annotations

import gc
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from golive.bot.core import usecases
from golive.bot.render import blocks
from golive.bot.slack.workspace import served

from .slack_support import CHANNEL, DEVOPS, DM, OPS, TEAM, Harness, harness

#: Every subcommand, as a person types it; ``run`` first so that the rest has a run.
COMMANDS = (
    "run",
    "",
    "help",
    "status",
    "status p1",
    "signoff",
    "confirm",
    "note seen from a DM",
    "waive health 2 INC-7 flaky upstream",
    "schedule",
    "schedule pause",
    "diff",
    "diff 1 1",
    "report",
    "frobnicate",
)


def told(h: Harness, since: int, user: str) -> list[str]:
    """What ``user`` was told through response_urls since call number ``since``."""
    return [
        str(c.params.get("text"))
        for c in h.slack.calls[since:]
        if c.method == "response_url" and c.status == 200 and c.params.get("user") == user
    ]


async def test_every_command_in_a_dm_is_answered_and_nothing_fails_unseen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    async with harness(tmp_path) as h:
        for text in COMMANDS:
            since = len(h.slack.calls)
            assert (await h.command(text, channel=DM)).status_code == 200
            await h.settle()
            assert told(h, since, DEVOPS), f"/golive {text} in a DM was not answered"
        assert not [
            c for c in h.slack.calls if c.params.get("channel") == DM and c.method.startswith("chat.")
        ]
    gc.collect()  # an unretrieved task exception is logged when the task is collected
    logged = caplog.text + "".join(capsys.readouterr())
    assert "Task exception was never retrieved" not in logged
    assert "Traceback" not in logged


async def test_a_waiver_from_a_dm_is_announced_in_the_release_channel_with_a_link(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.target.status = 500
        await h.command("run")
        await h.settle()
        since = len(h.slack.calls)
        await h.command("waive health 2 INC-7 flaky upstream", channel=DM)
        await h.settle()
        release = await h.store.release_id("Shop", "2.0.0")
        assert [w.reason for w in (await h.store.records(release)).waivers] == ["INC-7 flaky upstream"]
        announced = h.slack.channel_posts(CHANNEL, "INC-7 flaky upstream")
        assert len(announced) == 1 and f"<@{DEVOPS}>" in announced[0]["text"]
        link = f"https://test.slack.com/archives/{CHANNEL}/p{announced[0]['ts'].replace('.', '')}"
        assert any(link in text for text in told(h, since, DEVOPS))


async def test_a_note_from_a_channel_the_bot_is_not_in_is_announced_and_linked(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        h.slack.not_member.add("C0ELSEWHERE")
        since = len(h.slack.calls)
        await h.command("note CAB approved <!channel>", channel="C0ELSEWHERE")
        await h.settle()
        release = await h.store.release_id("Shop", "2.0.0")
        assert [n.text for n in await h.store.notes(release)] == ["CAB approved <!channel>"]
        announced = h.slack.channel_posts(CHANNEL, "CAB approved")
        assert len(announced) == 1
        assert "<!channel>" not in announced[0]["text"], "the note's text is shown, not a mention"
        assert any(f"archives/{CHANNEL}/p" in text for text in told(h, since, DEVOPS))


async def test_a_run_asked_for_in_a_dm_runs_in_the_release_channel_and_links_there(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        since = len(h.slack.calls)
        await h.command("run", channel=DM)
        await h.settle()
        runs = [p for p in h.slack.ok_calls("chat.postMessage") if not p.params.get("thread_ts")]
        assert [p.params["channel"] for p in runs] == [CHANNEL]
        assert h.slack.ok_calls("files.completeUploadExternal"), "the chart went to the run's thread"
        link = f"https://test.slack.com/archives/{CHANNEL}/p{runs[0].ts and runs[0].ts.replace('.', '')}"
        assert any(link in text for text in told(h, since, DEVOPS))


async def test_signoff_card_asked_for_in_a_dm_is_posted_in_the_release_channel(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.command("run")
        await h.settle()
        since = len(h.slack.calls)
        await h.command("signoff", channel=DM)
        await h.settle()
        cards = [c for c in h.slack.calls[since:] if c.method == "chat.postMessage" and c.error is None]
        assert [c.params["channel"] for c in cards] == [CHANNEL]
        assert any(f"archives/{CHANNEL}/p" in text for text in told(h, since, DEVOPS))


async def test_status_in_the_release_channel_is_answered_privately_through_the_response_url(
    tmp_path: Path,
) -> None:
    async with harness(tmp_path) as h:
        since = len(h.slack.calls)
        await h.command("status")
        await h.settle()
        answers = [c for c in h.slack.calls[since:] if c.method == "response_url"]
        assert answers and all(c.params.get("response_type") == "ephemeral" for c in answers)
        assert not h.slack.channel_posts(CHANNEL)


async def test_requests_from_another_workspace_are_refused_and_record_nothing(tmp_path: Path) -> None:
    async with harness(tmp_path) as h:
        await h.command("run")
        await h.settle()
        await h.action("golive_signoff", "devops", DEVOPS)
        await h.settle()
        await h.action("golive_confirm", "runbook", OPS)
        modal = (await h.slack.wait_for("views.open"))[-1].params["view"]
        await h.settle()
        release = await h.store.release_id("Shop", "2.0.0")
        calls = len(h.slack.calls)
        evidence = {"evidence": {"url": {"type": "url_text_input", "value": "https://wiki.example/runbook"}}}
        confirm = await h.submit_view(modal, evidence, OPS, team="T0OTHER")
        note = await h.command("note from elsewhere", team="T0OTHER")
        grid = await h.command("note from another organisation", team=TEAM, enterprise="E0OTHER")
        revoke = await h.action("golive_revoke", "devops", DEVOPS, team="T0OTHER")
        sign = await h.action("golive_signoff", "ops", OPS, team="T0OTHER")
        await h.settle()
        statuses = [
            confirm.status_code,
            note.status_code,
            grid.status_code,
            revoke.status_code,
            sign.status_code,
        ]
        assert statuses == [403] * 5
        assert await h.store.notes(release) == []
        assert (await h.store.records(release)).confirmations == ()
        signoffs = await h.store.signoffs(release)
        assert [(s.role, s.revoked_at) for s in signoffs] == [("devops", None)]
        assert h.slack.calls[calls:] == []
        state = await usecases.current_state(h.bot.checklist, h.store)
        assert next(s for s in state.verdict.signoffs if s.role == "devops").holds


async def test_a_listed_workspace_of_the_organisation_is_served(tmp_path: Path) -> None:
    async with harness(tmp_path, allowed_teams=("T0SISTER",)) as h:
        assert (await h.command("note from the sister workspace", team="T0SISTER")).status_code == 200
        assert (await h.command("note from a stranger", team="T0OTHER")).status_code == 403
        await h.settle()
        release = await h.store.release_id("Shop", "2.0.0")
        assert [n.text for n in await h.store.notes(release)] == ["from the sister workspace"]


@pytest.mark.parametrize(
    ("team", "enterprise", "own_enterprise", "listed", "expected"),
    [
        ("T0TEST", None, None, (), True),
        ("T0OTHER", None, None, (), False),
        ("T0TEST", "E0OTHER", None, (), False),  # the same id in another organisation
        ("T0TEST", "E0GRID", "E0GRID", (), True),
        ("T0SISTER", "E0GRID", "E0GRID", (), False),  # the organisation alone admits no workspace
        ("T0SISTER", "E0GRID", "E0GRID", ("T0SISTER",), True),
        (None, "E0GRID", "E0GRID", (), True),  # organisation-wide, no workspace named
        (None, "E0OTHER", "E0GRID", (), False),
        (None, None, None, (), False),
    ],
)
def test_which_workspace_is_served(
    team: str | None,
    enterprise: str | None,
    own_enterprise: str | None,
    listed: tuple[str, ...],
    expected: bool,
) -> None:
    assert served(team, enterprise, "T0TEST", own_enterprise, listed) is expected


async def test_a_modal_slack_will_not_open_is_told_not_logged_as_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with harness(tmp_path) as h:
        h.slack.fail_next("views.open", "error:trigger_expired")
        assert (await h.action("golive_confirm", "runbook", OPS)).status_code == 200
        await h.slack.wait_for("chat.postEphemeral")  # the listener goes on after the ack
        answer = h.slack.answers(OPS)
        assert answer and "trigger_expired" in answer[-1].params["text"]
    assert "Traceback" not in caplog.text


async def test_a_report_longer_than_five_answers_in_a_dm_says_where_to_read_the_rest(tmp_path: Path) -> None:
    """A response_url takes 5 answers; a DM takes no ephemeral post. The part that does
    not fit is not dropped without a word: the last answer says how much is left and
    where to ask for it."""
    async with harness(tmp_path) as h:
        await h.command("run")
        await h.settle()
        release = await h.store.release_id("Shop", "2.0.0")
        for number in range(20):
            await h.store.add_note(
                release, author=DEVOPS, text=f"note {number} " + "x" * 2800, at=datetime.now(UTC)
            )
        state = await usecases.current_state(h.bot.checklist, h.store)
        count = len(blocks.report_summary(state))
        assert count > 5
        since = len(h.slack.calls)
        await h.command("report", channel=DM)
        await h.settle()
        answers = told(h, since, DEVOPS)
        assert len(answers) == 5
        assert answers[0].startswith("Report · Shop v2.0.0")
        assert answers[-1].startswith(f"{count - 4} more message(s)") and f"<#{CHANNEL}>" in answers[-1]
        assert not [c for c in h.slack.calls[since:] if c.error or c.status != 200]
