"""The http probe against real servers on 127.0.0.1, through loader and runner."""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import datetime

import pytest

from golive.checks.status import Status

from .conftest import Servers
from .servers import API_KEY, BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, JSON_DOCUMENT, free_port
from .support import item, run


def http(url: str, **config: object) -> dict[str, object]:
    return {"type": "http", "url": url, **config}


async def test_json_response_is_observed_and_conditions_walk_into_it(servers: Servers) -> None:
    results = await run(
        item(
            "health",
            http(f"{servers.http}/json"),
            conditions=[
                "[STATUS] == 200",
                "[BODY].status == ok",
                "len([BODY].items) == 3",
                "[BODY].version == [RELEASE_VERSION]",
                "[HEADERS].content-type == application/json",
            ],
        )
    )
    result = results["health"]
    assert result.status == Status.PASS, result.message
    assert result.message.startswith("HTTP 200 OK in ")
    observed = result.observed
    assert observed["STATUS"] == 200
    assert observed["BODY"] == JSON_DOCUMENT
    assert observed["CONNECTED"] is True
    assert observed["REDIRECTS"] == 0
    assert observed["FINAL_URL"] == f"{servers.http}/json"
    assert isinstance(observed["RESPONSE_TIME"], float)
    assert 0 <= observed["RESPONSE_TIME"] < 5000
    assert "CERT_DAYS" not in observed  # plain HTTP has no certificate
    assert result.evidence is not None
    assert result.evidence.source == f"{servers.http}/json"
    assert result.evidence.link == f"{servers.http}/json"
    json.dumps(dict(observed))  # everything observed is stored as JSON


@pytest.mark.parametrize("code", [500, 503])
async def test_server_error_is_an_observation_that_fails(servers: Servers, code: int) -> None:
    result = (await run(item("api", http(f"{servers.http}/status/{code}"))))["api"]
    assert result.status == Status.FAIL
    assert f"[STATUS] = {code}, limit == 200" in result.message
    assert result.observed["STATUS"] == code
    assert result.observed["BODY"] == f"status {code}\n"
    assert "TEMPORARY" not in result.observed


async def test_slow_response_fails_a_response_time_limit(servers: Servers) -> None:
    result = (
        await run(
            item(
                "latency",
                http(f"{servers.http}/slow?delay=0.3"),
                conditions=["[STATUS] == 200", "[RESPONSE_TIME] < 100"],
            )
        )
    )["latency"]
    assert result.status == Status.FAIL
    assert result.observed["RESPONSE_TIME"] >= 300
    assert re.search(r"\[RESPONSE_TIME\] = \d+(\.\d+)? ms, limit < 100 ms", result.message)


async def test_hanging_server_times_out_without_holding_up_the_run(servers: Servers) -> None:
    started = time.perf_counter()
    results = await run(
        item("hangs", http(f"{servers.http}/hang"), timeout="0.5s"),
        item("fine", http(f"{servers.http}/json")),
        item("also-fine", http(f"{servers.https}/json", ca_file=str(servers.ca_file))),
    )
    assert time.perf_counter() - started < 3
    assert results["hangs"].status == Status.ERROR
    assert "timed out" in results["hangs"].message
    assert results["hangs"].observed == {"TEMPORARY": True}
    assert results["fine"].status == Status.PASS
    assert results["also-fine"].status == Status.PASS


