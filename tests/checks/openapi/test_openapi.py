"""The openapi probe, reading documents over HTTP from 127.0.0.1 and from files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.families.openapi import OpenApiConfig
from golive.checks.loader import loads
from golive.checks.probe import probe_type
from golive.checks.results import ItemResult
from golive.checks.status import Status
from tests.checks.http.support import checklist_yaml, item, run
from tests.checks.pipeline.fake_forges import FakeServer, Reply, Request, serving

TOKEN = "docs-token-5b1f77"
TOKEN_ENV = "GOLIVE_TEST_DOCS_TOKEN"


def spec(version: Any = "1.1.0", **top: Any) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "VALEO NeuroERP API", "version": version},
        "paths": {"/orders": {}, "/orders/{id}": {}, "/health": {}},
        **top,
    }


@dataclass
class DocumentSite:
    """Serves documents by path; ``/private/…`` wants the bearer token."""

    documents: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def handle(self, request: Request, base_url: str) -> Reply:
        if request.path.startswith("/private/") and request.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"message": "unauthorised"}, {"WWW-Authenticate": "Bearer"})
        if request.path not in self.documents:
            return Reply(404, "not found")
        kind, content = self.documents[request.path]
        return Reply(200, content, {"Content-Type": kind})


@pytest.fixture(scope="session")
def site_server() -> Iterator[FakeServer]:
    with serving(DocumentSite()) as server:
        yield server


@pytest.fixture
def site(site_server: FakeServer) -> DocumentSite:
    fresh = DocumentSite()
    site_server.api = fresh
    return fresh


@pytest.fixture
def site_url(site_server: FakeServer) -> str:
    return site_server.base_url


async def run_one(document: str, **config: Any) -> ItemResult:
    return (await run(item("api-docs", {"type": "openapi", "document": document, **config})))["api-docs"]


async def test_json_document_of_the_release_passes(site: DocumentSite, site_url: str) -> None:
    site.documents["/openapi.json"] = ("application/json", json.dumps(spec()).encode())
    result = await run_one(f"{site_url}/openapi.json")
    assert result.status == Status.PASS, result.message
    assert result.observed == {
        "VERSION": "1.1.0",
        "TITLE": "VALEO NeuroERP API",
        "OPENAPI": "3.0.3",
        "PATHS": 3,
    }
    assert result.evidence is not None
    assert result.evidence.link == f"{site_url}/openapi.json"


async def test_version_mismatch_fails_showing_both_versions(site: DocumentSite, site_url: str) -> None:
    site.documents["/openapi.json"] = ("application/json", json.dumps(spec("1.0.9")).encode())
    result = await run_one(f"{site_url}/openapi.json")
    assert result.status == Status.FAIL
    assert "[VERSION] = 1.0.9, limit == [RELEASE_VERSION] (1.1.0)" in result.message
    assert "OpenAPI 3.0.3 document 'VALEO NeuroERP API': info.version 1.0.9, 3 paths" in result.message


async def test_yaml_file_keeps_versions_as_written(tmp_path: Path) -> None:
    document = tmp_path / "swagger.yaml"
    document.write_text(
        "swagger: 2.0\n"  # unquoted: YAML would make these floats
        "info:\n  title: Legacy ERP API\n  version: 1.10\n"
        "paths:\n  /invoices:\n    get: {}\n"
    )
    result = await run_one(str(document))
    assert result.status == Status.FAIL
    assert result.observed == {"VERSION": "1.10", "TITLE": "Legacy ERP API", "OPENAPI": "2.0", "PATHS": 1}
    assert "[VERSION] = 1.10, limit == [RELEASE_VERSION] (1.1.0)" in result.message
    assert "Swagger 2.0 document" in result.message


async def test_yaml_over_http_with_a_bearer_token(
    site: DocumentSite, site_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_text = "openapi: 3.1.0\ninfo:\n  title: ERP\n  version: '1.1.0'\nwebhooks: {}\n"
    site.documents["/private/openapi.yaml"] = ("application/yaml", yaml_text.encode())
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    url = f"{site_url}/private/openapi.yaml"
    result = await run_one(url, auth={"bearer": {"env": TOKEN_ENV}})
    assert result.status == Status.PASS, result.message
    assert result.observed["PATHS"] == 0  # OpenAPI 3.1 may describe webhooks only

    refused = await run_one(url)
    assert refused.status == Status.ERROR
    assert "HTTP 401, not authorised" in refused.message


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the document is empty"),
        (b"}{ : not: [ a spec", "neither JSON nor valid YAML"),
        (b"hello world", "not an OpenAPI document: expected a mapping with openapi and info, found the text"),
        (b"- a\n- list\n", "found a list"),
        (b'{"openapi": "3.0.3", "info": {"title": "x"', "not valid JSON"),
        (b"<!DOCTYPE html><html><title>Swagger UI</title></html>", "a Swagger UI page?"),
        (json.dumps({"info": {"version": "1.1.0"}}).encode(), "no 'openapi' or 'swagger' version field"),
        (json.dumps(spec(None)).encode(), "the OpenAPI document has no info.version (found nothing)"),
        (json.dumps({"openapi": "3.0.0", "info": "v1"}).encode(), "has no info.version"),
        (b"\xff\xfe\x00garbage", "invalid UTF-8"),
    ],
)
async def test_garbage_is_an_error_saying_what_was_found(tmp_path: Path, content: bytes, words: str) -> None:
    document = tmp_path / "openapi.json"
    document.write_bytes(content)
    result = await run_one(str(document))
    assert result.status == Status.ERROR
    assert words in result.message
    assert str(document) in result.message


async def test_missing_document_is_an_error(site: DocumentSite, site_url: str) -> None:
    result = await run_one(f"{site_url}/v3/api-docs")
    assert result.status == Status.ERROR
    assert "HTTP 404" in result.message


def test_example_loads_and_inline_tokens_are_refused() -> None:
    kind = probe_type("openapi")
    loaded = loads(checklist_yaml(item("docs", dict(kind.example))), env={}).item("docs")
    assert isinstance(loaded.config, OpenApiConfig)
    assert [c.text for c in loaded.parsed_conditions] == ["[VERSION] == [RELEASE_VERSION]"]
    with pytest.raises(ChecklistError) as caught:
        loads(checklist_yaml(item("docs", {**kind.example, "auth": {"bearer": "inline"}})), env={})
    (problem,) = caught.value.problems
    assert problem.field == "probe.auth.bearer"
