"""URL-taking probes only reach hosts the checklist allows: every http(s) URL among the
probe parameters is checked at load, and redirects are checked when they happen."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from golive.bot.cli import app
from golive.checks.errors import ChecklistError
from golive.checks.hosts import URL_FIELDS, host_allowed, probe_urls
from golive.checks.loader import loads
from golive.checks.probe import all_probe_types
from golive.checks.runner import run_checklist
from golive.checks.status import Status
from tests.checks.reports.support import DATA


def checklist(items: list[dict[str, Any]], allowed_hosts: list[str] | None) -> str:
    document: dict[str, Any] = {
        "release": {"name": "Shop", "version": "2.0.0"},
        "phases": [{"id": "p1", "title": "P1", "sections": [{"id": "s1", "title": "S1", "items": items}]}],
    }
    if allowed_hosts is not None:
        document["allowed_hosts"] = allowed_hosts
    return yaml.safe_dump(document)


def item(item_id: str, probe: dict[str, Any]) -> dict[str, Any]:
    return {"id": item_id, "title": item_id, "probe": probe}


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, (*path, str(key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, (*path, str(index)))
    elif isinstance(value, str):
        yield path, value


def test_every_url_in_every_probe_example_is_found() -> None:
    """A new probe type whose URL parameter has another name fails here: name the field
    after URL_FIELDS (or add its name there), so allowed_hosts covers it."""
    for name, kind in all_probe_types().items():
        config = kind.config_model.model_validate(dict(kind.example))
        found = {url for _, url in probe_urls(config)}
        for path, value in _strings(dict(kind.example)):
            if value.startswith(("http://", "https://")):
                assert value in found, (
                    f"{name}: {'.'.join(path)} holds a URL; fields checked: {sorted(URL_FIELDS)}"
                )


@pytest.mark.parametrize(
    ("host", "patterns", "allowed"),
    [
        ("erp.valeo.example", ["*.valeo.example"], True),
        ("ERP.Valeo.Example.", ["*.valeo.example"], True),
        ("valeo.example", ["*.valeo.example"], False),
        ("valeo.example.evil.test", ["*.valeo.example"], False),
        ("127.0.0.1", ["127.0.0.1"], True),
        ("127.0.0.2", ["127.0.0.1"], False),
        ("::1", ["[::1]"], True),
        ("anything", None, True),
        ("anything", [], False),
    ],
)
def test_host_patterns(host: str, patterns: list[str] | None, allowed: bool) -> None:
    assert host_allowed(host, patterns) is allowed


def test_urls_outside_allowed_hosts_fail_at_load_naming_item_and_field() -> None:
    items = [
        item("ok", {"type": "http", "url": "https://erp.valeo.example/health"}),
        item("local", {"type": "http", "url": "http://127.0.0.1:8080/health"}),
        item("evil", {"type": "http", "url": "http://169.254.169.254/latest/meta-data/"}),
        item("docs", {"type": "openapi", "document": "https://docs.elsewhere.test/openapi.json"}),
        item("k6", {"type": "k6", "summary": "https://ci.elsewhere.test/k6.json"}),
        item("k6-file", {"type": "k6", "summary": "reports/k6.json"}),
        item(
            "scans",
            {"type": "vuln_report", "reports": ["reports/a.json", "https://s3.elsewhere.test/b.json"]},
        ),
        item(
            "mirror",
            {
                "type": "registry",
                "url": "https://registry.valeo.example",
                "images": ["valeo/api"],
                "mirror": {"url": "https://mirror.elsewhere.test"},
            },
        ),
        item("kube", {"type": "kube_services", "server": "https://10.0.0.1:6443", "namespace": "valeo"}),
    ]
    with pytest.raises(ChecklistError) as caught:
        loads(checklist(items, ["*.valeo.example", "127.0.0.1"]), env={})
    found = {(p.where, p.field) for p in caught.value.problems}
    assert found == {
        ("item evil", "probe.url"),
        ("item docs", "probe.document"),
        ("item k6", "probe.summary"),
        ("item scans", "probe.reports.1"),
        ("item mirror", "probe.mirror.url"),
        ("item kube", "probe.server"),
    }, caught.value
    assert "host 169.254.169.254 is not in allowed_hosts (*.valeo.example, 127.0.0.1)" in str(caught.value)


def test_rollback_triggers_prometheus_is_checked_too() -> None:
    """The rollback watch queries each trigger's prometheus_url after GO."""
    document = yaml.safe_load(checklist([item("ok", {"type": "manual"})], ["*.valeo.example"]))
    document["rollback"] = {
        "triggers": [
            {
                "name": "Errors",
                "description": "5xx",
                "condition": "up == 0",
                "prometheus_url": "https://prometheus.valeo.example",
            },
            {
                "name": "Latency",
                "description": "p95",
                "condition": "up == 0",
                "prometheus_url": "http://10.1.2.3:9090",
            },
        ]
    }
    with pytest.raises(ChecklistError) as caught:
        loads(yaml.safe_dump(document), env={})
    assert [str(p) for p in caught.value.problems] == [
        "rollback: triggers.1.prometheus_url: host 10.1.2.3 is not in allowed_hosts (*.valeo.example)"
    ]
    del document["allowed_hosts"]
    assert (
        loads(yaml.safe_dump(document), env={}).rollback.triggers[1].prometheus_url == "http://10.1.2.3:9090"
    )


