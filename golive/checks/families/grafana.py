"""Grafana, asked through its HTTP API with a service-account token
(``auth: {bearer: {env: …}}``; ``org_id`` picks the organisation with ``X-Grafana-Org-Id``).
One probe type per question:

- ``grafana_health``: ``/api/health``; its 503 (database failing) is an observation;
- ``grafana_dashboards``: dashboards by uid (a 404 means missing) and/or by tag (search,
  paged); without either, all dashboards the token can see;
- ``grafana_alert_rules``: provisioned alert rules, required titles, paused ones;
- ``grafana_users``: org users by role, required logins/emails with a minimum role.

401 and 403 become ERROR "not authorised", with Grafana's message (an invalid token and
a token that lacks a permission read differently). Search results cover only what the
token may see, so a dashboard hidden from the token counts as missing.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..clients.monitoring import MonitoringClient, MonitoringConfig
from ..errors import PermanentProbeError
from ..probe import Evidence, Observation, ProbeContext, ProbeType, Value, register

SERVICE = "Grafana"
ROLES = ("None", "Viewer", "Editor", "Admin")  # lowest first
#: Grafana's own cap on one search page; asking for more returns at most this.
_MAX_PAGE = 5000
#: A search that keeps returning full pages is cut here rather than looping forever.
_MAX_PAGES = 200
_LISTED = 5


class GrafanaConfig(MonitoringConfig):
    #: The organisation to read (``X-Grafana-Org-Id``); the token's own org if unset.
    org_id: int | None = Field(default=None, ge=1)


class GrafanaHealthConfig(GrafanaConfig):
    type: Literal["grafana_health"] = "grafana_health"


class GrafanaDashboardsConfig(GrafanaConfig):
    type: Literal["grafana_dashboards"] = "grafana_dashboards"
    #: Dashboards that must exist, by uid.
    uids: list[str] = Field(default_factory=list)
    #: Search for dashboards carrying all of these tags.
    tags: list[str] = Field(default_factory=list)
    page_size: int = Field(default=1000, ge=1, le=_MAX_PAGE)


class GrafanaAlertRulesConfig(GrafanaConfig):
    type: Literal["grafana_alert_rules"] = "grafana_alert_rules"
    #: Alert rules that must be provisioned, by title.
    titles: list[str] = Field(default_factory=list)


class RequiredUser(BaseModel):
    """``{login: …}`` or ``{email: …}``, and the least role the user must have."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    login: str | None = None
    email: str | None = None
    role: Literal["Viewer", "Editor", "Admin"] = "Viewer"

    @model_validator(mode="after")
    def _one_name(self) -> RequiredUser:
        if (self.login is None) == (self.email is None):
            raise ValueError("name the user by exactly one of 'login' or 'email'")
        return self

    @property
    def name(self) -> str:
        return self.login or self.email or ""


class GrafanaUsersConfig(GrafanaConfig):
    type: Literal["grafana_users"] = "grafana_users"
    required: list[RequiredUser] = Field(default_factory=list)


def _client(config: GrafanaConfig, context: ProbeContext) -> MonitoringClient:
    headers = {"X-Grafana-Org-Id": str(config.org_id)} if config.org_id else None
    return MonitoringClient(SERVICE, config, context, headers)


