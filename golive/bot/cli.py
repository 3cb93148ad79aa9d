"""The ``golive`` command line. Exit codes: 0 fine, 1 checks not passing, 2 usage or config error."""

from __future__ import annotations

import contextlib
import io
import json
import math
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from .. import __version__
from .render import messages as catalogue

if TYPE_CHECKING:
    from ..checks.model import Checklist
    from ..checks.results import ItemResult
    from ..storage import Store
    from ..storage.snapshot import ReleaseReader
    from .console import ConsoleSurface
    from .core.progress import RunWatch
    from .core.surface import Surface
    from .serve.settings import Settings
    from .state import State

# Each command imports what it uses when it runs: `golive --help` and `golive validate`
# load neither the database, the Slack app, the HTTP server, the probe clients nor
# matplotlib (tests/bot/test_startup.py names what each command may not import).

#: The environment variables behind the options, and the default database, as
#: golive.settings names them (kept equal by a test; reading them from there would load
#: pydantic-settings for `--help`).
CHECKLIST_VARIABLE = "GOLIVE_CHECKLIST"
DB_URL_VARIABLE = "GOLIVE_DB_URL"
API_TOKEN_VARIABLE = "GOLIVE_API_TOKEN"  # noqa: S105  (the variable's name)
DEFAULT_DB_URL = "sqlite:///golive.db"

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Decide whether a release may go live.")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

EXIT_OK, EXIT_FAILING, EXIT_USAGE = 0, 1, 2


class Format(StrEnum):
    text = "text"
    json = "json"


class ReportFormat(StrEnum):
    md = "md"


ChecklistOption = Annotated[
    Path | None,
    typer.Option("--checklist", "-c", help="Checklist YAML.", envvar=CHECKLIST_VARIABLE),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help=f"Database URL (default: {DEFAULT_DB_URL}).", envvar=DB_URL_VARIABLE, show_envvar=True
    ),
]
ByOption = Annotated[str, typer.Option("--by", help="Your Slack user ID (e.g. U012ABCDEF).")]


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    from ..checks.secrets import redact
    from .render import text as render_text

    # A database URL in the message may carry its password (`?password=…`).
    err.print(f"[red]error:[/] {render_text.escape(redact(message))}")
    raise typer.Exit(code)


def _configure_logging(default_level: str, db: str | None) -> None:
    from .ops.logs import configure_logging

    try:
        configure_logging(default_level=default_level, db_url=db)
    except ValueError as exc:  # GOLIVE_LOG_LEVEL is not a level
        _fail(str(exc))


def _checklist(path: Path | None) -> Checklist:
    chosen = _named_checklist(path)
    if chosen is None:
        _fail("no checklist: pass --checklist FILE or set GOLIVE_CHECKLIST")
    return _load(chosen)


def _named_checklist(path: Path | None) -> Path | None:
    """The checklist named by --checklist, which typer fills from GOLIVE_CHECKLIST."""
    return path


def _state_of(path: Path | None, db: str | None) -> State:
    """The current state, of the named checklist or else of the one the newest run used,
    as stored in the database."""
    from .core import usecases

    named = _named_checklist(path)
    loaded = _load(named) if named is not None else None

    async def work(store: ReleaseReader) -> State:
        # Only shown: the automated items' probe parameters need no probe family here.
        checklist = loaded or await usecases.stored_checklist(store, bind_probes=False)
        return await usecases.current_state(checklist, store)

    snapshot_state = _from_snapshot(db, work)
    return snapshot_state if snapshot_state is not None else _with_store(db, work)


def _from_snapshot(db: str | None, work: Callable[[ReleaseReader], Awaitable[T]]) -> T | None:
    """``work`` over a snapshot of the database, without the Store (and SQLAlchemy, the
    larger part of these commands' start-up); None where only the Store can answer as it
    should (see :mod:`golive.storage.snapshot`)."""
    from ..storage.snapshot import NotInSnapshot, open_snapshot

    snapshot = open_snapshot(db)
    if snapshot is None:
        return None

    async def main() -> T:
        return await work(snapshot)

    try:
        return _run_refusing(main())
    except NotInSnapshot:
        return None
    finally:
        snapshot.close()


