"""The verdict API on golive serve's HTTP application: tokens, ETag, phases, runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest
from aiohttp import web

from golive.bot.core import usecases
from golive.bot.gate.api import RateLimit, install
from golive.bot.gate.tokens import ApiTokens, parse_tokens
from golive.bot.serve.http import http_app
from golive.checks.loader import load
from golive.checks.model import Checklist
from golive.storage import Store

from .gate_support import ARGO_TOKEN, CI_TOKEN, DEVOPS, TOKENS, gate_checklist, target
from .slack_support import Target

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Api:
    url: str
    http: httpx.AsyncClient
    store: Store
    checklist: Checklist
    target: Target

    async def get(self, path: str, token: str | None = CI_TOKEN, **headers: str) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.get(self.url + path, headers=headers)


async def serve_api(folder: Path, tokens: ApiTokens, limit: RateLimit | None = None) -> AsyncIterator[Api]:
    with target() as server:
        store = await Store.open(f"sqlite:///{folder / 'golive.db'}")
        checklist = load(gate_checklist(folder, server.server_address[1]), env={})
        application = http_app(None, store)
        install(application, store, tokens, limit)
        runner = web.AppRunner(application)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                yield Api(f"http://127.0.0.1:{port}", http, store, checklist, server)
        finally:
            await runner.cleanup()
            await store.close()


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for served in serve_api(tmp_path, ApiTokens(fixed=parse_tokens(TOKENS.split(","), "test"))):
        yield served


async def test_without_tokens_the_api_is_off(tmp_path: Path) -> None:
    async for api in serve_api(tmp_path, ApiTokens()):
        await usecases.execute_run(api.checklist, api.store)
        assert (await api.get("/api/v1/verdict")).status_code == 404
        assert (await api.get("/api/v1/runs/1")).status_code == 404
        assert (await api.get("/healthz", token=None)).status_code == 200


async def test_a_missing_or_wrong_token_is_refused(api: Api) -> None:
    await usecases.execute_run(api.checklist, api.store)
    missing = await api.get("/api/v1/verdict", token=None)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await api.get("/api/v1/verdict", token=CI_TOKEN + "x")).status_code == 401
    assert (await api.get("/api/v1/verdict", token=CI_TOKEN[:-1])).status_code == 401
    basic = await api.http.get(api.url + "/api/v1/verdict", headers={"Authorization": f"Basic {CI_TOKEN}"})
    assert basic.status_code == 401
    assert CI_TOKEN not in missing.text
    assert (await api.get("/api/v1/verdict", token=ARGO_TOKEN)).status_code == 200


async def test_the_verdict_is_the_status_document_and_follows_sign_offs(api: Api) -> None:
    unstored = await api.get("/api/v1/verdict")
    assert unstored.status_code == 503  # nothing to decide on yet: not GO
    run_id, _ = await usecases.execute_run(api.checklist, api.store)
    answer = await api.get("/api/v1/verdict")
    assert answer.status_code == 200
    document = answer.json()
    assert document["run_id"] == run_id
    assert document["release"] == {"name": "Shop", "version": "2.0.0"}
    assert document["checklist"]["digest"] == api.checklist.digest
    assert document["verdict"]["go"] is False
    assert [b["subject"] for b in document["verdict"]["blockers"]] == ["signoff:devops"]
    schema = json.loads((ROOT / "schema" / "state.schema.json").read_text())
    jsonschema.validate(document, schema)

    await usecases.sign_off(api.checklist, api.store, "devops", user=DEVOPS)
    signed = (await api.get("/api/v1/verdict")).json()
    assert signed["verdict"] == {"decision": "GO", "go": True, "blockers": []}
    [signoff] = signed["signoffs"]
    assert (signoff["signed_by"], signoff["run_id"]) == (DEVOPS, run_id)
    assert signoff["signed_at"] is not None


async def test_an_unchanged_verdict_is_answered_304(api: Api) -> None:
    await usecases.execute_run(api.checklist, api.store)
    first = await api.get("/api/v1/verdict")
    tag = first.headers["ETag"]
    again = await api.get("/api/v1/verdict", **{"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    await usecases.sign_off(api.checklist, api.store, "devops", user=DEVOPS)
    changed = await api.get("/api/v1/verdict", **{"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != tag
    assert changed.json()["verdict"]["go"] is True


async def test_a_phase_is_go_when_its_own_items_pass(api: Api) -> None:
    api.target.status = 503
    await usecases.execute_run(api.checklist, api.store, phase="post")
    api.target.status = 200
    await usecases.execute_run(api.checklist, api.store, phase="pre")
    pre = (await api.get("/api/v1/verdict?phase=pre")).json()
    assert pre["phase"] == "pre"
    assert [i["id"] for i in pre["items"]] == ["health"]
    assert pre["verdict"]["go"] is True
    post = (await api.get("/api/v1/verdict?phase=post")).json()
    assert post["verdict"]["go"] is False
    assert [b["subject"] for b in post["verdict"]["blockers"]] == ["smoke"]
    unknown = await api.get("/api/v1/verdict?phase=nope")
    assert unknown.status_code == 400
    assert "pre, post" in unknown.json()["error"]


async def test_a_run_is_answered_with_its_own_results(api: Api) -> None:
    first, _ = await usecases.execute_run(api.checklist, api.store)
    api.target.status = 503
    second, _ = await usecases.execute_run(api.checklist, api.store)
    old = (await api.get(f"/api/v1/runs/{first}")).json()
    assert old["run_id"] == first
    assert {i["id"]: i["status"] for i in old["items"] if i["kind"] == "auto"} == {
        "health": "PASS",
        "smoke": "PASS",
    }
    new = (await api.get(f"/api/v1/runs/{second}")).json()
    assert {i["id"]: i["status"] for i in new["items"] if i["kind"] == "auto"} == {
        "health": "FAIL",
        "smoke": "FAIL",
    }
    assert (await api.get("/api/v1/runs/999")).status_code == 404
    assert (await api.get("/api/v1/runs/abc")).status_code == 400


async def test_requests_beyond_the_rate_are_refused_per_token(tmp_path: Path) -> None:
    tokens = ApiTokens(fixed=parse_tokens(TOKENS.split(","), "test"))
    async for api in serve_api(tmp_path, tokens, RateLimit(rate=0.01, burst=3)):
        await usecases.execute_run(api.checklist, api.store)
        codes = [(await api.get("/api/v1/verdict")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = await api.get("/api/v1/verdict")
        assert int(limited.headers["Retry-After"]) > 0
        assert (await api.get("/api/v1/verdict", token=ARGO_TOKEN)).status_code == 200


def test_tokens_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# pipelines\nci={CI_TOKEN}\n")
    tokens = ApiTokens.from_variables({"GOLIVE_API_TOKENS_FILE": str(path)})
    assert tokens.holder(CI_TOKEN) == "ci"
    path.write_text(f"argo={ARGO_TOKEN}\n")  # ci revoked
    assert tokens.holder(CI_TOKEN) is None
    assert tokens.holder(ARGO_TOKEN) == "argo"
    path.write_text("argo\n")  # a broken edit keeps the tokens in force
    assert tokens.holder(ARGO_TOKEN) == "argo"


def test_malformed_tokens_are_named_without_their_secret() -> None:
    with pytest.raises(ValueError, match="entry 2 is not name=token") as bad:
        ApiTokens.from_variables({"GOLIVE_API_TOKENS": f"ci={CI_TOKEN},{ARGO_TOKEN}"})
    assert ARGO_TOKEN not in str(bad.value)
    with pytest.raises(ValueError, match=r"\(ci\): the token has 5 characters"):
        ApiTokens.from_variables({"GOLIVE_API_TOKENS": "ci=short"})
    assert not ApiTokens.from_variables({}).enabled


def test_the_rate_limit_refills_and_forgets_idle_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("golive.bot.gate.api.MAX_BUCKETS", 3)
    now = [0.0]
    limit = RateLimit(rate=1.0, burst=2, clock=lambda: now[0])
    assert [limit.wait("a"), limit.wait("a")] == [0.0, 0.0]
    assert limit.wait("a") == pytest.approx(1.0)
    now[0] = 1.0
    assert limit.wait("a") == 0.0  # refilled one
    limit.wait("b")
    limit.wait("c")
    now[0] = 10.0  # all refilled: a fourth client makes room by forgetting them
    assert limit.wait("d") == 0.0
    assert set(limit._buckets) == {"d"}
