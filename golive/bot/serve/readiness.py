"""Readiness: can this process do its job right now?

``/healthz`` only says the process is alive (a restart would not help otherwise);
``/readyz`` says whether it should get traffic: the database answers, Slack is reachable
(HTTP mode: ``auth.test`` has succeeded once; Socket Mode: the socket is connected), and
the process is not shutting down. The answer names what is not ready, by name and state
only: the endpoint answers anyone, and a driver's error text may hold a host, a user or
worse. Why a check fails goes to the (redacted) log, once each time the reason changes::

    503 {"ready": false, "checks": {"database": "ok", "slack": "unavailable",
                                    "shutdown": "ok"}, "not_ready": ["slack"]}
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from ...storage import Store

log = structlog.get_logger(__name__)
OK = "ok"
UNAVAILABLE = "unavailable"
NOT_CONFIGURED = "not configured"
SHUTTING_DOWN = "shutting down"
#: Seconds the database has to answer. Kubernetes' probe (timeoutSeconds: 3 in
#: manifests/base) must get its answer before it gives up on its own.
DATABASE_TIMEOUT = 2.0


class SlackLink(Protocol):
    async def problem(self) -> str | None:
        """None when Slack is usable, else why not."""


@dataclass
class Readiness:
    store: Store | None = None
    slack: SlackLink | None = None
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)
    #: The last reason logged per check, so a probe every few seconds logs a change once.
    _logged: dict[str, str | None] = field(default_factory=dict)

    async def check(self) -> tuple[bool, dict[str, Any]]:
        problems = {
            "database": NOT_CONFIGURED if self.store is None else await self._database(),
            "slack": NOT_CONFIGURED if self.slack is None else await self.slack.problem(),
            "shutdown": SHUTTING_DOWN if self.shutting_down.is_set() else None,
        }
        checks = {name: self._state(name, problem) for name, problem in problems.items()}
        not_ready = [name for name, state in checks.items() if state not in (OK, NOT_CONFIGURED)]
        return not not_ready, {"ready": not not_ready, "checks": checks, "not_ready": not_ready}

    def _state(self, name: str, problem: str | None) -> str:
        """The state to answer; the reason, if it is news, to the log."""
        if problem in (NOT_CONFIGURED, SHUTTING_DOWN):
            return problem
        if self._logged.get(name) != problem:
            self._logged[name] = problem
            if problem is None:
                log.info("ready again", check=name)
            else:
                log.warning("not ready", check=name, reason=problem)
        return OK if problem is None else UNAVAILABLE

    async def _database(self) -> str | None:
        assert self.store is not None
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                await self.store.ping()
        except TimeoutError:
            return f"no answer within {DATABASE_TIMEOUT:g} s"
        except Exception as exc:  # whatever the driver raised: the probe must answer
            return str(exc) or type(exc).__name__
        return None
