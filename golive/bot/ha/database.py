"""One leader among the replicas: the one that runs the schedule and the rollback watch.

Every ``golive serve`` process takes part. Each holds a lease on a shared backend, the
database (:class:`DatabaseLease`, the default) or a Kubernetes Lease
(:mod:`golive.bot.ha.kubernetes`), and renews it every third of its duration. The one that
holds it leads; the others ask again when it would lapse, so when the leader dies another
takes over within one lease duration of its last renewal. A leader that shuts down
releases the lease, and the next one takes over at once.

A leader that cannot renew (the backend is unreachable) steps down before its lease can
lapse by its own clock, a retry interval early: two leaders never run at once as long as
the replicas' clocks run at the same pace (they need not agree on the time).

Leadership decides who *does* the work; it is not what keeps it from happening twice.
Every scheduled slot and every notification is also claimed in the database
(``Store.claim_schedule_slot``, ``Store.claim_notification``), so a leader that was paused
past its lease and wakes up still cannot repeat what its successor did. Nor does it act
or report leading meanwhile: :meth:`LeaderElection.still_leading` checks the lease's
deadline by this process's monotonic clock, which runs on while the process is stopped,
before every claim and message of the leader's work and at every scrape of
``golive_leader``.

Besides the leader lease, each process renews a lease of its own, ``replica:<holder>``, in
the database: runs carry the holder that started them, and a run whose holder's lease has
lapsed was left by a dead process (see ``Store.abort_orphaned_runs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from ...errors import GoliveError
from ...settings import DEFAULT_LEASE, MIN_LEASE, load_settings
from ...storage import LeaseState, StorageError, Store
from ..ops.metrics import METRICS

log = logging.getLogger(__name__)

LEADER_LEASE = "golive-leader"
DEFAULT_DURATION = DEFAULT_LEASE
#: Shortest lease: renewals (a third of it) must fit a slow database round trip.
MIN_DURATION = MIN_LEASE
#: Seconds giving the leases up may take at shutdown.
RESIGN_WAIT = 1.0


def replica_lease(holder: str) -> str:
    return f"replica:{holder}"


def new_holder() -> str:
    """This process's name in leases and runs: host (the pod's name on Kubernetes), pid,
    and a random part, since a restarted pod keeps its name and may reuse a pid."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def lease_duration() -> timedelta:
    """``GOLIVE_LEASE_SECONDS`` (default 15); SettingsError (a ValueError) names a bad value."""
    return load_settings().lease


class LeaseBackend(Protocol):
    """Where the leader lease lives. Both calls are atomic on the backend: of two
    replicas asking at once, at most one holds the lease afterwards."""

    #: For logs and ``/golive schedule``: "database", "Kubernetes Lease golive/golive-leader".
    description: str

    async def acquire(self, holder: str, duration: timedelta) -> LeaseState:
        """Take the lease for ``holder`` if it is free or has lapsed, renew it if ``holder``
        holds it; either way, the lease as it stands afterwards (``held_by(holder)`` tells
        whether ``holder`` leads). A backend failure raises :class:`LeaseUnavailable`
        (the database's raises ``StorageError``)."""
        ...

    async def release(self, holder: str) -> None:
        """Give the lease up if ``holder`` holds it, so that another takes over at once."""
        ...


@dataclass
class DatabaseLease:
    """The lease as a row of the shared database (PostgreSQL for several replicas)."""

    store: Store
    name: str = LEADER_LEASE
    description: str = "database"

    async def acquire(self, holder: str, duration: timedelta) -> LeaseState:
        return await self.store.acquire_lease(self.name, holder, duration)

    async def release(self, holder: str) -> None:
        await self.store.release_lease(self.name, holder)


Hook = Callable[[int], Awaitable[None]]


class LeaseUnavailable(GoliveError):
    """The backend could not answer (unreachable, refused, malformed); the message says
    which and why, without credentials."""


