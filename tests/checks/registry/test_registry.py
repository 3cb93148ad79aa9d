"""The registry probe against real registries (distribution 2.8), through loader and runner."""

from __future__ import annotations

import json

import pytest

from golive.checks.status import Status
from tests.services import free_port
from tests.services.registry import REGISTRY_PASSWORD, REGISTRY_USER

from .conftest import Scenario
from .support import mb, registry, run_one

pytestmark = pytest.mark.services  # the real docker-registry

MIRROR_ENV = "GOLIVE_TEST_MIRROR_PASSWORD"
REGISTRY_ENV = "GOLIVE_TEST_REGISTRY_PASSWORD"
AUTH = {"username": REGISTRY_USER, "password": {"env": REGISTRY_ENV}}


@pytest.fixture
def mirror(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """The mirror registry's settings, its password in the environment."""
    monkeypatch.setenv(MIRROR_ENV, REGISTRY_PASSWORD)
    return {"url": scenario.mirror_url, "auth": {"username": REGISTRY_USER, "password": {"env": MIRROR_ENV}}}


def platform_bytes(scenario: Scenario) -> dict[str, dict[str, float]]:
    return {
        "valeo/api": {"linux/amd64": mb(scenario.api.platform_bytes["linux/amd64"])},
        "valeo/web": {p: mb(b) for p, b in scenario.web.platform_bytes.items()},
    }


async def test_healthy_release_passes_with_every_value_observed(
    scenario: Scenario, mirror: dict[str, object]
) -> None:
    result = await run_one(
        registry(
            scenario.url,
            "valeo/api",
            "valeo/web",
            max_size_mb=5,
            check_signatures=True,
            mirror=mirror,
        ),
        conditions=[
            "len([MISSING]) == 0",
            "[IMAGES] == 2",
            "len([OVER_BUDGET]) == 0",
            "len([UNSIGNED]) == 0",
            "len([MIRROR_MISSING]) == 0",
            "[SIZES_MB].valeo/web.linux/arm64 < 1",
        ],
    )
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["REACHABLE"] is True
    assert observed["AUTHORISED"] is True
    assert observed["IMAGES"] == 2
    assert observed["MISSING"] == []
    assert observed["DIGESTS"] == {"valeo/api": scenario.api.digest, "valeo/web": scenario.web.digest}
    # Σ layers + config per platform; the attestation entry of the index is no platform.
    sizes = platform_bytes(scenario)
    assert observed["SIZES_MB"] == sizes
    assert 1_500_000 < scenario.api.platform_bytes["linux/amd64"] < 1_501_000  # layers + config
    assert observed["LARGEST_MB"] == sizes["valeo/api"]["linux/amd64"]
    assert observed["OVER_BUDGET"] == []
    assert observed["UNSIGNED"] == []
    assert observed["MIRROR_MISSING"] == []
    assert result.message.startswith(f"2/2 image(s) at 1.1.0 on registry {scenario.url}; largest ")
    assert result.evidence is not None
    assert result.evidence.source == scenario.url
    json.dumps(dict(observed))  # stored as JSON


async def test_missing_images_fail_and_are_named_with_the_reason(scenario: Scenario) -> None:
    result = await run_one(registry(scenario.url, "valeo/api", "valeo/batch", "valeo/ghost"))
    assert result.status == Status.FAIL
    assert result.observed["MISSING"] == ["valeo/batch:1.1.0", "valeo/ghost:1.1.0"]
    assert result.observed["IMAGES"] == 1
    assert set(result.observed["DIGESTS"]) == {"valeo/api"}
    assert "len([MISSING]) = 2, limit == 0" in result.message
    assert "valeo/batch:1.1.0 missing: tag not found; similar tags: 1.1.0-rc1" in result.message
    assert "valeo/ghost:1.1.0 missing: repository not found" in result.message


async def test_an_explicit_tag_overrides_the_release_version(scenario: Scenario) -> None:
    result = await run_one(registry(scenario.url, "valeo/batch", tag="1.1.0-rc1"))
    assert result.status == Status.PASS, result.message
    assert result.observed["DIGESTS"] == {"valeo/batch": scenario.batch_rc.digest}
    assert result.message.startswith("1/1 image(s) at 1.1.0-rc1 on ")


async def test_image_over_the_size_budget_is_listed(scenario: Scenario) -> None:
    result = await run_one(
        registry(scenario.url, "valeo/api", "valeo/web", max_size_mb=1.2),
        conditions=["len([OVER_BUDGET]) == 0"],
    )
    api_mb = mb(scenario.api.platform_bytes["linux/amd64"])
    assert result.status == Status.FAIL
    # web: amd64 1.0 MB + config, arm64 0.85 MB + config: both under 1.2 MB.
    assert result.observed["OVER_BUDGET"] == [f"valeo/api:1.1.0 linux/amd64 ({api_mb:g} MB)"]
    assert "len([OVER_BUDGET]) = 1, limit == 0" in result.message
    assert f"over the 1.2 MB budget: valeo/api:1.1.0 linux/amd64 ({api_mb:g} MB)" in result.message


async def test_signatures_are_found_in_every_cosign_layout(scenario: Scenario) -> None:
    """api: .sig tag; web: v3 bundle via the sha256-<hex> tag (this registry has no
    referrers API); cli: OCI 1.1 mode signature; worker: an SLSA attestation only."""
    result = await run_one(
        registry(scenario.url, "valeo/api", "valeo/web", "valeo/cli", "valeo/worker", check_signatures=True),
        conditions=["len([MISSING]) == 0", "len([UNSIGNED]) == 0"],
    )
    assert result.status == Status.FAIL
    assert result.observed["UNSIGNED"] == ["valeo/worker:1.1.0"]
    assert "unsigned: valeo/worker:1.1.0" in result.message
    assert "len([UNSIGNED]) = 1, limit == 0" in result.message
    # The Docker media types: a v2 manifest and a manifest list.
    assert result.observed["SIZES_MB"]["valeo/worker"] == {
        "linux/amd64": mb(scenario.worker.platform_bytes["linux/amd64"])
    }
    assert result.observed["SIZES_MB"]["valeo/cli"] == {
        "linux/amd64": mb(scenario.cli.platform_bytes["linux/amd64"])
    }
    assert result.observed["DIGESTS"]["valeo/cli"] == scenario.cli.digest


async def test_unchecked_values_are_not_observed(scenario: Scenario) -> None:
    result = await run_one(registry(scenario.url, "valeo/worker"), conditions=["len([UNSIGNED]) == 0"])
    assert result.status == Status.FAIL
    assert "UNSIGNED" not in result.observed
    assert "len([UNSIGNED]) = (not observed)" in result.message


async def test_mirror_missing_a_digest_is_listed(scenario: Scenario, mirror: dict[str, object]) -> None:
    result = await run_one(
        registry(scenario.url, "valeo/api", "valeo/worker", mirror=mirror),
        conditions=["len([MIRROR_MISSING]) == 0"],
    )
    assert result.status == Status.FAIL
    assert result.observed["MIRROR_MISSING"] == ["valeo/worker:1.1.0"]
    assert f"not in the mirror {scenario.mirror_url}: valeo/worker:1.1.0" in result.message


async def test_basic_auth_with_the_right_password_passes(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REGISTRY_ENV, REGISTRY_PASSWORD)
    result = await run_one(registry(scenario.mirror_url, "valeo/api", "valeo/web", auth=AUTH))
    assert result.status == Status.PASS, result.message
    assert result.observed["DIGESTS"] == {"valeo/api": scenario.api.digest, "valeo/web": scenario.web.digest}
    assert result.observed["SIZES_MB"] == platform_bytes(scenario)


async def test_wrong_password_is_an_error_that_never_shows_the_password(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "wrong-pw-81f0c2aa"
    monkeypatch.setenv(REGISTRY_ENV, wrong)
    result = await run_one(registry(scenario.mirror_url, "valeo/api", auth=AUTH))
    assert result.status == Status.ERROR
    assert result.message.startswith(f"registry {scenario.mirror_url}: not authorised for valeo/api:1.1.0")
    assert f"HTTP 401 with the Basic credentials of user {REGISTRY_USER!r}" in result.message
    assert result.message.endswith(f"check the password in the environment variable {REGISTRY_ENV}")
    assert "TEMPORARY" not in result.observed  # trying again will not help
    everything = json.dumps([result.message, dict(result.observed), str(result.evidence)])
    assert wrong not in everything
    assert REGISTRY_PASSWORD not in everything


async def test_mirror_with_wrong_password_is_an_error_naming_the_mirror(
    scenario: Scenario, mirror: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MIRROR_ENV, "not-the-password")
    result = await run_one(registry(scenario.url, "valeo/api", mirror=mirror))
    assert result.status == Status.ERROR
    assert result.message.startswith(f"registry {scenario.mirror_url}: not authorised for the mirror")
    assert "not-the-password" not in result.message


async def test_anonymous_access_to_a_registry_that_wants_a_login(scenario: Scenario) -> None:
    result = await run_one(registry(scenario.mirror_url, "valeo/api"))
    assert result.status == Status.ERROR
    assert f"registry {scenario.mirror_url} asks for a username and password (Basic)" in result.message


async def test_unreachable_registry_is_a_temporary_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = await run_one(registry(url, "valeo/api"))
    assert result.status == Status.ERROR
    assert result.message.startswith(f"registry {url}: cannot connect to 127.0.0.1:")
    assert "connection refused" in result.message
    assert result.observed.get("TEMPORARY") is True


async def test_a_release_version_that_is_no_valid_tag_is_a_permanent_error(scenario: Scenario) -> None:
    result = await run_one(registry(scenario.url, "valeo/api"), version="1.1.0+build.7")
    assert result.status == Status.ERROR
    assert "the release version '1.1.0+build.7' is not a valid image tag; set 'tag'" in result.message
    assert "TEMPORARY" not in result.observed


async def test_an_unset_password_variable_means_anonymous_access(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    # The open registry lets anyone in: the unset password is no reason to stop.
    result = await run_one(registry(scenario.url, "valeo/api", auth=AUTH))
    assert result.status == Status.PASS, result.message
    assert result.observed["DIGESTS"] == {"valeo/api": scenario.api.digest}


async def test_a_registry_refusing_anonymous_access_names_the_variable_to_set(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REGISTRY_ENV, raising=False)
    result = await run_one(registry(scenario.mirror_url, "valeo/api", auth=AUTH))
    assert result.status == Status.ERROR
    assert f"registry {scenario.mirror_url} asks for a username and password (Basic)" in result.message
    assert result.message.endswith(f"set the environment variable {REGISTRY_ENV}"), result.message


async def test_a_password_without_a_username_is_an_error_saying_so(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REGISTRY_ENV, REGISTRY_PASSWORD)
    result = await run_one(registry(scenario.mirror_url, "valeo/api", auth={**AUTH, "username": ""}))
    assert result.status == Status.ERROR
    assert f"has a password (env {REGISTRY_ENV}) but an empty username" in result.message
    assert REGISTRY_PASSWORD not in result.message
