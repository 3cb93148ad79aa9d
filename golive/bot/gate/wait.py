"""``golive gate``: wait until the release is GO, for a pipeline step.

The verdict comes from a running golive (its verdict API, ``--url``) or from the
database (``--db``). Polling starts at ``interval`` and backs off to ``max_interval``
while nothing changes; a line is printed whenever the decision, the blockers or the run
it rests on change. Exit codes: 0 GO, 1 not GO when the timeout is reached, 2 an error
that waiting will not cure (a wrong token, the API off, an unknown phase), or the
timeout reached while golive could not be asked at all.

A GO that rests on results older than ``newer_than`` (``--require-run-newer-than``) is
not taken: the step waits for a fresher run, since a deploy should not go out on
yesterday's evidence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ...errors import GoliveError
from ...storage import StorageError, Store
from ..core.errors import UserError
from .verdict import UnknownPhase, verdict_document

EXIT_GO, EXIT_NO_GO, EXIT_ERROR = 0, 1, 2
DEFAULT_TIMEOUT = timedelta(minutes=30)
DEFAULT_INTERVAL = timedelta(seconds=5)
MAX_INTERVAL = timedelta(seconds=60)
BACKOFF = 1.5
#: Blockers printed per change; the rest are counted.
BLOCKERS_SHOWN = 10


class GateError(GoliveError):
    """Waiting will not help: say so and exit 2."""


class Unavailable(GoliveError):
    """golive cannot be asked right now: keep trying until the timeout."""


Source = Callable[[], Awaitable[dict[str, Any]]]


def api_source(client: httpx.AsyncClient, url: str, token: str, phase: str | None) -> Source:
    """The verdict API at ``url`` (golive's base URL), asked with ``If-None-Match``."""
    endpoint = url.rstrip("/") + "/api/v1/verdict"
    params = {"phase": phase} if phase else {}
    last: dict[str, Any] = {}

    async def ask() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if "etag" in last:
            headers["If-None-Match"] = last["etag"]
        try:
            response = await client.get(endpoint, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"{endpoint} cannot be reached: {type(exc).__name__}") from None
        if response.status_code == 304 and "document" in last:
            document: dict[str, Any] = last["document"]
            return document
        if response.status_code == 200:
            document = response.json()
            last["document"] = document
            if response.headers.get("ETag"):
                last["etag"] = response.headers["ETag"]
            return document
        reason = _error_of(response)
        if response.status_code == 401:
            raise GateError(f"{endpoint} refused the token (401): check GOLIVE_API_TOKEN")
        if response.status_code == 404:
            raise GateError(
                f"{endpoint} answered 404: the verdict API is off; set GOLIVE_API_TOKENS "
                "or GOLIVE_API_TOKENS_FILE on golive serve"
            )
        if response.status_code == 400:
            raise GateError(f"{endpoint}: {reason}")
        raise Unavailable(f"{endpoint} answered {response.status_code}: {reason}")

    return ask


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    return str(body.get("error")) if isinstance(body, dict) else response.reason_phrase


def store_source(store: Store, phase: str | None) -> Source:
    """The verdict as decided from the database."""

    async def ask() -> dict[str, Any]:
        try:
            return await verdict_document(store, phase=phase)
        except UnknownPhase as exc:
            raise GateError(str(exc)) from None
        except UserError as exc:  # nothing stored yet
            raise Unavailable(str(exc)) from None
        except StorageError as exc:
            raise Unavailable(str(exc)) from None

    return ask


@dataclass(frozen=True)
class Reading:
    go: bool
    decision: str
    run_id: int | None
    blockers: tuple[str, ...]

    def line(self, release: str) -> str:
        run = f"run #{self.run_id}" if self.run_id is not None else "no run yet"
        head = f"{release}: {self.decision} ({run})"
        if self.go or not self.blockers:
            return head
        shown = list(self.blockers[:BLOCKERS_SHOWN])
        if len(self.blockers) > BLOCKERS_SHOWN:
            shown.append(f"… and {len(self.blockers) - BLOCKERS_SHOWN} more")
        return head + "\n" + "\n".join(f"  blocked by {b}" for b in shown)


def read(document: dict[str, Any], now: datetime, newer_than: timedelta | None) -> Reading:
    """What a document says for the gate: GO only when the verdict is GO and, with
    ``newer_than``, the run it rests on finished (or started) within that time."""
    verdict = document["verdict"]
    blockers = [f"{b['subject']} ({b['status']}): {b['reason']}" for b in verdict["blockers"]]
    go = bool(verdict["go"])
    decision = str(verdict["decision"])
    if go and newer_than is not None:
        rests_on = document.get("finished_at") or document.get("started_at")
        at = datetime.fromisoformat(rests_on) if rests_on else None
        if at is None or now - at > newer_than:
            go, decision = False, "GO on old results"
            when = f"{at:%Y-%m-%d %H:%M:%S %Z}".strip() if at else "never"
            limit = int(newer_than.total_seconds())
            blockers.append(
                f"the newest run finished {when}, more than {limit}s ago "
                "(--require-run-newer-than): run the checklist again"
            )
    return Reading(go, decision, document.get("run_id"), tuple(blockers))


async def wait_for_go(
    source: Source,
    *,
    say: Callable[[str], None],
    give_up_after: timedelta = DEFAULT_TIMEOUT,
    interval: timedelta = DEFAULT_INTERVAL,
    max_interval: timedelta = MAX_INTERVAL,
    newer_than: timedelta | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Ask ``source`` until GO or ``give_up_after``; the exit code."""
    deadline = clock() + give_up_after.total_seconds()
    pause = interval.total_seconds()
    shown: Reading | None = None
    problem: str | None = None
    while True:
        try:
            document = await source()
        except GateError as exc:
            say(f"error: {exc}")
            return EXIT_ERROR
        except Unavailable as exc:
            if str(exc) != problem:
                say(f"waiting: {exc}")
            problem = str(exc)
        else:
            problem = None
            reading = read(document, now(), newer_than)
            if reading != shown:
                release = document.get("release") or {}
                say(reading.line(f"{release.get('name')} {release.get('version')}"))
                shown = reading
                pause = interval.total_seconds()  # a change: look again soon
            if reading.go:
                return EXIT_GO
        left = deadline - clock()
        if left <= 0:
            waited = _duration(give_up_after)
            if shown is None:
                say(f"error: no verdict within {waited}: {problem}")
                return EXIT_ERROR
            say(f"not GO after {waited}: {shown.decision}")
            return EXIT_NO_GO
        await asyncio.sleep(min(pause, left))
        pause = min(pause * BACKOFF, max_interval.total_seconds())


def _duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    return f"{seconds:g}s" if seconds < 120 else f"{seconds / 60:g} minutes"


async def gate(
    *,
    url: str | None,
    token: str | None,
    db: str | None,
    phase: str | None,
    say: Callable[[str], None],
    give_up_after: timedelta,
    interval: timedelta,
    newer_than: timedelta | None,
) -> int:
    """``golive gate``'s whole work: ask the API at ``url`` or else the database ``db``."""
    if url is not None:
        if not token:
            say("error: --url needs a token: set GOLIVE_API_TOKEN")
            return EXIT_ERROR
        async with httpx.AsyncClient(timeout=15) as client:
            source = api_source(client, url, token, phase)
            return await wait_for_go(
                source, say=say, give_up_after=give_up_after, interval=interval, newer_than=newer_than
            )
    try:
        store = await Store.open(db)
    except StorageError as exc:
        say(f"error: {exc}")
        return EXIT_ERROR
    try:
        return await wait_for_go(
            store_source(store, phase),
            say=say,
            give_up_after=give_up_after,
            interval=interval,
            newer_than=newer_than,
        )
    finally:
        await store.close()