def _load(chosen: Path) -> Checklist:
    from ..checks.errors import ChecklistError
    from ..checks.loader import load

    try:
        return load(chosen)
    except ChecklistError as exc:
        from .render import text as render_text

        err.print(f"[red]invalid checklist[/] {render_text.escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE) from None


def _with_store(db: str | None, work: Callable[[Store], Awaitable[T]], language: str = "en") -> T:
    """``language``: the checklist's, for a refusal's words."""
    from ..storage import StorageError, Store

    async def main() -> T:
        try:
            store = await Store.open(db)
        except StorageError as exc:
            _fail(str(exc))
        try:
            return await work(store)
        finally:
            await store.close()

    return _run_refusing(main(), language)


def _run_refusing(work: Coroutine[Any, Any, T], language: str = "en") -> T:
    """Run ``work``; what it refuses (a person's mistake, a database golive cannot use, a
    result a newer golive stored) is said in words, with exit 2, not as a traceback.
    ``language``: the checklist's, for a refusal's words."""
    import asyncio

    from ..storage import StorageError
    from .core.errors import UserError

    try:
        return asyncio.run(work)
    except UserError as exc:
        _fail(exc.for_cli(language))
    except StorageError as exc:
        _fail(str(exc))


def _finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: such observed values are written as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _print_json(document: dict[str, Any]) -> None:
    text = json.dumps(_finite(document), indent=2, ensure_ascii=False, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")


@app.command()
def validate(checklist: ChecklistOption = None) -> None:
    """Check a checklist: exit 0 when valid, 2 with every problem listed."""
    from ..checks.hosts import reaches_urls

    loaded = _checklist(checklist)
    unset = sorted({v for item in loaded.items() for v in item.unset_variables})
    out.print(
        f"[green]valid[/]: {len(loaded.items())} items in {len(loaded.phases)} phases, "
        f"{len(loaded.signoffs)} sign-off roles"
    )
    if unset:
        out.print(f"not configured here (these items will be ERROR until set): {', '.join(unset)}")
    if loaded.allowed_hosts is None and reaches_urls(loaded):
        out.print(
            "[yellow]warning:[/] no allowed_hosts: URL probes may reach any host; "
            "list the release's hosts, e.g. allowed_hosts: ['*.valeo.example']"
        )


@app.command()
def run(
    checklist: ChecklistOption = None,
    phase: Annotated[str | None, typer.Option(help="Only this phase (its id).")] = None,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
    db: DbOption = None,
    charts: Annotated[
        Path, typer.Option("--charts", help="Folder for chart PNGs when printing instead of posting.")
    ] = Path("golive-out"),
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Every item as it is decided, and the messages the bot would post."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the verdict line.")] = False,
) -> None:
    """Probe now, store the results, print them. Exit 0 when every blocking automated item passes.

    In text format: on a terminal a live progress display while the probes run, then the
    summary (verdict, counts, a line per phase, the blockers, where the charts are). The
    bot's messages go to Slack when SLACK_BOT_TOKEN is set, else the charts are written
    to --charts (and --verbose prints the messages)."""
    if verbose and quiet:
        _fail("--verbose and --quiet exclude each other: choose one")
    from ..checks.known_secrets import register_checklist_secrets
    from .core import usecases
    from .core.progress import watch_run
    from .ha.database import lease_duration, new_holder, presence
    from .render import json as render_json
    from .render import text as render_text

    loaded = _checklist(checklist)
    if phase is not None and phase not in [p.id for p in loaded.phases]:
        _fail(f"no phase {phase!r}; phases: {', '.join(p.id for p in loaded.phases)}")

    # Human output goes to stdout; log lines (warnings, unless GOLIVE_LOG_LEVEL says
    # more) go to stderr as JSON.
    _configure_logging("WARNING", db)
    register_checklist_secrets(loaded)
    try:
        lease = lease_duration()
    except ValueError as exc:
        _fail(str(exc))
    shown = _Shown(verbose=verbose, quiet=quiet)

    async def work(store: Store) -> State:
        # Present while it runs: a `golive serve` sharing the database leaves the run be.
        store.holder = new_holder()
        async with (
            presence(store, store.holder, lease),
            watch_run(loaded, store, "cli", phase=phase) as watch,
        ):
            _, state = await _run_once(loaded, store, watch, phase, format, charts, shown)
            watch.completed(state)
            return state

    # The state of this run itself: its results, id, times and the verdict as of its
    # finish, never those of a run beside it that stored last.
    state = _with_store(db, work)
    if format == Format.json:
        _print_json(render_json.state_document(state))
    elif quiet:
        out.print(render_text.verdict_line(state))
    else:
        if verbose:
            sys.stdout.write(shown.messages)
            out.print()
        phases = [loaded.phase(phase)] if phase else loaded.phases
        for line in render_text.run_summary(state, phases, shown.charts):
            out.print(line)
    passed = usecases.automated_blocking_pass(loaded, state.results, phase)
    raise typer.Exit(EXIT_OK if passed else EXIT_FAILING)