def test_without_allowed_hosts_every_host_loads() -> None:
    items = [item("evil", {"type": "http", "url": "http://169.254.169.254/latest/meta-data/"})]
    assert loads(checklist(items, None), env={}).allowed_hosts is None


def test_a_url_in_a_json_body_is_no_target() -> None:
    items = [
        item(
            "post",
            {
                "type": "http",
                "url": "http://127.0.0.1/x",
                "method": "POST",
                "json": {"url": "https://elsewhere.test/"},
            },
        )
    ]
    loads(checklist(items, ["127.0.0.1"]), env={})


def test_patterns_are_hosts_not_urls() -> None:
    with pytest.raises(ChecklistError) as caught:
        loads(checklist([item("m", {"type": "manual"})], ["https://erp.valeo.example/"]), env={})
    assert [(p.where, p.field) for p in caught.value.problems] == [("checklist", "allowed_hosts.0")]


class _Redirector(BaseHTTPRequestHandler):
    """/away redirects to the same server under the name ``localhost``: another host."""

    def do_GET(self) -> None:
        port = self.headers.get("Host", "").rpartition(":")[2]
        if self.path.startswith("/away"):
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{port}/{self.path.removeprefix('/away/')}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = (DATA / "k6-handle-summary.json").read_bytes() if self.path.endswith(".json") else b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("allowed", [["127.0.0.1"], None])
async def test_redirects_are_checked_when_they_happen(redirector: int, allowed: list[str] | None) -> None:
    base = f"http://127.0.0.1:{redirector}"
    items = [
        item("direct", {"type": "http", "url": f"{base}/health"}),
        item("redirected", {"type": "http", "url": f"{base}/away/health"}),
        item("report", {"type": "k6", "summary": f"{base}/away/k6.json"}),
        item(
            "pipeline",
            {
                "type": "pipeline",
                "provider": "github",
                "repo": "valeo/erp",
                "tag": "v1",
                "api_url": f"{base}/away",
            },
        ),
    ]
    loaded = loads(checklist(items, allowed), env={})
    results = (await run_checklist(loaded)).results
    assert results["direct"].status is Status.PASS
    if allowed is None:
        assert results["redirected"].status is Status.PASS
        assert results["report"].status is not Status.ERROR, results["report"].message
        assert "allowed_hosts" not in results["pipeline"].message
    else:
        for item_id in ("redirected", "report", "pipeline"):
            assert results[item_id].status is Status.ERROR
            assert "redirected to localhost, which allowed_hosts does not list" in results[item_id].message


def test_validate_warns_without_allowed_hosts(tmp_path: Path) -> None:
    path = tmp_path / "checklist.yaml"
    items = [item("health", {"type": "http", "url": "http://127.0.0.1:9/health"})]
    path.write_text(checklist(items, None))
    result = CliRunner().invoke(app, ["validate", "--checklist", str(path)])
    assert result.exit_code == 0 and "warning: no allowed_hosts" in result.output
    path.write_text(checklist(items, ["127.0.0.1"]))
    result = CliRunner().invoke(app, ["validate", "--checklist", str(path)])
    assert result.exit_code == 0 and "allowed_hosts" not in result.output


def validate_output(path: Path, document: str, env: dict[str, str] | None = None) -> str:
    path.write_text(document)
    result = CliRunner().invoke(app, ["validate", "--checklist", str(path)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_validate_says_nothing_of_allowed_hosts_when_no_probe_reaches_a_url(tmp_path: Path) -> None:
    items = [
        item("runbook", {"type": "manual"}),
        item("smoke", {"type": "command", "argv": ["true"]}),
        item("cluster", {"type": "kube_workloads", "namespace": "shop"}),
    ]
    output = validate_output(tmp_path / "checklist.yaml", checklist(items, None))
    assert "valid" in output and "allowed_hosts" not in output


def test_validate_warns_of_a_url_an_unset_variable_will_fill(tmp_path: Path) -> None:
    items = [
        item("runbook", {"type": "manual"}),
        item("health", {"type": "http", "url": "${SHOP_HEALTH_URL}"}),
    ]
    output = validate_output(tmp_path / "checklist.yaml", checklist(items, None), env={"SHOP_HEALTH_URL": ""})
    assert "SHOP_HEALTH_URL" in output and "warning: no allowed_hosts" in output


def test_validate_warns_of_a_rollback_triggers_prometheus(tmp_path: Path) -> None:
    document = yaml.safe_load(checklist([item("runbook", {"type": "manual"})], None))
    document["rollback"] = {
        "triggers": [
            {
                "name": "Errors",
                "description": "5xx",
                "prometheus_url": "http://127.0.0.1:9/",
                "condition": "up == 0",
            }
        ]
    }
    output = validate_output(tmp_path / "checklist.yaml", yaml.safe_dump(document))
    assert "warning: no allowed_hosts" in output
