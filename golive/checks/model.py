"""The checklist as code: the pydantic model of the checklist YAML.

Validated with a :class:`Binder` as the validation context (what :mod:`golive.checks.loader`
passes), every item comes out complete in the same pass: its ``${VAR}`` references
interpolated, its ``probe:`` mapping validated against its probe type's config model, its
conditions parsed, its place in the checklist known. Without a binder the models validate
the YAML's shape only (the JSON Schema, and nothing else, needs that).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Protocol, Self, TypeVar, runtime_checkable

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .conditions import Condition
from .durations import Duration
from .probe import ProbeConfig
from .timing import Bounds, check_cron, parse_window, zone

IDENTIFIER = r"^[a-z0-9][a-z0-9._-]*$"
T = TypeVar("T")
SLACK_USER = r"^[UW][A-Z0-9]{2,}$"
SLACK_USERGROUP = r"^S[A-Z0-9]{2,}$"


#: The error type an item's validation raises once the binder has reported its problems
#: under the item's name; whoever converts the ValidationError skips it.
REPORTED_BY_BINDER = "reported_by_binder"


@dataclass(frozen=True)
class Binding:
    """What the loader completes an item with, besides the fields written in the YAML."""

    #: The validated probe config; None while a referenced variable is unset.
    config: ProbeConfig | None = None
    unset: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    warn_conditions: tuple[Condition, ...] = ()
    phase: str = ""
    section: str = ""
    #: The owning sign-off role: the item's own owner, else its section's or phase's.
    responsible: str | None = None


@dataclass(frozen=True)
class Origin:
    """The file a checklist was loaded from."""

    source: str = ""
    digest: str = ""
    content: str = ""


@runtime_checkable
class Binder(Protocol):
    """The validation context that completes items while the checklist validates.

    Pydantic validates phases, sections and items in document order; the binder hears
    where it is (:meth:`within`), prepares each item's raw mapping (interpolation) and
    binds each valid item. Problems it finds it keeps, named by item and field.
    """

    def within(self, kind: Literal["phase", "section"], data: Any) -> AbstractContextManager[None]: ...

    def prepare_item(self, data: Any) -> tuple[Any, Any]:
        """(the mapping to validate, a token :meth:`bind_item` gets back)."""
        ...

    def bind_item(self, item: Item, token: Any) -> Binding: ...

    def item_rejected(self, data: Any, error: ValidationError) -> bool:
        """Report the item's validation errors under its name; False leaves them to
        the caller (data that is no item at all)."""
        ...

    def origin(self) -> Origin: ...


def _binder(info: ValidationInfo) -> Binder | None:
    return info.context if isinstance(info.context, Binder) else None


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Release(Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    #: Slack channel ID (C…) or name (#release) the bot posts to.
    channel: str | None = None
    language: Literal["en", "de"] = "en"


class Defaults(Strict):
    timeout: Duration = timedelta(seconds=10)
    #: Evidence older than this is STALE. Items may set their own.
    max_age: Duration = timedelta(hours=24)
    #: How many probes run at once.
    concurrency: int = Field(default=32, ge=1, le=1024)


class AlertPolicy(Strict):
    """Flap control: the item alerts only when it failed in ``fail_threshold`` of its last
    ``window`` runs (and recovers, for the "resolved" post, when it no longer does)."""

    fail_threshold: int = Field(default=1, ge=1)
    window: int = Field(default=1, ge=1, le=50)

    @model_validator(mode="after")
    def _threshold_fits(self) -> Self:
        if self.fail_threshold > self.window:
            raise ValueError(
                f"fail_threshold ({self.fail_threshold}) cannot exceed window ({self.window}): "
                "an item cannot fail in more runs than are counted"
            )
        return self


class Item(Strict):
    id: str = Field(pattern=IDENTIFIER, max_length=64)
    title: str = Field(min_length=1)
    #: ``{type: <probe type>, …its parameters}``; validated against the probe's model.
    probe: dict[str, Any]
    conditions: list[str] | None = None
    #: Conditions whose failure makes the item WARN rather than FAIL.
    warn_conditions: list[str] = Field(default_factory=list)
    blocking: bool = True
    #: A WARN does not block GO on this item.
    allow_warn: bool = False
    max_age: Duration | None = None
    timeout: Duration | None = None
    #: Sign-off role responsible for this item (inherited from section or phase).
    owner: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    description: str | None = None
    alert: AlertPolicy = AlertPolicy()

    # Set while the item validates, from the binder in the validation context.
    _binding: Binding = PrivateAttr(default=Binding())

    @model_validator(mode="wrap")
    @classmethod
    def _complete(cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo) -> Self:
        binder = _binder(info)
        if binder is None:
            return handler(data)
        data, token = binder.prepare_item(data)
        try:
            item = handler(data)
        except ValidationError as exc:
            if not binder.item_rejected(data, exc):
                raise
            raise PydanticCustomError(REPORTED_BY_BINDER, "reported under the item's name") from None
        item._binding = binder.bind_item(item, token)
        return item

    @property
    def responsible(self) -> str | None:
        """The owning sign-off role: the item's own owner, else its section's or phase's."""
        return self._binding.responsible

    @property
    def probe_type(self) -> str:
        return str(self.probe.get("type", ""))

    @property
    def config(self) -> ProbeConfig | None:
        """The validated probe config; None while a referenced variable is unset."""
        return self._binding.config

    @property
    def unset_variables(self) -> tuple[str, ...]:
        return self._binding.unset

    @property
    def parsed_conditions(self) -> tuple[Condition, ...]:
        return self._binding.conditions

    @property
    def parsed_warn_conditions(self) -> tuple[Condition, ...]:
        return self._binding.warn_conditions

    @property
    def phase(self) -> str:
        return self._binding.phase

    @property
    def section(self) -> str:
        return self._binding.section