@dataclass
class _Shown:
    """What a text run shows besides its summary, and what it gathered to show."""

    verbose: bool = False
    quiet: bool = False
    #: The bot's messages as printed (--verbose, without Slack).
    messages: str = ""
    #: Where the charts went.
    charts: str | None = None


async def _run_once(
    checklist: Checklist,
    store: Store,
    watch: RunWatch,
    phase: str | None,
    format: Format,
    charts: Path,
    shown: _Shown | None = None,
) -> tuple[int, State]:
    from .console import RunProgress
    from .core import usecases
    from .core.publish import command_line_chart_workers, publish_run, start_chart_worker, stop_chart_worker
    from .render import text as render_text

    if format == Format.json:
        return await usecases.execute_run(
            checklist, store, phase=phase, trigger="cli", on_start=watch.started, on_result=watch.result
        )
    shown = shown or _Shown()
    # On a terminal (not a pipe, not a CI log) a live display while the probes run.
    live = (
        RunProgress(checklist, phase, out)
        if not shown.quiet and out.is_terminal and not out.is_dumb_terminal and sys.stdout.isatty()
        else None
    )

    async def progress(result: ItemResult) -> None:
        await watch.result(result)
        if live is not None:
            live.decided(result)
        if shown.verbose:
            line = render_text.progress_line(checklist, result)
            if live is not None:
                live.print(line)
            else:
                out.print(line)

    # Text: the messages the bot posts, on Slack when it has a token, else kept to be
    # printed after the run (--verbose) and the charts written to --charts.
    surface, channel, console = _surface(checklist, charts)
    # The chart workers start with the probes, not after them: their start (an
    # interpreter and matplotlib, about a second) is then over when the first chart is wanted.
    start_chart_worker(command_line_chart_workers())
    try:
        with live or contextlib.nullcontext():
            return await publish_run(
                checklist,
                store,
                surface,
                channel,
                phase=phase,
                trigger="cli",
                on_start=watch.started,
                on_result=progress,
            )
    finally:
        stop_chart_worker()  # its charts are drawn by now; after an error, none is wanted
        if console is not None:
            console.flush()
            if shown.verbose and isinstance(console.out, io.StringIO):
                shown.messages = console.out.getvalue()
            shown.charts = _charts_line(console.charts, console.folder, checklist.release.language)
        else:
            language = checklist.release.language
            shown.charts = catalogue.text(language, "console_charts_posted", channel=channel)


def _charts_line(written: list[Path], folder: Path, language: str) -> str | None:
    if not written:
        return None
    names = ", ".join(path.name for path in written)
    return catalogue.text(language, "console_charts_written", count=len(written), folder=folder, names=names)


def _settings() -> Settings:
    from .serve.settings import Settings

    try:
        return Settings.from_env()
    except ValueError as exc:  # a variable with a bad value: named, with the fix
        _fail(str(exc))


def _surface(checklist: Checklist, charts: Path) -> tuple[Surface, str, ConsoleSurface | None]:
    from .console import ConsoleSurface

    settings = _settings()
    channel = settings.channel or checklist.release.channel or "#golive"
    if settings.bot_token:
        from .slack.client import web_client
        from .slack.surface import SlackSurface

        return SlackSurface(web_client(settings.bot_token, settings.api_url)), channel, None
    console = ConsoleSurface(charts, io.StringIO(), language=checklist.release.language)
    return console, channel, console


