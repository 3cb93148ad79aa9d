"""Logs: one JSON object per line on stderr, secrets masked, for golive and its libraries.

:func:`configure_logging` routes structlog (golive's own lines) and the standard
library's ``logging`` (Bolt, slack_sdk, aiohttp, SQLAlchemy, httpx) through one
formatter, so every line has the same shape::

    {"event": "run completed", "run_id": 42, "level": "info", "logger": "golive.bot.core.progress",
     "timestamp": "2026-03-02T09:00:00.123456Z", "verdict": "NO-GO", ...}

Values bound with ``structlog.contextvars`` (the run id, while a run is in flight) are
added to every line logged in that context, the libraries' lines included.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

from ...checks.secret_names import is_secret_field
from ...checks.secrets import REDACTOR
from ...settings import load_settings, text_of
from ...storage import StorageError
from ...storage.urls import passwords, resolve

LEVEL_ENV = "GOLIVE_LOG_LEVEL"
MASK = "[REDACTED]"
#: Environment variables holding secrets the process itself uses (not the checklist's,
#: which are registered with the redactor when a probe reads them).
PROCESS_SECRETS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "PGPASSWORD")
#: Libraries that log a line per request (or per scheduled job) at INFO: every probe, every
#: health check or scrape and every round of the verdict watch would drown the lines that
#: matter. Their warnings still show; DEBUG shows all.
CHATTY = ("httpx", "httpcore", "aiohttp.access", "apscheduler.executors")


def _masked(key: Any, value: Any) -> Any:
    if isinstance(key, str) and is_secret_field(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return REDACTOR.redact(value)
    if isinstance(value, Mapping):
        return {k: _masked(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_masked(None, v) for v in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: every string through the redactor, sensitive keys masked."""
    return {key: _masked(key, value) for key, value in event_dict.items()}


class _Stderr:
    """``sys.stderr`` as it is when a line is written, not when logging was configured:
    typer's test runner (and pytest) swap it, and a handler holding the old one would
    write to a closed stream."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _unknown(value: Any) -> str:
    """Objects JSON cannot encode are written as their repr, redacted like any string."""
    return str(REDACTOR.redact(repr(value)))


def register_process_secrets(db_url: str | None = None) -> None:
    """Tell the redactor about the secrets golive itself holds: Slack tokens, the signing
    secret, the database password. From then on no log line shows them."""
    settings = load_settings()
    for name in PROCESS_SECRETS:
        value = text_of(settings, name)
        if value:
            REDACTOR.register(value)
    with contextlib.suppress(StorageError):
        for password in passwords(resolve(db_url).app):
            REDACTOR.register(password)


def _level(name: str) -> int:
    level = logging.getLevelName(name.upper())
    if not isinstance(level, int):
        raise ValueError(f"{LEVEL_ENV}={name!r} is not a log level; use DEBUG, INFO, WARNING or ERROR")
    return level


def configure_logging(
    *, default_level: str = "INFO", stream: TextIO | None = None, db_url: str | None = None
) -> None:
    """JSON lines on ``stream`` (stderr) at ``$GOLIVE_LOG_LEVEL``, else ``default_level``.

    Replaces the root logger's handlers: after this, one formatter writes every line.
    """
    level = _level(load_settings().log_level or default_level)
    register_process_secrets(db_url)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Loggers made at import time must pick up this configuration, not an earlier one.
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become a string first, so the redactor sees them too.
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.processors.JSONRenderer(ensure_ascii=False, default=_unknown),
        ],
    )
    handler = logging.StreamHandler(stream or _Stderr())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.NOTSET if level <= logging.DEBUG else logging.WARNING)
    logging.captureWarnings(True)