@dataclass
class LeaderElection:
    """Runs until stopped: renews this process's replica lease, and takes, keeps or loses
    the leader lease, calling ``on_elected(term)`` and ``on_deposed()`` as it changes.

    The hooks run inside the loop, so a lease is not renewed while one runs: keep them
    short (start or stop jobs, not run them).
    """

    store: Store
    backend: LeaseBackend
    holder: str
    duration: timedelta
    on_elected: Hook
    on_deposed: Callable[[], Awaitable[None]]
    #: Called after each renewal while leading (housekeeping only the leader does).
    on_renewed: Callable[[], Awaitable[None]] | None = None
    leading: bool = field(default=False, init=False)
    term: int | None = field(default=None, init=False)
    #: The lease as the backend last answered (who leads, by this replica's last look).
    seen: LeaseState | None = field(default=None, init=False)
    #: monotonic time by which leadership ends unless renewed
    _deadline: float = field(default=0.0, init=False)

    @property
    def renew_every(self) -> float:
        return self.duration.total_seconds() / 3

    @property
    def retry_every(self) -> float:
        """How often a follower, or a leader that failed to renew, asks again."""
        return self.duration.total_seconds() / 10

    def still_leading(self) -> bool:
        """Leading, and the lease stands by this replica's clock right now.

        ``leading`` alone is what the last round saw: a process paused past its lease
        (SIGSTOP, a stalled VM) wakes with it still set while another replica leads, and
        its tasks may run before the election's next round. Every side effect of leading,
        and ``golive_leader``, asks this instead."""
        return self.leading and time.monotonic() < self._deadline

    async def run(self, stop: asyncio.Event) -> None:
        # Read at each scrape: two replicas never report leading at once.
        METRICS.leader.set_function(lambda: 1.0 if self.still_leading() else 0.0)
        try:
            while not stop.is_set():
                try:
                    wait = await self.step()
                except Exception:  # a bug or an unforeseen failure: log it, stay in the race
                    log.exception("leader election round failed")
                    if self.leading:
                        await self._step_down()
                    wait = self.retry_every
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            await self.resign()

    async def step(self) -> float:
        """One round: renew, take or lose the lease. The seconds until the next round."""
        asked_at = time.monotonic()
        try:
            # Bounded as a whole: a database that hangs must not keep a leader leading
            # past its deadline.
            state = await asyncio.wait_for(self._renew_both(), self.renew_every)
        except (StorageError, LeaseUnavailable, TimeoutError) as exc:
            # The backend cannot say; the lease still stands until its deadline.
            log.warning("leader lease on the %s not renewed: %s", self.backend.description, exc)
            if self.leading and time.monotonic() + self.retry_every >= self._deadline:
                log.warning("stepping down: the lease may lapse before it can be renewed")
                await self._step_down()
            return self.retry_every
        self.seen = state
        if state.held_by(self.holder):
            # Counted from before the request: the backend's lapse comes later than this.
            self._deadline = asked_at + self.duration.total_seconds() - self.retry_every
            if self.leading and self.term != state.term:
                await self._step_down()  # another led in between: start afresh
            if not self.leading:
                self.leading, self.term = True, state.term
                METRICS.leader.set(1)
                log.info("elected leader (term %s) on the %s", state.term, self.backend.description)
                try:
                    await self.on_elected(state.term)
                except StorageError as exc:
                    log.warning("could not take up leading (%s); trying again", exc)
                    await self._step_down()
                    return self.retry_every
            elif self.on_renewed is not None:
                await self._quietly(self.on_renewed)
            return self.renew_every
        if self.leading:
            log.warning("lost the leader lease to %s", state.holder)
            await self._step_down()
        # Ask again when the holder's lease would lapse, or sooner.
        return max(0.05, min(self.retry_every * 3, state.expires_in.total_seconds() + 0.05))

    async def _renew_both(self) -> LeaseState:
        await self.store.acquire_lease(replica_lease(self.holder), self.holder, self.duration)
        return await self.backend.acquire(self.holder, self.duration)

    @staticmethod
    async def _quietly(work: Callable[[], Awaitable[None]]) -> None:
        """Housekeeping that fails (the database hiccups) is tried again next round; it
        must not end the election loop."""
        try:
            await work()
        except StorageError as exc:
            log.warning("leader housekeeping failed: %s", exc)

    def leader(self) -> str | None:
        """Who leads, as far as this replica knows (its last look at the lease)."""
        if self.still_leading():
            return self.holder
        if self.seen is not None and self.seen.holder and self.seen.expires_in > timedelta(0):
            return self.seen.holder
        return None

    async def _step_down(self) -> None:
        self.leading, self.term = False, None
        METRICS.leader.set(0)
        await self.on_deposed()

    async def resign(self) -> None:
        """Stop leading and give the leases up (shutdown): the next leader need not wait."""
        if self.leading:
            await self._step_down()
        # Bounded: a shutdown must fit its grace; an unreleased lease only lapses later.
        wait = min(self.renew_every, RESIGN_WAIT / 2)
        with contextlib.suppress(StorageError, LeaseUnavailable, TimeoutError):
            await asyncio.wait_for(self.backend.release(self.holder), wait)
        with contextlib.suppress(StorageError, TimeoutError):
            await asyncio.wait_for(self.store.release_lease(replica_lease(self.holder), self.holder), wait)


@asynccontextmanager
async def presence(store: Store, holder: str, duration: timedelta) -> AsyncIterator[None]:
    """Keep ``holder``'s replica lease while the block runs, so that no ``golive serve``
    takes the runs it starts for orphans (the CLI's ``golive run`` uses this)."""
    stop = asyncio.Event()

    async def renew() -> None:
        while not stop.is_set():
            try:
                await store.acquire_lease(replica_lease(holder), holder, duration)
            except StorageError as exc:
                log.warning("replica lease not renewed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration.total_seconds() / 3)

    await store.acquire_lease(replica_lease(holder), holder, duration)
    task = asyncio.create_task(renew())
    try:
        yield
    finally:
        stop.set()
        await task
        with contextlib.suppress(StorageError):
            await store.release_lease(replica_lease(holder), holder)