def _evidence(client: MonitoringClient, path: str, context: ProbeContext) -> Evidence:
    source = client.url(path)
    return Evidence(source, context.now(), source)


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _list_of_objects(body: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise PermanentProbeError(f"{SERVICE} answered {path} with {type(body).__name__}, not a list")
    return [entry for entry in body if isinstance(entry, dict)]


async def gather_health(config: GrafanaHealthConfig, context: ProbeContext) -> Observation:
    async with _client(config, context) as client:
        answer = await client.get("/api/health", allow=(503,))
        evidence = _evidence(client, "/api/health", context)
    body = answer.json(SERVICE)
    if not isinstance(body, dict) or "database" not in body:
        raise PermanentProbeError(f"{SERVICE} at {answer.url} answered without 'database'; is url Grafana's?")
    values: dict[str, Any] = {"DATABASE": str(body["database"]), "STATUS": answer.status}
    # Hidden when anonymous_hide_version is set.
    for key in ("version", "commit"):
        if body.get(key):
            values[key.upper()] = str(body[key])
    version = f"Grafana {values['VERSION']}" if "VERSION" in values else "Grafana"
    message = f"{version}: database {values['DATABASE']} (HTTP {answer.status})"
    return Observation(values=values, evidence=evidence, message=message)


async def gather_dashboards(config: GrafanaDashboardsConfig, context: ProbeContext) -> Observation:
    found: dict[str, str] = {}  # uid → title
    missing: list[str] = []
    tagged: int | None = None
    async with _client(config, context) as client:
        answers = await asyncio.gather(
            *(client.get(f"/api/dashboards/uid/{quote(uid, safe='')}", allow=(404,)) for uid in config.uids)
        )
        for uid, answer in zip(config.uids, answers, strict=True):
            if answer.status == 404:
                missing.append(uid)
                continue
            dashboard = (answer.json(SERVICE) or {}).get("dashboard") or {}
            found[uid] = str(dashboard.get("title") or uid)
        if config.tags or not config.uids:
            hits = await _search(client, config)
            tagged = len(hits)
            found.update(hits)
        evidence = _evidence(client, "/api/search" if tagged is not None else "/api/dashboards/uid/", context)
    values: dict[str, Any] = {
        "DASHBOARDS": len(found),
        "TITLES": sorted(found.values()),
        "MISSING_UIDS": missing,
    }
    parts = [f"{len(found)} dashboard(s)"]
    if tagged is not None:
        values["SEARCH_HITS"] = tagged
        what = f"tagged {', '.join(config.tags)}" if config.tags else "in the search"
        parts[0] += f", {tagged} {what}"
    if missing:
        parts.append(f"missing (or hidden from the token): {_listed(missing)}")
    return Observation(values=values, evidence=evidence, message="; ".join(parts))


async def _search(client: MonitoringClient, config: GrafanaDashboardsConfig) -> dict[str, str]:
    """Every search hit, page by page, until a page comes back short."""
    hits: dict[str, str] = {}
    for page in range(1, _MAX_PAGES + 1):
        params: dict[str, str | int | list[str]] = {
            "type": "dash-db",
            "limit": config.page_size,
            "page": page,
        }
        if config.tags:
            params["tag"] = list(config.tags)
        batch = _list_of_objects((await client.get("/api/search", params)).json(SERVICE), "/api/search")
        before = len(hits)
        hits.update({str(h.get("uid")): str(h.get("title") or h.get("uid")) for h in batch})
        # A server that ignores ``page`` repeats the first one: stop when nothing is new.
        if len(batch) < config.page_size or len(hits) == before:
            return hits
    raise PermanentProbeError(
        f"{SERVICE} search returned more than {_MAX_PAGES} full pages of {config.page_size}; "
        "raise page_size or narrow the tags"
    )


async def gather_alert_rules(config: GrafanaAlertRulesConfig, context: ProbeContext) -> Observation:
    path = "/api/v1/provisioning/alert-rules"
    async with _client(config, context) as client:
        rules = _list_of_objects((await client.get(path)).json(SERVICE), path)
        evidence = _evidence(client, path, context)
    titles = [str(rule.get("title")) for rule in rules]
    paused = [str(rule.get("title")) for rule in rules if rule.get("isPaused") is True]
    missing = [title for title in config.titles if title not in titles]
    values: dict[str, Any] = {
        "RULES": len(rules),
        "TITLES": titles,
        "PAUSED": len(paused),
        "PAUSED_RULES": paused,
        "MISSING_TITLES": missing,
    }
    parts = [f"{len(rules)} provisioned alert rule(s)"]
    if paused:
        parts.append(f"{len(paused)} paused: {_listed(paused)}")
    if missing:
        parts.append(f"missing: {_listed(missing)}")
    return Observation(values=values, evidence=evidence, message="; ".join(parts))


async def gather_users(config: GrafanaUsersConfig, context: ProbeContext) -> Observation:
    path = "/api/org/users"
    async with _client(config, context) as client:
        users = _list_of_objects((await client.get(path)).json(SERVICE), path)
        evidence = _evidence(client, path, context)
    active = [u for u in users if not u.get("isDisabled")]
    roles = dict.fromkeys(ROLES, 0)
    for user in active:
        role = str(user.get("role") or "None")
        roles[role] = roles.get(role, 0) + 1
    disabled = [str(u.get("login")) for u in users if u.get("isDisabled")]
    missing: list[str] = []
    lacking: list[str] = []
    for wanted in config.required:
        found = _find(users, wanted)
        if found is None:
            missing.append(wanted.name)
        elif found.get("isDisabled"):
            lacking.append(f"{wanted.name}: disabled")
        elif _rank(found.get("role")) < _rank(wanted.role):
            lacking.append(f"{wanted.name}: {found.get('role') or 'None'}, needs {wanted.role}")
    values: dict[str, Any] = {
        "USERS": len(active),
        "ROLES": roles,
        "DISABLED": len(disabled),
        "DISABLED_USERS": disabled,
        "MISSING_USERS": missing,
        "LACKING_ROLE": lacking,
    }
    counts = ", ".join(f"{n} {role}" for role, n in reversed(roles.items()) if n)
    parts = [f"{len(active)} active user(s) ({counts or 'none'}), {len(disabled)} disabled"]
    if missing:
        parts.append(f"not in the org: {_listed(missing)}")
    if lacking:
        parts.append(f"role too low: {_listed(lacking)}")
    return Observation(values=values, evidence=evidence, message="; ".join(parts))


def _find(users: list[dict[str, Any]], wanted: RequiredUser) -> dict[str, Any] | None:
    # Grafana compares logins and emails without regard to case.
    key, name = ("login", wanted.login) if wanted.login else ("email", wanted.email)
    for user in users:
        if str(user.get(key) or "").lower() == str(name).lower():
            return user
    return None


def _rank(role: Any) -> int:
    return ROLES.index(role) if role in ROLES else 0


_EXAMPLE_URL = "https://grafana.example.com"
_TOKEN = {"bearer": {"env": "GOLIVE_GRAFANA_TOKEN"}}

register(
    ProbeType(
        name="grafana_health",
        summary="Grafana's /api/health: the server answers and its database works.",
        config_model=GrafanaHealthConfig,
        gather=gather_health,
        values=(
            Value("DATABASE", "ok, or failing (Grafana then answers 503)"),
            Value("STATUS", "HTTP status of /api/health"),
            Value("VERSION", "Grafana version, unless hidden"),
            Value("COMMIT", "Grafana build commit, unless hidden"),
        ),
        default_conditions=("[DATABASE] == ok",),
        example={"type": "grafana_health", "url": _EXAMPLE_URL},
    )
)
register(
    ProbeType(
        name="grafana_dashboards",
        summary="Grafana dashboards by uid and/or tag (search, paged).",
        config_model=GrafanaDashboardsConfig,
        gather=gather_dashboards,
        values=(
            Value("DASHBOARDS", "dashboards found (by uid and search, each once)"),
            Value("TITLES", "their titles"),
            Value("MISSING_UIDS", "required uids Grafana answered 404 for"),
            Value("SEARCH_HITS", "dashboards the search found (with tags: carrying all of them)"),
        ),
        default_conditions=("[DASHBOARDS] > 0", "len([MISSING_UIDS]) == 0"),
        example={
            "type": "grafana_dashboards",
            "url": _EXAMPLE_URL,
            "auth": _TOKEN,
            "tags": ["valeo-neuroerp"],
        },
    )
)
register(
    ProbeType(
        name="grafana_alert_rules",
        summary="Grafana-managed alert rules (provisioning API): present, required titles, none paused.",
        config_model=GrafanaAlertRulesConfig,
        gather=gather_alert_rules,
        values=(
            Value("RULES", "alert rules"),
            Value("TITLES", "their titles"),
            Value("PAUSED", "paused rules (they never fire)"),
            Value("PAUSED_RULES", "titles of the paused rules"),
            Value("MISSING_TITLES", "required titles not found"),
        ),
        default_conditions=("[RULES] > 0", "len([MISSING_TITLES]) == 0", "[PAUSED] == 0"),
        example={"type": "grafana_alert_rules", "url": _EXAMPLE_URL, "auth": _TOKEN},
    )
)
register(
    ProbeType(
        name="grafana_users",
        summary="Grafana org users: counts by role, required users with a minimum role.",
        config_model=GrafanaUsersConfig,
        gather=gather_users,
        values=(
            Value("USERS", "active (not disabled) users of the org"),
            Value("ROLES", "role (Admin, Editor, Viewer, None) → active users", structured=True),
            Value("DISABLED", "disabled users"),
            Value("DISABLED_USERS", "their logins"),
            Value("MISSING_USERS", "required users not in the org"),
            Value("LACKING_ROLE", "required users below their role, or disabled"),
        ),
        default_conditions=("len([MISSING_USERS]) == 0", "len([LACKING_ROLE]) == 0"),
        example={
            "type": "grafana_users",
            "url": _EXAMPLE_URL,
            "auth": _TOKEN,
            "required": [{"login": "ops-lead", "role": "Admin"}],
        },
    )
)
