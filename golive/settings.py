"""Every environment variable golive reads, in one model: its type, its default, and a
load error that names the variable.

    settings = load_settings()          # from the process environment
    settings.lease                      # timedelta(seconds=15) unless GOLIVE_LEASE_SECONDS says

An empty variable counts as unset (``GOLIVE_CHANNEL=`` is no channel), as a shell's
``VAR= golive serve`` means. Secrets are ``SecretStr``: their values never appear in a
load error or a repr. ``docs/operators.md`` lists the variables from this model
(``golive operators-doc``); a test keeps it current.

This module imports no other part of golive, so that the bot, storage and the checks'
clients may all read it.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DB_URL = "sqlite:///golive.db"
DEFAULT_LEASE = timedelta(seconds=15)
MIN_LEASE = timedelta(seconds=1)
DEFAULT_VERDICT_INTERVAL = timedelta(seconds=30)
DEFAULT_SHUTDOWN_GRACE = 25.0
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_GITHUB_WAIT = "1h"
ELECTIONS = ("database", "kubernetes")


class SettingsError(ValueError):
    """A variable golive cannot use: the message names it, and what to set instead."""


def _env(name: str, description: str) -> dict[str, Any]:
    """Field arguments for the variable ``name`` (read exactly so spelled)."""
    return {"validation_alias": AliasChoices(name), "description": description}


class Settings(BaseSettings):
    """The process's settings from the environment, grouped as the operators' guide shows them."""

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, extra="ignore", frozen=True)

    # -- what to check, where to store it
    checklist: Path | None = Field(
        None,
        **_env(
            "GOLIVE_CHECKLIST", "The checklist YAML, when `--checklist` is not given (the image bundles one)."
        ),
    )
    db_url: SecretStr | None = Field(
        None,
        **_env(
            "GOLIVE_DB_URL",
            f"Database URL, when `--db` is not given (default `{DEFAULT_DB_URL}`): SQLite or PostgreSQL.",
        ),
    )
    pg_password: SecretStr | None = Field(
        None,
        **_env("PGPASSWORD", "PostgreSQL password, read by the driver; golive masks it in logs."),
    )
    charts_dir: Path = Field(
        Path("golive-out"),
        **_env(
            "GOLIVE_CHARTS_DIR",
            "Where charts go when there is no Slack token (`golive run`, and `golive serve` headless).",
        ),
    )
    log_level: str | None = Field(
        None,
        **_env(
            "GOLIVE_LOG_LEVEL",
            "Log level: DEBUG, INFO, WARNING or ERROR (default INFO for serve, else WARNING).",
        ),
    )

    # -- Slack
    slack_bot_token: SecretStr | None = Field(
        None, **_env("SLACK_BOT_TOKEN", "Bot token (xoxb-…); without it `golive serve` runs headless.")
    )
    slack_signing_secret: SecretStr | None = Field(
        None, **_env("SLACK_SIGNING_SECRET", "Signing secret: checks the requests Slack sends over HTTP.")
    )
    slack_app_token: SecretStr | None = Field(
        None, **_env("SLACK_APP_TOKEN", "App-level token (xapp-…): Socket Mode instead of HTTP requests.")
    )
    slack_api_url: str = Field(
        DEFAULT_SLACK_API_URL, **_env("SLACK_API_URL", "Slack Web API base URL (a test server's, say).")
    )
    channel: str | None = Field(
        None, **_env("GOLIVE_CHANNEL", "The release channel (default: the checklist's `release.channel`).")
    )
    slack_allowed_teams: str | None = Field(
        None,
        **_env(
            "GOLIVE_SLACK_ALLOWED_TEAMS",
            "Enterprise Grid: further workspace (T…) or organisation (E…) ids served, comma-separated; "
            "the bot token's own workspace is always served, any other refused with 403.",
        ),
    )

    # -- the HTTP server
    host: str = Field("0.0.0.0", **_env("HOST", "Address `golive serve` listens on."))  # noqa: S104
    port: int = Field(3000, **_env("PORT", "Port `golive serve` listens on (health, metrics, Slack, API)."))
    shutdown_grace: float = Field(
        DEFAULT_SHUTDOWN_GRACE,
        **_env(
            "GOLIVE_SHUTDOWN_GRACE",
            "Seconds a run in flight may take to finish after SIGTERM (0 to under 3600).",
        ),
    )

    # -- several replicas
    leader_election: Literal["database", "kubernetes"] = Field(
        "database", **_env("GOLIVE_LEADER_ELECTION", "Where the leader lease lives: database or kubernetes.")
    )
    lease: timedelta = Field(
        DEFAULT_LEASE,
        **_env(
            "GOLIVE_LEASE_SECONDS",
            "Seconds the leader lease and each process's lease stand unrenewed (at least 1).",
        ),
    )
    lease_namespace: str | None = Field(
        None,
        **_env("GOLIVE_LEASE_NAMESPACE", "Namespace of the Kubernetes Lease (default: the pod's)."),
    )
    lease_name: str | None = Field(
        None, **_env("GOLIVE_LEASE_NAME", "Name of the Kubernetes Lease (default golive-leader).")
    )
    lease_context: str | None = Field(
        None, **_env("GOLIVE_LEASE_CONTEXT", "kubeconfig context for the Lease, outside a pod.")
    )
    verdict_interval: timedelta = Field(
        DEFAULT_VERDICT_INTERVAL,
        **_env(
            "GOLIVE_VERDICT_SECONDS",
            "Seconds between the leader's verdict re-evaluations, so that an expiring sign-off or waiver, "
            "or stale evidence, withdraws GO without waiting for a run (at least 1).",
        ),
    )
    kubeconfig: str | None = Field(
        None, **_env("KUBECONFIG", "kubeconfig path(s) outside a pod (default ~/.kube/config).")
    )
    kubernetes_service_host: str | None = Field(
        None, **_env("KUBERNETES_SERVICE_HOST", "Set by Kubernetes in a pod: the in-cluster config is used.")
    )

    # -- the verdict API and the deploy gate
    api_token: SecretStr | None = Field(
        None, **_env("GOLIVE_API_TOKEN", "Token `golive gate --url` sends to the verdict API.")
    )
    api_tokens: SecretStr | None = Field(
        None,
        **_env(
            "GOLIVE_API_TOKENS",
            "Verdict API tokens, name=token, comma-separated (unset, with no file: the API is off).",
        ),
    )
    api_tokens_file: Path | None = Field(
        None, **_env("GOLIVE_API_TOKENS_FILE", "File of name=token lines, re-read when it changes.")
    )
    github_app_id: str | None = Field(
        None, **_env("GOLIVE_GITHUB_APP_ID", "GitHub App for deployment protection rules (unset: none).")
    )
    github_private_key_file: Path | None = Field(
        None, **_env("GOLIVE_GITHUB_PRIVATE_KEY_FILE", "The App's PEM private key (needed with the App id).")
    )
    github_webhook_secret: SecretStr | None = Field(
        None, **_env("GOLIVE_GITHUB_WEBHOOK_SECRET", "The App's webhook secret (or the file below).")
    )
    github_webhook_secret_file: Path | None = Field(
        None, **_env("GOLIVE_GITHUB_WEBHOOK_SECRET_FILE", "File holding the App's webhook secret.")
    )
    github_wait: str = Field(
        DEFAULT_GITHUB_WAIT,
        **_env("GOLIVE_GITHUB_WAIT", "How long a deployment waits for GO before it is rejected (e.g. 1h)."),
    )
    github_api_url: str = Field(
        DEFAULT_GITHUB_API_URL, **_env("GOLIVE_GITHUB_API_URL", "GitHub API base URL (GitHub Enterprise's).")
    )

    @field_validator("slack_api_url")
    @classmethod
    def _with_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("slack_allowed_teams")
    @classmethod
    def _teams(cls, value: str | None) -> str | None:
        if value is not None:
            wrong = [t for t in team_ids(value) if not re.fullmatch(r"[TE][A-Z0-9]+", t)]
            if wrong:
                raise ValueError(
                    f"{wrong[0]!r} is not a workspace (T…) or organisation (E…) id; e.g. T0123,T0456"
                )
        return value

    @field_validator("leader_election", mode="before")
    @classmethod
    def _election(cls, value: object) -> object:
        if isinstance(value, str) and value not in ELECTIONS:
            raise ValueError(f"is not one of {', '.join(ELECTIONS)} (default: database)")
        return value

    @field_validator("github_api_url")
    @classmethod
    def _without_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str | None) -> str | None:
        if value is not None and not isinstance(logging.getLevelName(value.upper()), int):
            raise ValueError("is not a log level; use DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator("lease", mode="before")
    @classmethod
    def _lease(cls, value: object) -> object:
        return _seconds(value, example="15")

    @field_validator("verdict_interval", mode="before")
    @classmethod
    def _verdict(cls, value: object) -> object:
        return _seconds(value, example="30")

    @field_validator("shutdown_grace", mode="before")
    @classmethod
    def _grace(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
            if not 0 <= seconds < 3600:
                raise ValueError("give the seconds a run may take to finish, e.g. 25")
            return seconds
        return value

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise ValueError("is not a port number (e.g. 3000)") from None
        return value


def team_ids(value: str | None) -> tuple[str, ...]:
    """The ids in ``GOLIVE_SLACK_ALLOWED_TEAMS``: comma-separated, blanks ignored."""
    return tuple(t.strip() for t in (value or "").split(",") if t.strip())


def _seconds(value: object, *, example: str) -> object:
    """A number of seconds, at least one, from the environment's text."""
    if not isinstance(value, str):
        return value
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"is not a number of seconds (e.g. {example})") from None
    if seconds < MIN_LEASE.total_seconds():
        raise ValueError("is too short; give at least 1 second")
    return timedelta(seconds=seconds)