class Section(Strict):
    id: str = Field(pattern=IDENTIFIER, max_length=64)
    title: str = Field(min_length=1)
    owner: str | None = None
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="wrap")
    @classmethod
    def _place(cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo) -> Self:
        return _within("section", data, handler, info)


class Phase(Strict):
    id: str = Field(pattern=IDENTIFIER, max_length=64)
    title: str = Field(min_length=1)
    owner: str | None = None
    sections: list[Section] = Field(min_length=1)

    @model_validator(mode="wrap")
    @classmethod
    def _place(cls, data: Any, handler: ModelWrapValidatorHandler[Self], info: ValidationInfo) -> Self:
        return _within("phase", data, handler, info)


def _within(
    level: Literal["phase", "section"], data: Any, handler: Callable[[Any], T], info: ValidationInfo
) -> T:
    """Validate ``data`` with the binder told which phase or section it is in."""
    binder = _binder(info)
    if binder is None:
        return handler(data)
    with binder.within(level, data):
        return handler(data)


def _split_ids(value: Any) -> Any:
    """Each entry may hold several comma-separated IDs, so one environment variable can
    list a whole team (``users: ["${GOLIVE_DEVOPS_APPROVERS:-}"]``); empty entries vanish."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [
            part.strip()
            for entry in value
            if isinstance(entry, str)
            for part in entry.split(",")
            if part.strip()
        ] + [entry for entry in value if not isinstance(entry, str)]
    return value


class Approvers(Strict):
    users: Annotated[list[Annotated[str, Field(pattern=SLACK_USER)]], BeforeValidator(_split_ids)] = Field(
        default_factory=list
    )
    usergroups: Annotated[
        list[Annotated[str, Field(pattern=SLACK_USERGROUP)]], BeforeValidator(_split_ids)
    ] = Field(default_factory=list)


class SignoffRole(Strict):
    id: str = Field(pattern=IDENTIFIER, max_length=64)
    title: str = Field(min_length=1)
    approvers: Approvers
    #: How long a sign-off holds; None means until revoked or invalidated.
    max_age: Duration | None = None


class Person(Strict):
    name: str = Field(min_length=1)
    slack: str | None = Field(default=None, pattern=SLACK_USER)
    phone: str | None = None
    email: str | None = None


class RollbackRole(Strict):
    role: str = Field(min_length=1)
    people: list[Person] = Field(min_length=1)


def _empty_is_none(value: Any) -> Any:
    """``"${GOLIVE_PROMETHEUS_URL:-}"`` left empty means: not set."""
    return None if isinstance(value, str) and not value.strip() else value


def _http_url(value: str | None) -> str | None:
    # Checked here, not as a schema pattern: in the YAML it is often "${VARIABLE}".
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("write the absolute http:// or https:// base URL of Prometheus")
    return value.rstrip("/") if value is not None else None


class RollbackTrigger(Strict):
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    #: Optional PromQL or other machine-checkable expression (evaluated by the rollback watch).
    condition: str | None = None
    #: Prometheus base URL the condition is evaluated against after GO; empty: not watched.
    prometheus_url: Annotated[str | None, BeforeValidator(_empty_is_none), AfterValidator(_http_url)] = None
    #: How long the condition must hold before the rollback is called; unset: at once.
    hold_for: Duration | None = Field(default=None, alias="for")


class RollbackPlan(Strict):
    procedure_url: str | None = None
    procedure: list[str] = Field(default_factory=list)
    triggers: list[RollbackTrigger] = Field(default_factory=list)
    roles: list[RollbackRole] = Field(default_factory=list)
    contacts: list[Person] = Field(default_factory=list)
    communication_plan: str | None = None
    #: The last known-good revision to roll back to (e.g. a Helm revision or image tag).
    known_good_revision: str | None = None


def _window_bound(value: Any) -> Any:
    """YAML reads an unquoted ``20:00`` as the number 1200 (base 60) and an unquoted
    date-time as a datetime; say so rather than fail on a type."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"YAML read this as the number {value}: quote times of day, e.g. '20:00'")
    return value


