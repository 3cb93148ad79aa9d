"""prometheus_retention and prometheus_ready: real servers started with different retention
flags, a route prefix and basic auth; canned answers for the states a real server cannot
be held in (not ready, no storageRetention); the retention parser on its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from golive.checks.errors import ProbeError
from golive.checks.formats.prometheus import parse_retention, retention_from_flags
from golive.checks.status import Status
from tests.services.prometheus import PrometheusServer

from .conftest import Scenario, require_prometheus
from .fake_prometheus import DEFAULT_FLAGS, api_success, fake_prometheus, not_ready
from .support import run_one

GIB = 1 << 30
MIB = 1 << 20
#: Basic auth for the secured server; the hash is bcrypt (cost 4, fast) of the password.
PROM_USER = "golive"
PROM_PASSWORD = "prom-basic-pw-51c7e2"
PROM_HASH = "$2b$04$1IOWdkmvzHiTkzd0JBM4lee6OMK6peXBGOuizj8nTQwuezX2vk5ei"


def retention(url: str, **config: object) -> dict[str, object]:
    return {"type": "prometheus_retention", "url": url, **config}


def ready(url: str, **config: object) -> dict[str, object]:
    return {"type": "prometheus_ready", "url": url, **config}


@dataclass(frozen=True)
class Variants:
    time_and_size: PrometheusServer
    size_only: PrometheusServer
    #: No retention flags, and served below /prom.
    default_prefixed: PrometheusServer
    secured: PrometheusServer
    agent: PrometheusServer


@pytest.fixture(scope="module")
def variants() -> Iterator[Variants]:
    require_prometheus()
    servers = Variants(
        PrometheusServer(
            scrape_self=False,
            args=["--storage.tsdb.retention.time=30d", "--storage.tsdb.retention.size=1536MB"],
        ),
        PrometheusServer(scrape_self=False, args=["--storage.tsdb.retention.size=512MB"]),
        PrometheusServer(scrape_self=False, route_prefix="/prom"),
        PrometheusServer(
            scrape_self=False,
            web_config={"basic_auth_users": {PROM_USER: PROM_HASH}},
            auth=(PROM_USER, PROM_PASSWORD),
        ),
        PrometheusServer(scrape_self=False, agent=True),
    )
    started: list[PrometheusServer] = []
    try:
        for server in (
            servers.time_and_size,
            servers.size_only,
            servers.default_prefixed,
            servers.secured,
            servers.agent,
        ):
            started.append(server.start())
        yield servers
    finally:
        for server in started:
            server.stop()


@pytest.mark.services
async def test_retention_shorter_than_the_policy_fails(prometheus: Scenario) -> None:
    # Started with --storage.tsdb.retention.time=7d, which Prometheus prints as "1w".
    result = await run_one(retention(prometheus.url), conditions=["[RETENTION_DAYS] >= 30"])
    assert result.status == Status.FAIL
    assert result.observed["RETENTION"] == "1w"
    assert result.observed["RETENTION_DAYS"] == 7
    assert result.observed["RETENTION_SOURCE"] == "runtimeinfo"
    assert "RETENTION_SIZE_BYTES" not in result.observed
    assert result.message == "retention 1w (7 days); [RETENTION_DAYS] = 7 days, limit >= 30 days"


@pytest.mark.services
async def test_time_or_size_retention(variants: Variants) -> None:
    result = await run_one(
        retention(variants.time_and_size.url),
        conditions=["[RETENTION_DAYS] >= 30", "[RETENTION_SIZE_BYTES] >= 1000000000"],
    )
    assert result.status == Status.PASS, result.message
    assert result.observed["RETENTION"] == "30d or 1GiB512MiB"
    assert result.observed["RETENTION_DAYS"] == 30
    assert result.observed["RETENTION_SIZE_BYTES"] == GIB + 512 * MIB


@pytest.mark.services
async def test_size_only_retention_has_no_days(variants: Variants) -> None:
    result = await run_one(retention(variants.size_only.url), conditions=["[RETENTION_DAYS] >= 30"])
    assert result.status == Status.FAIL
    assert result.observed["RETENTION"] == "512MiB"
    assert result.observed["RETENTION_SIZE_BYTES"] == 512 * MIB
    assert "RETENTION_DAYS" not in result.observed
    assert "no time limit, only a size limit" in result.message
    assert "[RETENTION_DAYS] = (not observed), limit >= 30 days" in result.message


@pytest.mark.services
async def test_default_retention_below_a_route_prefix(variants: Variants) -> None:
    assert variants.default_prefixed.url.endswith("/prom")
    result = await run_one(retention(variants.default_prefixed.url), conditions=["[RETENTION_DAYS] == 15"])
    assert result.status == Status.PASS, result.message
    assert result.observed["RETENTION"] == "15d"
    ready_result = await run_one(ready(variants.default_prefixed.url))
    assert ready_result.status == Status.PASS, ready_result.message


@pytest.mark.services
async def test_an_agent_has_no_retention(variants: Variants) -> None:
    # Its runtimeinfo says "" and its flags "0s", which in server mode would mean 15 days.
    result = await run_one(retention(variants.agent.url))
    assert result.status == Status.ERROR
    assert "runs in agent mode" in result.message
    assert "TEMPORARY" not in result.observed


async def test_flags_are_read_when_runtimeinfo_has_no_retention() -> None:
    # A server whose runtimeinfo lacks storageRetention (an older release or a compatible
    # server): unset retention flags read "0s", and Prometheus' default of 15 days applies.
    routes = {
        "/api/v1/status/runtimeinfo": api_success({"CWD": "/prometheus", "storageRetention": ""}),
        "/api/v1/status/flags": api_success(DEFAULT_FLAGS),
    }
    with fake_prometheus(routes) as url:
        result = await run_one(retention(url), conditions=["[RETENTION_DAYS] >= 15"])
    assert result.status == Status.PASS, result.message
    assert result.observed["RETENTION_SOURCE"] == "flags"
    assert result.observed["RETENTION_DAYS"] == 15
    assert "no retention flag set: Prometheus' default of 15d applies" in result.message


async def test_flags_are_read_when_there_is_no_runtimeinfo() -> None:
    flags = {**DEFAULT_FLAGS, "storage.tsdb.retention": "45d"}  # the flag removed in 3.0
    with fake_prometheus({"/api/v1/status/flags": api_success(flags)}) as url:
        result = await run_one(retention(url), conditions=["[RETENTION_DAYS] >= 30"])
    assert result.status == Status.PASS, result.message
    assert result.observed["RETENTION"] == "45d"
    assert result.evidence is not None and result.evidence.source == f"{url}/api/v1/status/flags"


@pytest.mark.services
async def test_a_ready_prometheus(prometheus: Scenario) -> None:
    result = await run_one(ready(prometheus.url))
    assert result.status == Status.PASS, result.message
    assert result.observed["READY"] is True
    assert result.observed["STATUS"] == 200
    assert result.observed["VERSION"][:1].isdigit()
    assert result.message == f"Prometheus {result.observed['VERSION']} is ready"


@pytest.mark.parametrize(("stopping", "said"), [(False, "is not ready"), (True, "is shutting down")])
async def test_a_503_from_ready_is_an_observation(stopping: bool, said: str) -> None:
    with fake_prometheus({"/-/ready": not_ready(stopping=stopping)}) as url:
        result = await run_one(ready(url))
    assert result.status == Status.FAIL
    assert result.observed == {"READY": False, "STATUS": 503, "STOPPING": stopping}
    assert said in result.message
    assert "[READY] = false, limit == true" in result.message


@pytest.mark.services
async def test_basic_auth_by_reference(variants: Variants, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_TEST_PROM_PASSWORD", PROM_PASSWORD)
    monkeypatch.setenv("GOLIVE_TEST_PROM_WRONG", "not-the-password")
    url = variants.secured.url

    def basic(variable: str) -> dict[str, object]:
        return {"basic": {"username": PROM_USER, "password": {"env": variable}}}

    good = await run_one(retention(url, auth=basic("GOLIVE_TEST_PROM_PASSWORD")))
    assert good.status == Status.PASS, good.message
    wrong = await run_one(ready(url, auth=basic("GOLIVE_TEST_PROM_WRONG")))
    assert wrong.status == Status.ERROR
    assert wrong.message == (
        "Prometheus: not authorised (HTTP 401: Unauthorized): user 'golive' with the password "
        "from env GOLIVE_TEST_PROM_WRONG was refused"
    )
    assert "TEMPORARY" not in wrong.observed
    anonymous = await run_one(ready(url))
    assert anonymous.status == Status.ERROR
    assert "the request without credentials (set auth) was refused" in anonymous.message
    for result in (good, wrong, anonymous):
        dumped = json.dumps([dict(result.observed), result.message, str(result.evidence)])
        assert PROM_PASSWORD not in dumped


@pytest.mark.services
async def test_an_unset_credential_variable_means_no_credential(
    variants: Variants, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOLIVE_TEST_PROM_UNSET", raising=False)
    basic = {"basic": {"username": PROM_USER, "password": {"env": "GOLIVE_TEST_PROM_UNSET"}}}
    bearer = {"bearer": {"env": "GOLIVE_TEST_PROM_UNSET"}}
    # A server without auth is asked without credentials, and answers.
    for auth in (basic, bearer):
        open_server = await run_one(ready(variants.default_prefixed.url, auth=auth))
        assert open_server.status == Status.PASS, open_server.message
    # One that wants them refuses: the error names the variable to set.
    refused = await run_one(ready(variants.secured.url, auth=basic))
    assert refused.status == Status.ERROR
    assert refused.message == (
        "Prometheus: not authorised (HTTP 401: Unauthorized): the request without credentials "
        "(env GOLIVE_TEST_PROM_UNSET is not set) was refused; set the environment variable "
        "GOLIVE_TEST_PROM_UNSET"
    )


@pytest.mark.parametrize(
    ("text", "days", "size", "percent"),
    [
        ("15d", 15, None, None),
        ("1w", 7, None, None),
        ("1y", 365, None, None),
        ("1d12h", 1.5, None, None),
        ("90d or 512MiB", 90, 512 * MIB, None),
        ("30d or 1GiB512MiB", 30, GIB + 512 * MIB, None),
        ("512MiB", None, 512 * MIB, None),
        ("2TB", None, 2 << 40, None),  # Prometheus reads size units base-2, MB as MiB
        ("15d or 80%", 15, None, 80.0),
    ],
)
def test_retention_strings(text: str, days: float | None, size: int | None, percent: float | None) -> None:
    parsed = parse_retention(text)
    assert (parsed.days, parsed.size_bytes, parsed.percent) == (days, size, percent)


@pytest.mark.parametrize("text", ["forever", "15 days", "15d and 512MiB", ""])
def test_unreadable_retention_is_an_error(text: str) -> None:
    with pytest.raises(ProbeError, match="cannot read the retention"):
        parse_retention(text)


@pytest.mark.parametrize(
    ("flags", "text", "days"),
    [
        ({"storage.tsdb.retention.time": "0s", "storage.tsdb.retention.size": "0B"}, "15d", 15),
        ({}, "15d", 15),
        ({"storage.tsdb.retention.time": "30d", "storage.tsdb.retention": "45d"}, "30d", 30),
        ({"storage.tsdb.retention.time": "0s", "storage.tsdb.retention.size": "512MiB"}, "512MiB", None),
        ({"storage.tsdb.retention.time": "2w", "storage.tsdb.retention.size": "1GiB"}, "2w or 1GiB", 14),
    ],
)
def test_retention_from_flags(flags: dict[str, str], text: str, days: float | None) -> None:
    parsed = retention_from_flags(flags)
    assert (parsed.text, parsed.days) == (text, days)