def _proxies(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """Exactly these proxy variables (``http_proxy``, ``no_proxy``, ...), in both spellings."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        value = variables.get(name)
        for spelling in (name, name.upper()):
            if value is None:
                monkeypatch.delenv(spelling, raising=False)
            else:
                monkeypatch.setenv(spelling, value)


async def test_requests_go_through_the_proxy_the_environment_names(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on the target's port: only the proxy (the test server, which reads
    # the absolute URL of a proxied request as its path) can answer.
    _proxies(monkeypatch, http_proxy=servers.http)
    target = f"http://localhost:{free_port()}/echo"
    result = (await run(item("proxied", http(target))))["proxied"]
    assert result.status == Status.PASS, result.message
    assert result.observed["BODY"]["headers"]["host"].startswith("localhost:")


async def test_no_proxy_hosts_are_reached_directly(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    _proxies(monkeypatch, http_proxy=f"http://127.0.0.1:{free_port()}", no_proxy="localhost,127.0.0.1")
    result = (await run(item("direct", http(f"{servers.http}/json"))))["direct"]
    assert result.status == Status.PASS, result.message


async def test_connection_refused_is_temporary_and_names_the_target() -> None:
    port = free_port()
    result = (await run(item("down", http(f"http://127.0.0.1:{port}/health"))))["down"]
    assert result.status == Status.ERROR
    assert result.message == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert result.observed == {"TEMPORARY": True}


async def test_redirect_chain_is_followed_and_counted(servers: Servers) -> None:
    result = (await run(item("moved", http(f"{servers.http}/redirect/3"), conditions=["[REDIRECTS] == 3"])))[
        "moved"
    ]
    assert result.status == Status.PASS, result.message
    assert result.observed["FINAL_URL"] == f"{servers.http}/redirect/0"
    assert result.observed["BODY"] == {"redirected": True}
    assert "after 3 redirect(s)" in result.message


async def test_redirect_not_followed_when_told(servers: Servers) -> None:
    result = (
        await run(
            item(
                "moved",
                http(f"{servers.http}/redirect/1", follow_redirects=False),
                conditions=["[STATUS] == 302", "[HEADERS].location == /redirect/0"],
            )
        )
    )["moved"]
    assert result.status == Status.PASS, result.message
    assert result.observed["REDIRECTS"] == 0


async def test_too_many_redirects_and_loops_are_errors(servers: Servers) -> None:
    results = await run(
        item("chain", http(f"{servers.http}/redirect/3", max_redirects=2)),
        item("loop", http(f"{servers.http}/loop")),
    )
    assert results["chain"].status == Status.ERROR
    assert results["chain"].message == (f"too many redirects: more than 2 from {servers.http}/redirect/3")
    assert results["loop"].status == Status.ERROR
    assert results["loop"].message.startswith("too many redirects: more than 10 from")
    assert "TEMPORARY" not in results["loop"].observed


@pytest.mark.parametrize("query", ["declared", "streamed"])
async def test_body_over_the_cap_is_refused(servers: Servers, query: str) -> None:
    started = time.perf_counter()
    result = (await run(item("big", http(f"{servers.http}/huge?{query}"))))["big"]
    assert result.status == Status.ERROR
    assert "more than the 8388608" in result.message
    assert time.perf_counter() - started < 5


async def test_basic_auth_by_reference(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_TEST_BASIC_PASSWORD", BASIC_PASSWORD)
    auth = {"basic": {"username": BASIC_USER, "password": {"env": "GOLIVE_TEST_BASIC_PASSWORD"}}}
    results = await run(
        item("with-auth", http(f"{servers.http}/basic", auth=auth)),
        item("without-auth", http(f"{servers.http}/basic")),
    )
    assert results["with-auth"].status == Status.PASS, results["with-auth"].message
    assert results["without-auth"].status == Status.FAIL
    assert "[STATUS] = 401, limit == 200" in results["without-auth"].message


async def test_bearer_auth_by_reference(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_TEST_BEARER", BEARER_TOKEN)
    results = await run(
        item("ok", http(f"{servers.http}/bearer", auth={"bearer": {"env": "GOLIVE_TEST_BEARER"}})),
        item("missing", http(f"{servers.http}/bearer")),
    )
    assert results["ok"].status == Status.PASS, results["ok"].message
    assert results["missing"].observed["STATUS"] == 401


async def test_unset_secret_is_an_error_naming_the_variable(servers: Servers) -> None:
    config = http(f"{servers.http}/bearer", auth={"bearer": {"env": "GOLIVE_TEST_NEVER_SET"}})
    result = (await run(item("no-secret", config)))["no-secret"]
    assert result.status == Status.ERROR
    assert result.message == "secret not available: set the environment variable GOLIVE_TEST_NEVER_SET"


async def test_secrets_never_appear_in_results(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLIVE_TEST_API_KEY", API_KEY)
    monkeypatch.setenv("GOLIVE_TEST_BEARER", BEARER_TOKEN)
    monkeypatch.setenv("GOLIVE_TEST_BASIC_PASSWORD", BASIC_PASSWORD)
    secret_headers = {"X-Api-Key": {"env": "GOLIVE_TEST_API_KEY"}}
    bearer = {"bearer": {"env": "GOLIVE_TEST_BEARER"}}
    basic = {"basic": {"username": BASIC_USER, "password": {"env": "GOLIVE_TEST_BASIC_PASSWORD"}}}
    basic_header = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
    results = await run(
        item("echo-basic", http(f"{servers.http}/echo", auth=basic)),
        item("key", http(f"{servers.http}/api-key", secret_headers=secret_headers)),
        # The echo route sends back every header it received, secrets included.
        item("echo", http(f"{servers.http}/echo", secret_headers=secret_headers, auth=bearer)),
        item("wrong-key", http(f"{servers.http}/api-key", auth=bearer)),
    )
    assert results["key"].status == Status.PASS, results["key"].message
    assert results["wrong-key"].status == Status.FAIL
    echo = results["echo"]
    assert echo.status == Status.PASS, echo.message
    # The server received both (it echoes them back), and what the result carries is redacted.
    assert echo.observed["BODY"]["headers"]["x-api-key"] == "[REDACTED]"
    assert echo.observed["BODY"]["headers"]["authorization"] == "Bearer [REDACTED]"
    # A server echoing basic credentials shows them base64-encoded: redacted too.
    assert results["echo-basic"].observed["BODY"]["headers"]["authorization"] == "Basic [REDACTED]"
    for result in results.values():
        dumped = json.dumps([dict(result.observed), result.message, result.raw_message, str(result.evidence)])
        for secret in (API_KEY, BEARER_TOKEN, BASIC_PASSWORD, basic_header):
            assert secret not in dumped


async def test_condition_outcomes_do_not_show_secrets(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLIVE_TEST_API_KEY", API_KEY)
    config = http(f"{servers.http}/echo", secret_headers={"X-Api-Key": {"env": "GOLIVE_TEST_API_KEY"}})
    result = (await run(item("echo", config, conditions=["[BODY].headers.x-api-key != none"])))["echo"]
    assert result.conditions
    assert all(API_KEY not in outcome.message for outcome in result.conditions)


async def test_secret_headers_are_not_sent_to_another_origin(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLIVE_TEST_API_KEY", API_KEY)
    elsewhere = f"{servers.https}/echo"
    result = (
        await run(
            item(
                "hop",
                http(
                    f"{servers.http}/redirect-to?url={elsewhere}",
                    secret_headers={"X-Api-Key": {"env": "GOLIVE_TEST_API_KEY"}},
                    headers={"X-Release": "1.1.0"},
                    ca_file=str(servers.ca_file),
                ),
            )
        )
    )["hop"]
    assert result.status == Status.PASS, result.message
    received = result.observed["BODY"]["headers"]
    assert received["x-release"] == "1.1.0"  # plain headers follow the redirect
    assert "x-api-key" not in received


async def test_authorization_follows_a_redirect_only_within_the_origin(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLIVE_TEST_BEARER", BEARER_TOKEN)
    bearer = {"bearer": {"env": "GOLIVE_TEST_BEARER"}}
    elsewhere = f"{servers.http}/redirect-to?url={servers.https}/echo"
    results = await run(
        item("same", http(f"{servers.http}/redirect-to?url=/echo", auth=bearer)),
        item("elsewhere", http(elsewhere, auth=bearer, ca_file=str(servers.ca_file))),
    )
    assert results["same"].observed["BODY"]["headers"]["authorization"] == "Bearer [REDACTED]"
    assert results["elsewhere"].status == Status.PASS, results["elsewhere"].message
    assert "authorization" not in results["elsewhere"].observed["BODY"]["headers"]


async def test_a_cookie_set_by_a_redirect_is_sent_to_the_next_hop(servers: Servers) -> None:
    result = (await run(item("login", http(f"{servers.http}/login"))))["login"]
    assert result.status == Status.PASS, result.message
    assert result.observed["REDIRECTS"] == 1
    assert result.observed["BODY"]["headers"]["cookie"].startswith("hop=")


async def test_a_post_answered_with_302_goes_on_as_get_without_its_body(servers: Servers) -> None:
    config = http(f"{servers.http}/redirect-to?url=/echo", method="POST", json={"release": "1.1.0"})
    result = (await run(item("post", config)))["post"]
    assert result.status == Status.PASS, result.message
    assert result.observed["BODY"]["method"] == "GET"
    assert result.observed["BODY"]["body"] == ""


async def test_post_with_json_body(servers: Servers) -> None:
    result = (
        await run(
            item(
                "post",
                http(f"{servers.http}/echo", method="post", json={"release": "1.1.0"}),
                conditions=["[BODY].method == POST"],
            )
        )
    )["post"]
    assert result.status == Status.PASS, result.message
    assert json.loads(result.observed["BODY"]["body"]) == {"release": "1.1.0"}
    assert result.observed["BODY"]["headers"]["content-type"] == "application/json"


async def test_response_cookies_are_masked(servers: Servers) -> None:
    result = (await run(item("cookie", http(f"{servers.http}/cookie"))))["cookie"]
    assert result.observed["HEADERS"]["set-cookie"] == "session=[REDACTED]; Path=/; HttpOnly"


async def test_query_secrets_are_masked_in_evidence(servers: Servers) -> None:
    result = (await run(item("q", http(f"{servers.http}/json?access_token=abc123xyz&view=full"))))["q"]
    assert result.status == Status.PASS
    assert result.evidence is not None
    assert result.evidence.source == f"{servers.http}/json?access_token=REDACTED&view=full"
    assert "abc123xyz" not in json.dumps(dict(result.observed))


async def test_verified_tls_with_ca_file_observes_the_certificate(servers: Servers) -> None:
    result = (
        await run(
            item(
                "tls",
                http(f"{servers.https}/json", ca_file=str(servers.ca_file)),
                conditions=["[STATUS] == 200", "[CERT_DAYS] > 14"],
            )
        )
    )["tls"]
    assert result.status == Status.PASS, result.message
    assert 364 < result.observed["CERT_DAYS"] < 366
    expiry = datetime.fromisoformat(result.observed["CERT_EXPIRY"])
    assert expiry.tzinfo is not None


async def test_an_answer_without_a_body_still_shows_the_certificate(servers: Servers) -> None:
    # HEAD: the connection is done with before the response is handed over.
    config = http(f"{servers.https}/json", method="HEAD", ca_file=str(servers.ca_file))
    result = (await run(item("tls", config, conditions=["[CERT_DAYS] > 14"])))["tls"]
    assert result.status == Status.PASS, result.message
    assert 364 < result.observed["CERT_DAYS"] < 366


async def test_untrusted_certificate_is_a_verification_error(servers: Servers) -> None:
    result = (await run(item("tls", http(f"{servers.https}/json"))))["tls"]
    assert result.status == Status.ERROR
    port = servers.https.rsplit(":", 1)[1]
    assert result.message.startswith("certificate verify failed: ")
    assert f"(127.0.0.1:{port})" in result.message
    assert "TEMPORARY" not in result.observed  # retrying will not make it trusted


async def test_expiring_certificate_fails_a_days_limit(servers: Servers) -> None:
    result = (
        await run(
            item(
                "tls",
                http(f"{servers.expiring}/json", ca_file=str(servers.ca_file)),
                conditions=["[CERT_DAYS] > 14"],
            )
        )
    )["tls"]
    assert result.status == Status.FAIL
    days = result.observed["CERT_DAYS"]
    assert 4.9 < days <= 5
    assert f"[CERT_DAYS] = {days:.4g} days, limit > 14 days" in result.message


async def test_expired_certificate(servers: Servers) -> None:
    results = await run(
        item("verified", http(f"{servers.expired}/json", ca_file=str(servers.ca_file))),
        item(
            "unverified",
            http(f"{servers.expired}/json", verify_tls=False),
            conditions=["[STATUS] == 200", "[CERT_DAYS] > 0"],
        ),
    )
    assert results["verified"].status == Status.ERROR
    assert results["verified"].message.startswith("certificate verify failed: certificate has expired")
    unverified = results["unverified"]
    # Without verification the request goes through and the certificate is still read.
    assert unverified.observed["STATUS"] == 200
    assert -1.1 < unverified.observed["CERT_DAYS"] < -0.9
    assert unverified.status == Status.FAIL
    assert "limit > 0 days" in unverified.message


async def test_missing_ca_file_is_an_error(servers: Servers) -> None:
    result = (await run(item("tls", http(f"{servers.https}/json", ca_file="/nonexistent/ca.pem"))))["tls"]
    assert result.status == Status.ERROR
    assert result.message == "CA bundle not found: /nonexistent/ca.pem"


async def test_mutual_tls_with_a_client_certificate(servers: Servers) -> None:
    client_cert = {"cert_file": str(servers.client_cert), "key_file": str(servers.client_key)}
    results = await run(
        item(
            "mtls",
            http(f"{servers.mutual}/whoami", ca_file=str(servers.ca_file), client_cert=client_cert),
            conditions=["[STATUS] == 200", "[BODY].client == golive-probe"],
        ),
        item("no-cert", http(f"{servers.mutual}/whoami", ca_file=str(servers.ca_file))),
    )
    assert results["mtls"].status == Status.PASS, results["mtls"].message
    # Refused by the server's TLS, not a network hiccup: permanent, and it says why.
    no_cert = results["no-cert"]
    assert no_cert.status == Status.ERROR
    port = servers.mutual.rsplit(":", 1)[1]
    assert no_cert.message == f"TLS with 127.0.0.1:{port} failed: TLSV13_ALERT_CERTIFICATE_REQUIRED"
    assert "TEMPORARY" not in no_cert.observed