class Window(Strict):
    """Times of day (``'08:00'``–``'20:00'``, every day) or two date-times (one window)."""

    start: Annotated[str, BeforeValidator(_window_bound)]
    end: Annotated[str, BeforeValidator(_window_bound)]
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _parses(self) -> Self:
        parse_window(self.start, self.end, self.timezone)
        return self

    @property
    def bounds(self) -> Bounds:
        return parse_window(self.start, self.end, self.timezone)


class Schedule(Strict):
    """When the bot runs the checklist on its own: every ``interval`` or on ``cron``
    (five crontab fields), only inside ``window``."""

    interval: Duration | None = None
    cron: str | None = None
    window: Window | None = None
    #: The zone ``cron`` is read in; default the window's, else UTC.
    timezone: str | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> Self:
        if (self.interval is None) == (self.cron is None):
            raise ValueError("give exactly one of interval (e.g. 15m) and cron (e.g. '*/15 8-18 * * 1-5')")
        zone(self.zone_name)
        if self.cron is not None:
            try:
                check_cron(self.cron, self.zone_name)
            except ValueError as exc:
                raise ValueError(f"cron {self.cron!r}: {exc}") from None
        return self

    @property
    def zone_name(self) -> str:
        return self.timezone or (self.window.timezone if self.window else "UTC")


class Silence(Strict):
    """No alert posts for these items (all, when ``items`` is empty) from start to end."""

    items: list[str] = Field(default_factory=list)
    start: AwareDatetime
    end: AwareDatetime
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _forwards(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class Alerts(Strict):
    """How regression alerts behave in the release channel."""

    #: Repeat the alert of an item that stays failing this often; unset: never.
    reminder: Duration | None = timedelta(hours=4)
    silences: list[Silence] = Field(default_factory=list)
    #: Windows (daily or one-off) in which no alert is posted, e.g. a nightly backup.
    maintenance: list[Window] = Field(default_factory=list)


HostPattern = Annotated[
    str,
    Field(
        min_length=1,
        max_length=253,
        # A host name or address, with * and ? as wildcards: no scheme, port or path.
        pattern=r"^[A-Za-z0-9*?.\-:\[\]]+$",
        description="a host, with * and ? as wildcards: '*.valeo.example', '127.0.0.1'",
    ),
]


class Checklist(Strict):
    #: Version of this file format.
    schema_version: Literal[1] = 1
    release: Release
    defaults: Defaults = Defaults()
    phases: list[Phase] = Field(min_length=1)
    signoffs: list[SignoffRole] = Field(default_factory=list)
    rollback: RollbackPlan = RollbackPlan()
    schedule: Schedule | None = None
    alerts: Alerts = Alerts()
    #: Hosts URL-taking probes (and the rollback triggers' Prometheus) may reach, as glob
    #: patterns (``*.valeo.example``, ``127.0.0.1``); checked at load and on every
    #: redirect. Unset: any host.
    allowed_hosts: list[HostPattern] | None = None

    # Set while the checklist validates, from the binder in the validation context.
    _origin: Origin = PrivateAttr(default=Origin())
    # Items by id, built on first use: a run looks an item up for each of its results.
    _by_id: dict[str, Item] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _note_origin(self, info: ValidationInfo) -> Self:
        binder = _binder(info)
        if binder is not None:
            self._origin = binder.origin()
        return self

    @property
    def source(self) -> str:
        return self._origin.source

    @property
    def digest(self) -> str:
        """sha256 of the checklist file; stored with each run."""
        return self._origin.digest

    @property
    def content(self) -> str:
        """The file as written (``${VAR}`` references, not their values); stored once per
        digest so that status and reports can be read without the file."""
        return self._origin.content

    def items(self) -> list[Item]:
        return [item for phase in self.phases for section in phase.sections for item in section.items]

    def item(self, item_id: str) -> Item:
        if self._by_id is None:
            self._by_id = {item.id: item for item in self.items()}
        return self._by_id[item_id]

    def phase(self, phase_id: str) -> Phase:
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        raise KeyError(phase_id)

    def role(self, role_id: str) -> SignoffRole:
        for role in self.signoffs:
            if role.id == role_id:
                return role
        raise KeyError(role_id)

    def max_age(self, item: Item) -> timedelta:
        return item.max_age or self.defaults.max_age

    def timeout(self, item: Item) -> timedelta:
        return item.timeout or self.defaults.timeout
