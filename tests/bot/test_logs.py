"""The logging configuration: one JSON object per line for golive's and the libraries'
lines alike, the context's run id on each, and no secret in any of them: registered
secrets redacted wherever they occur (messages, fields, tracebacks, reprs), values of
secret-looking keys masked."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from golive.bot.ops.logs import configure_logging
from golive.checks.secrets import REDACTOR

SECRET = "s3cr3t-f0r-l0g-test-5e1d"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """configure_logging into a buffer; the root logger and structlog restored after."""
    monkeypatch.delenv("GOLIVE_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_structlog_and_stdlib_lines_are_json_with_the_context(captured: io.StringIO) -> None:
    tokens = structlog.contextvars.bind_contextvars(run_id=7)
    structlog.get_logger("golive.test").info("run started", trigger="cli")
    logging.getLogger("slack_sdk.web").warning("retrying %s", "chat.update")
    structlog.contextvars.reset_contextvars(**tokens)
    logging.getLogger("aiohttp.server").error("outside any run")
    logging.getLogger("httpx").info("HTTP Request: GET …")  # chatty at INFO: dropped
    first, second, third = lines(captured)
    assert first["event"] == "run started" and first["trigger"] == "cli" and first["run_id"] == 7
    assert (second["event"], second["logger"], second["level"], second["run_id"]) == (
        "retrying chat.update",
        "slack_sdk.web",
        "warning",
        7,
    )
    assert "run_id" not in third and third["level"] == "error"
    assert all(line["timestamp"].endswith("Z") for line in (first, second, third))


def test_registered_secrets_never_reach_a_line(captured: io.StringIO) -> None:
    REDACTOR.register(SECRET)

    class Holder:
        def __repr__(self) -> str:
            return f"Holder({SECRET})"

    log = structlog.get_logger("golive.test")
    log.info(f"message with {SECRET}", url=f"https://x/?q={SECRET}", nested={"list": [SECRET]}, obj=Holder())
    logging.getLogger("bolt").info("stdlib %s", SECRET, extra={"detail": SECRET})
    try:
        raise RuntimeError(f"failed with {SECRET}")
    except RuntimeError:
        log.exception("structlog traceback")
        logging.getLogger("bolt").exception("stdlib traceback")
    text = captured.getvalue()
    assert SECRET not in text
    records = lines(captured)
    assert len(records) == 4
    assert records[0]["event"] == "message with [REDACTED]"
    assert records[0]["nested"] == {"list": ["[REDACTED]"]} and records[0]["obj"] == "Holder([REDACTED])"
    assert records[1]["detail"] == "[REDACTED]"
    assert all("RuntimeError: failed with [REDACTED]" in r["exception"] for r in records[2:])


def test_values_of_secret_looking_keys_are_masked(captured: io.StringIO) -> None:
    structlog.get_logger("golive.test").info(
        "request",
        bot_token="xoxb-1-2-3",
        headers={"Authorization": "Bearer abc", "Accept": "json"},
        db={"password": "hunter22", "host": "db"},
        api_key=None,
    )
    logging.getLogger("aiohttp.client").warning("sent", extra={"client_secret": "abc123"})
    first, second = lines(captured)
    assert first["bot_token"] == "[REDACTED]"
    assert first["headers"] == {"Authorization": "[REDACTED]", "Accept": "json"}
    assert first["db"] == {"password": "[REDACTED]", "host": "db"}
    assert first["api_key"] is None, "nothing to hide"
    assert second["client_secret"] == "[REDACTED]"


def test_the_process_own_secrets_are_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    bot_token, db_password = "xoxb-own-token-7a1c0f", "db-pa55-93be"
    monkeypatch.setenv("SLACK_BOT_TOKEN", bot_token)
    monkeypatch.delenv("GOLIVE_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging(stream=stream, db_url=f"postgresql://golive:{db_password}@db/golive")
        logging.getLogger("sqlalchemy").warning("connect %s with %s", db_password, bot_token)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.captureWarnings(False)
        structlog.reset_defaults()
    assert lines(stream)[0]["event"] == "connect [REDACTED] with [REDACTED]"


def test_log_level_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_LOG_LEVEL", "LOUD")
    with pytest.raises(ValueError, match="GOLIVE_LOG_LEVEL='LOUD' is not a log level"):
        configure_logging(stream=io.StringIO())