def variable(field: str) -> str:
    """The environment variable behind a field of :class:`Settings`."""
    alias = Settings.model_fields[field].validation_alias
    assert isinstance(alias, AliasChoices)
    return str(alias.choices[0])


def field_for(name: str) -> str:
    """The field of :class:`Settings` that reads the environment variable ``name``."""
    return next(f for f in Settings.model_fields if variable(f) == name)


def text_of(settings: Settings, name: str) -> str | None:
    """The value of the variable ``name`` as text (a secret revealed), None when unset."""
    value = getattr(settings, field_for(name))
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def load_settings() -> Settings:
    """The settings in the environment; :class:`SettingsError` names a bad variable, its
    value (never a secret's) and what to give instead."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError("; ".join(_described(error) for error in exc.errors())) from None


def as_environment(settings: Settings) -> dict[str, str]:
    """The variables that are set (or have a default), as checked by the model, in their
    text form: for readers that take a mapping of variables (the deploy gate's, which
    tests give one of their own)."""
    variables = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        variables[variable(name)] = str(value)
    return variables


def _described(error: object) -> str:
    assert isinstance(error, dict)
    name = str(error["loc"][0]) if error.get("loc") else "environment"
    fields = [f for f in Settings.model_fields if variable(f) == name]
    secret = bool(fields) and _is_secret(Settings.model_fields[fields[0]])
    shown = name if secret else f"{name}={error.get('input')!r}"
    context = error.get("ctx") or {}
    message = str(context["error"]) if "error" in context else str(error["msg"])
    return f"{shown} {message}" if message.startswith("is ") else f"{shown}: {message}"


def _is_secret(info: FieldInfo) -> bool:
    return "SecretStr" in str(info.annotation)


def operators_table() -> str:
    """The Markdown table of every variable, as ``docs/operators.md`` shows it."""
    lines = ["| Variable | Type | Default | What it sets |", "| --- | --- | --- | --- |"]
    for field, info in Settings.model_fields.items():
        lines.append(f"| `{variable(field)}` | {_type_name(info)} | {_default(info)} | {info.description} |")
    return "\n".join(lines) + "\n"


_TYPE_NAMES = {"Path": "path", "str": "text", "int": "integer", "float": "seconds", "timedelta": "seconds"}


DOC_BEGIN = "<!-- settings: generated by python -m golive.settings docs/operators.md -->"
DOC_END = "<!-- end of settings -->"


def with_table(document: str) -> str:
    """``document`` with the text between the settings markers replaced by the current table."""
    head, begin, rest = document.partition(DOC_BEGIN)
    _, end, tail = rest.partition(DOC_END)
    if not begin or not end:
        raise ValueError(f"the document has no section between {DOC_BEGIN} and {DOC_END}")
    return f"{head}{DOC_BEGIN}\n{operators_table()}{DOC_END}{tail}"


def _type_name(info: FieldInfo) -> str:
    text = str(info.annotation).replace(" | None", "")
    choices = re.findall(r"'([a-z]+)'", text) if "Literal" in text else []
    if choices:
        return " \\| ".join(choices)
    text = re.sub(r"<class '(?:[a-z_.]+\.)?(\w+)'>|(?:[a-z_]+\.)+(\w+)", lambda m: m[1] or m[2], text)
    return "secret" if "SecretStr" in text else _TYPE_NAMES.get(text, text)


def _default(info: FieldInfo) -> str:
    value = info.default
    if value is None:
        return "unset"
    if isinstance(value, timedelta):
        return f"`{value.total_seconds():g}`"
    return f"`{value}`"


if __name__ == "__main__":  # python -m golive.settings docs/operators.md: rewrite its table
    import sys

    target = Path(sys.argv[1])
    target.write_text(with_table(target.read_text(encoding="utf-8")), encoding="utf-8")