@app.command()
def serve(
    checklist: ChecklistOption = None,
    db: DbOption = None,
) -> None:
    """The bot: Socket Mode with SLACK_APP_TOKEN, else HTTP on PORT (/slack/events, /healthz, /readyz,
    /metrics). Logs JSON lines on stderr; on SIGTERM lets the run in flight finish, then exits 0."""
    import asyncio
    import signal

    from ..checks.known_secrets import register_checklist_secrets
    from .serve.process import serve as run_server

    loaded = _checklist(checklist)
    settings = _settings()
    _configure_logging("INFO", db)
    register_checklist_secrets(loaded)

    async def work(store: Store) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_server(loaded, store, settings, stop)

    _with_store(db, work)


@app.command()
def status(
    checklist: ChecklistOption = None,
    format: Annotated[Format, typer.Option("--format", help="text or json.")] = Format.text,
    db: DbOption = None,
) -> None:
    """The latest stored state and the verdict, without probing. Without a checklist, that
    of the checklist the newest run used, as stored in the database."""
    from .render import json as render_json
    from .render import text as render_text

    state = _state_of(checklist, db)
    loaded = state.checklist
    if format == Format.json:
        _print_json(render_json.state_document(state))
        return
    for item in loaded.items():
        result = state.result(item)
        if result is None:
            out.print(render_text.not_run_line(state, item.id))
        else:
            out.print(render_text.progress_line(loaded, result))
    for signoff in state.verdict.signoffs:
        out.print(render_text.signoff_line(signoff, loaded.release.language))
    out.print()
    for line in render_text.summary(state) + render_text.verdict_lines(state):
        out.print(line)


@app.command()
def report(
    checklist: ChecklistOption = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="md (Markdown).")] = ReportFormat.md,
    db: DbOption = None,
) -> None:
    """The checklist filled in: ticks, statuses, evidence, sign-offs, notes. Without a
    checklist, that of the checklist the newest run used, as stored in the database."""
    from .render.report import render_markdown

    sys.stdout.write(render_markdown(_state_of(checklist, db)))


@app.command()
def diff(
    before: Annotated[int, typer.Argument(help="The earlier run's id.")],
    after: Annotated[int, typer.Argument(help="The later run's id.")],
    checklist: ChecklistOption = None,
    db: DbOption = None,
) -> None:
    """What changed between two runs. Without a checklist, that of the later run, as stored
    in the database; items its checklist added or removed are named."""
    from .core.diff import run_diff_from_store
    from .render.blocks import plain

    named = _named_checklist(checklist)
    loaded = _load(named) if named is not None else None
    messages = _with_store(db, lambda store: run_diff_from_store(store, before, after, loaded))
    for message in messages:
        sys.stdout.write(plain(message) + "\n")


@app.command()
def confirm(
    item: Annotated[str, typer.Argument(help="The manual item's id.")],
    by: ByOption,
    evidence: Annotated[str | None, typer.Option("--evidence", help="Link to the evidence.")] = None,
    comment: Annotated[str | None, typer.Option(help="A short comment.")] = None,
    checklist: ChecklistOption = None,
    db: DbOption = None,
) -> None:
    """Confirm a manual item (the Slack button does the same)."""
    from .core import usecases

    loaded = _checklist(checklist)
    _with_store(
        db,
        lambda store: usecases.confirm_item(
            loaded, store, item, user=by, evidence_url=evidence, comment=comment
        ),
        loaded.release.language,
    )
    out.print(catalogue.text(loaded.release.language, "cli_confirmed", item=item, user=by))


