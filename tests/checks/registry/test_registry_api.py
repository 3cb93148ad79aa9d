"""What distribution 2.8 cannot show: the Bearer token flow, the referrers API and
``Link`` pagination, against a local registry speaking that wire format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from golive.checks.status import Status
from tests.services.registry import ImagePusher, Pushed

from .conftest import COSIGN_BUNDLE, COSIGN_OCI11, SIGN_PREDICATE, SLSA_PREDICATE
from .fake_registry import SERVICE, FakeRegistry
from .support import mb, registry, run_one

USER = "deployer"
PASSWORD = "tok-pw-3e8c1d55"
PASSWORD_ENV = "GOLIVE_TEST_TOKEN_PASSWORD"
AUTH = {"username": USER, "password": {"env": PASSWORD_ENV}}


@pytest.fixture
def fakes() -> Iterator[list[FakeRegistry]]:
    started: list[FakeRegistry] = []
    yield started
    for fake in started:
        fake.stop()


def start(fakes: list[FakeRegistry], **options: object) -> tuple[FakeRegistry, ImagePusher]:
    fake = FakeRegistry(**options).start()  # type: ignore[arg-type]
    fakes.append(fake)
    return fake, ImagePusher(fake.url)


def sign_with_bundle(pusher: ImagePusher, name: str, subject: Pushed, predicate: dict[str, str]) -> Pushed:
    tag = f"bundle-{predicate['dev.sigstore.bundle.predicateType'].split('/')[2]}"
    return pusher.artifact(name, tag, COSIGN_BUNDLE, subject=subject, annotations=predicate)


def referrer_pages(fake: FakeRegistry, name: str) -> list[str]:
    return [path for _, path, _ in fake.seen.requests if path.startswith(f"/v2/{name}/referrers/")]


async def test_bearer_token_flow_and_the_referrers_api(
    fakes: list[FakeRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token per scope from the realm (service, scope, Basic credentials; the answer
    uses ``access_token``), and signatures found on the third page of referrers."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    fake, pusher = start(fakes, users={USER: PASSWORD}, token_field="access_token", page_size=1)
    api = pusher.image("valeo/api", "1.1.0", (300_000, 20_000))
    pusher.artifact("valeo/api", "sbom", "application/spdx+json", subject=api)
    sign_with_bundle(pusher, "valeo/api", api, SLSA_PREDICATE)
    sign_with_bundle(pusher, "valeo/api", api, SIGN_PREDICATE)
    amd64 = pusher.image("valeo/web", "amd64", (100_000,))
    arm64 = pusher.image("valeo/web", "arm64", (90_000,), platform=("linux", "arm64"))
    web = pusher.index("valeo/web", "1.1.0", [amd64, arm64])
    pusher.artifact("valeo/web", "sig", COSIGN_OCI11, subject=web)

    result = await run_one(
        registry(fake.url, "valeo/api", "valeo/web", auth=AUTH, check_signatures=True),
        conditions=["len([MISSING]) == 0", "len([UNSIGNED]) == 0"],
    )

    assert result.status == Status.PASS, result.message
    assert result.observed["DIGESTS"] == {"valeo/api": api.digest, "valeo/web": web.digest}
    assert result.observed["SIZES_MB"]["valeo/web"] == {
        "linux/amd64": mb(amd64.platform_bytes["linux/amd64"]),
        "linux/arm64": mb(arm64.platform_bytes["linux/arm64"]),
    }
    tokens = fake.seen.token_requests()
    scopes = sorted(scope for query, _ in tokens for scope in query.get("scope", []))
    assert scopes == ["repository:valeo/api:pull", "repository:valeo/web:pull"]
    assert all(query["service"] == [SERVICE] for query, _ in tokens)
    assert all(auth is not None and auth.startswith("Basic ") for _, auth in tokens)
    # Three referrers of valeo/api, one per page: all pages were read.
    assert len(referrer_pages(fake, "valeo/api")) == 3
    # With a referrers API there is no need for the sha256-<hex> or .sig tags.
    assert not [p for _, p, _ in fake.seen.requests if "/manifests/sha256-" in p]
    # The password goes to the token service only; the registry sees Bearer tokens.
    schemes = {
        auth.split()[0] for method, path, auth in fake.seen.requests if path.startswith("/v2/") and auth
    }
    assert schemes == {"Bearer"}


async def test_anonymous_token_and_signature_only_in_the_legacy_tag(fakes: list[FakeRegistry]) -> None:
    """No credentials: anonymous tokens. An attestation referrer is no signature; the
    cosign ``.sig`` tag still is, and the referrers API alone does not hide it."""
    fake, pusher = start(fakes)
    api = pusher.image("valeo/api", "1.1.0", (10_000,))
    sign_with_bundle(pusher, "valeo/api", api, SLSA_PREDICATE)
    pusher.cosign_signature_tag("valeo/api", api)
    worker = pusher.image("valeo/worker", "1.1.0", (10_000,))
    sign_with_bundle(pusher, "valeo/worker", worker, SLSA_PREDICATE)

    result = await run_one(registry(fake.url, "valeo/api", "valeo/worker", check_signatures=True))

    assert result.status == Status.PASS, result.message  # the default condition: nothing missing
    assert result.observed["UNSIGNED"] == ["valeo/worker:1.1.0"]
    assert all(auth is None for _, auth in fake.seen.token_requests())


async def test_without_a_referrers_api_the_fallback_tag_is_read(fakes: list[FakeRegistry]) -> None:
    fake, pusher = start(fakes, referrers_api=False)
    api = pusher.image("valeo/api", "1.1.0", (10_000,))
    bundle = sign_with_bundle(pusher, "valeo/api", api, SIGN_PREDICATE)
    pusher.referrers_tag_index("valeo/api", api, [(bundle, COSIGN_BUNDLE, SIGN_PREDICATE)])

    result = await run_one(registry(fake.url, "valeo/api", check_signatures=True))

    assert result.observed["UNSIGNED"] == []
    fallback = f"/v2/valeo/api/manifests/{api.digest.replace(':', '-')}"
    assert [p for _, p, _ in fake.seen.requests if p == fallback]
    assert not [p for _, p, _ in fake.seen.requests if p.endswith(".sig")]


async def test_tag_hints_follow_link_pagination(fakes: list[FakeRegistry]) -> None:
    fake, pusher = start(fakes, page_size=1)
    image = pusher.image("valeo/api", "1.0.0", (1_000,))
    for tag in ("1.0.1", "1.2.0", "v1.1.0", "zz-last"):
        pusher.put_raw("valeo/api", tag, *_raw(fake, image))

    result = await run_one(registry(fake.url, "valeo/api"))

    assert result.status == Status.FAIL
    assert result.observed["MISSING"] == ["valeo/api:1.1.0"]
    assert "similar tags: v1.1.0" in result.message
    pages = [p for _, p, _ in fake.seen.requests if urlsplit(p).path == "/v2/valeo/api/tags/list"]
    assert len(pages) == 5  # one tag per page, Link after Link


async def test_an_older_registry_without_digest_header_and_with_type_parameters(
    fakes: list[FakeRegistry],
) -> None:
    """No Docker-Content-Digest: sha256 of the raw bytes; a Content-Type with parameters."""
    fake, pusher = start(fakes, digest_header=False, content_type_parameters=True)
    amd64 = pusher.image("valeo/web", "amd64", (5_000,))
    web = pusher.index("valeo/web", "1.1.0", [amd64])
    result = await run_one(registry(fake.url, "valeo/web"))
    assert result.status == Status.PASS, result.message
    assert result.observed["DIGESTS"] == {"valeo/web": web.digest}
    assert result.observed["SIZES_MB"] == {
        "valeo/web": {"linux/amd64": mb(amd64.platform_bytes["linux/amd64"])}
    }


async def test_a_digest_that_does_not_match_the_body_is_an_error(fakes: list[FakeRegistry]) -> None:
    fake, pusher = start(fakes)
    api = pusher.image("valeo/api", "1.1.0", (5_000,))
    fake.lying_about.add("1.1.0")
    result = await run_one(registry(fake.url, "valeo/api"))
    assert result.status == Status.ERROR
    assert "valeo/api:1.1.0: digest mismatch: the registry says sha256:" in result.message
    assert f"the manifest it sent hashes to {api.digest}" in result.message


async def test_wrong_password_at_the_token_service(
    fakes: list[FakeRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-it-5521"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    fake, pusher = start(fakes, users={USER: PASSWORD})
    pusher.image("valeo/api", "1.1.0", (5_000,))
    result = await run_one(registry(fake.url, "valeo/api", auth=AUTH))
    assert result.status == Status.ERROR
    assert result.message.startswith(f"registry {fake.url}: not authorised for valeo/api:1.1.0")
    assert f"the token service {fake.url}/token refused user {USER!r} (HTTP 401)" in result.message
    assert result.message.endswith(f"check the password in the environment variable {PASSWORD_ENV}")
    assert "TEMPORARY" not in result.observed
    assert wrong not in json.dumps([result.message, dict(result.observed)])


async def test_a_token_without_pull_rights_names_the_image(
    fakes: list[FakeRegistry], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token service grants less than asked (not an error there); the registry says 401."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    fake, pusher = start(fakes, users={USER: PASSWORD}, denied=frozenset({"valeo/secret"}))
    pusher.image("valeo/api", "1.1.0", (5_000,))
    pusher.image("valeo/secret", "1.1.0", (5_000,))
    result = await run_one(registry(fake.url, "valeo/api", "valeo/secret", auth=AUTH))
    assert result.status == Status.ERROR
    assert (
        f"registry {fake.url}: not authorised for valeo/secret:1.1.0 "
        f"(HTTP 401 with a Bearer token for user {USER!r}) (UNAUTHORIZED: authentication required); "
        "some registries answer so for a repository that does not exist"
    ) == result.message
    assert "TEMPORARY" not in result.observed


def _raw(fake: FakeRegistry, pushed: Pushed) -> tuple[bytes, str]:
    media_type, body = fake.manifests[("valeo/api", pushed.digest)]
    return body, media_type
