"""The store: one object the CLI and the bot hold for the process's lifetime.

    async with await Store.open() as store:           # $GOLIVE_DB_URL or ./golive.db
        release = await store.release_id("valeo-neuroerp", "1.1.0")

Opening migrates the schema to the newest revision, so an upgraded golive finds the
tables it expects. Methods are split by subject: runs and results in
:mod:`golive.storage.runs`, what people record in :mod:`golive.storage.approvals`,
golive's alert bookkeeping in :mod:`golive.storage.alerts`, the schedule's state in
:mod:`golive.storage.schedules`, leases
(leader election, live processes) in :mod:`golive.storage.leases`, the messages of
notifications until Slack has them in :mod:`golive.storage.outbox`, deploys held until
GO in :mod:`golive.storage.deployments`.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from sqlalchemy.exc import DBAPIError

from . import migrate
from .alerts import AlertStore
from .approvals import RecordStore
from .cards import CardStore
from .deployments import DeploymentStore
from .engine import app_engine, describe_failure
from .errors import StorageError
from .health import HealthStore
from .leases import LeaseStore
from .outbox import OutboxStore
from .runs import RunStore
from .schedules import ScheduleStore
from .urls import resolve


class Store(
    RunStore,
    RecordStore,
    AlertStore,
    HealthStore,
    ScheduleStore,
    LeaseStore,
    OutboxStore,
    DeploymentStore,
    CardStore,
):
    @classmethod
    async def open(cls, url: str | None = None) -> Store:
        """Connect and migrate; ``StorageError`` if the database cannot be used."""
        urls = resolve(url)
        try:
            # Alembic is blocking; a thread keeps the event loop (and Slack acks) free.
            await asyncio.to_thread(migrate.upgrade, urls)
        except (DBAPIError, migrate.MigrationFailed) as error:
            reason = describe_failure(error, urls.migrations)
            # Not chained: the driver's exception is summarised in the message, and a
            # traceback of it could show connection details.
            raise StorageError(f"cannot open the database {urls.display()}: {reason}") from None
        return cls(app_engine(urls), urls)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