@app.command()
def signoff(
    role: Annotated[str, typer.Argument(help="The sign-off role's id.")],
    by: ByOption,
    revoke: Annotated[bool, typer.Option("--revoke", help="Withdraw your role's sign-off.")] = False,
    checklist: ChecklistOption = None,
    db: DbOption = None,
) -> None:
    """Sign a role off on the current results, or revoke it."""
    from .core import usecases

    loaded = _checklist(checklist)
    if revoke:
        _with_store(
            db, lambda store: usecases.revoke_sign_off(loaded, store, role, user=by), loaded.release.language
        )
        out.print(catalogue.text(loaded.release.language, "cli_revoked", role=role))
        return
    record = _with_store(
        db, lambda store: usecases.sign_off(loaded, store, role, user=by), loaded.release.language
    )
    out.print(
        catalogue.text(
            loaded.release.language,
            "cli_signed",
            role=role,
            user=by,
            run=record.run_id,
            fingerprint=record.fingerprint,
        )
    )


@app.command()
def waive(
    item: Annotated[str, typer.Argument(help="The item's id.")],
    days: Annotated[float, typer.Option(help="How long the waiver lasts.")],
    reason: Annotated[str, typer.Option(help="Why (a ticket, an explanation).")],
    by: ByOption,
    checklist: ChecklistOption = None,
    db: DbOption = None,
) -> None:
    """Waive a failing item for a number of days."""
    from .core import usecases

    loaded = _checklist(checklist)
    waiver = _with_store(
        db,
        lambda store: usecases.waive_item(loaded, store, item, days=days, reason=reason, user=by),
        loaded.release.language,
    )
    until = f"{waiver.expires_at:%Y-%m-%d %H:%M}"
    out.print(catalogue.text(loaded.release.language, "cli_waived", item=item, until=until))


@app.command()
def note(
    text: Annotated[str, typer.Argument(help="The note.")],
    by: ByOption,
    checklist: ChecklistOption = None,
    db: DbOption = None,
) -> None:
    """Add a note to the release's report."""
    from .core import usecases

    loaded = _checklist(checklist)
    _with_store(
        db, lambda store: usecases.add_note(loaded, store, user=by, text=text), loaded.release.language
    )
    out.print(catalogue.text(loaded.release.language, "cli_noted"))


@app.command()
def gate(
    url: Annotated[
        str | None,
        typer.Option("--url", help="A running golive, e.g. http://golive:3000 (token: $GOLIVE_API_TOKEN)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Verdict API token for --url; set GOLIVE_API_TOKEN rather than type it in a command.",
            envvar=API_TOKEN_VARIABLE,
        ),
    ] = None,
    db: DbOption = None,
    phase: Annotated[str | None, typer.Option(help="Wait for this phase only (its id).")] = None,
    timeout: Annotated[str, typer.Option(help="Give up after this long (e.g. 30m, 2h).")] = "30m",
    interval: Annotated[str, typer.Option(help="First pause between asks; backs off to 60s.")] = "5s",
    require_run_newer_than: Annotated[
        str | None, typer.Option(help="Refuse a GO resting on a run older than this (e.g. 15m).")
    ] = None,
) -> None:
    """Wait for GO, as a pipeline step: exit 0 on GO, 1 on NO-GO at the timeout, 2 on errors.
    Asks the verdict API with --url, else the database (--db)."""
    import asyncio

    from ..checks.durations import parse_duration
    from ..checks.secrets import redact
    from .gate import wait as gate_wait
    from .render import text as render_text

    try:
        give_up_after, first = parse_duration(timeout), parse_duration(interval)
        newer_than = parse_duration(require_run_newer_than) if require_run_newer_than else None
    except ValueError as exc:
        _fail(str(exc))
    _configure_logging("WARNING", db)

    def say(line: str) -> None:
        out.print(render_text.escape(redact(line)))

    code = asyncio.run(
        gate_wait.gate(
            url=url,
            token=token or None,
            db=db,
            phase=phase,
            say=say,
            give_up_after=give_up_after,
            interval=first,
            newer_than=newer_than,
        )
    )
    raise typer.Exit(code)


@app.command()
def schema() -> None:
    """Print the checklist's JSON Schema."""
    from ..checks.schema import checklist_schema

    _print_json(checklist_schema())


@app.command()
def docs() -> None:
    """Print the checklist authors' guide: every probe type (docs/checklist-authors.md)."""
    from .render import authordoc

    sys.stdout.write(authordoc.render())


def _version(value: bool) -> None:
    if value:
        out.print(f"golive {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    pass


def main() -> None:
    app()


if __name__ == "__main__":
    main()
