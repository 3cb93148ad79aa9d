"""The real ``golive serve`` as a child process, for tests of what only a process shows:
its JSON log lines on stderr, its /metrics and /readyz over HTTP, SIGTERM and exit code.

Slack is the fake Slack of fake_slack.py in the test's own event loop; commands are
signed with the signing secret exactly as Slack signs them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.signature import SignatureVerifier

from tests.services import free_port

from .fake_slack import BOT_TOKEN, FakeSlack
from .slack_support import CHANNEL, DEVOPS, SIGNING_SECRET, checklist_file

API_KEY_ENV = "GOLIVE_TEST_API_KEY"
API_KEY = "k3y-d0-n0t-l0g-7f2c9e41"
START_TIMEOUT = 90.0


class KeyTarget(ThreadingHTTPServer):
    """Answers every GET after ``delay`` seconds with status ``status`` and a JSON body that
    echoes the X-Api-Key it received: a target that hands the secret back."""

    daemon_threads = True
    status = 503
    delay = 0.0


class _KeyHandler(BaseHTTPRequestHandler):
    server: KeyTarget

    def do_GET(self) -> None:
        time.sleep(self.server.delay)
        body = json.dumps({"status": "DOWN", "key": self.headers.get("X-Api-Key")}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def key_target() -> Iterator[KeyTarget]:
    server = KeyTarget(("127.0.0.1", 0), _KeyHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def checklist_with_secret(folder: Path, target_port: int, *, timeout: str = "10s") -> Path:
    """slack_support's checklist, its http item sending ``$GOLIVE_TEST_API_KEY`` as a header
    and failing on the echoed key, so the secret reaches the condition's message."""
    path = checklist_file(folder, target_port)
    document = yaml.safe_load(path.read_text())
    document["defaults"] = {"timeout": timeout}
    item = document["phases"][0]["sections"][0]["items"][0]
    item["probe"]["secret_headers"] = {"X-Api-Key": {"env": API_KEY_ENV}}
    item["conditions"] = ["[STATUS] == 200", "[BODY].key == none"]
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return path


@dataclass
class ServeProcess:
    process: asyncio.subprocess.Process
    url: str
    db_url: str
    stderr: Path

    def log_lines(self) -> list[str]:
        return self.stderr.read_text(encoding="utf-8").splitlines()

    def log_records(self) -> list[dict[str, Any]]:
        """Every stderr line as JSON; a line that is not JSON fails the test, named."""
        records = []
        for number, line in enumerate(self.log_lines(), 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"stderr line {number} is not JSON: {line!r}") from None
            assert isinstance(record, dict), line
            records.append(record)
        return records

    async def terminate(self, timeout: float = 60.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), timeout)


def environment(extra: Mapping[str, str]) -> dict[str, str]:
    # The developer's own Slack or golive settings must not leak into the child.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "GOLIVE_", "PG"))}
    return {**inherited, **extra}


@asynccontextmanager
async def serve_process(
    folder: Path,
    checklist: Path,
    slack: FakeSlack | None,
    env: Mapping[str, str] | None = None,
    *,
    db_url: str | None = None,
    name: str = "serve",
) -> AsyncIterator[ServeProcess]:
    """``db_url``: default a SQLite file in ``folder``; ``name``: of its stderr file, so
    that several processes can share a folder."""
    port = free_port()
    db_url = db_url or f"sqlite:///{folder / 'golive.db'}"
    settings = {"PORT": str(port), "HOST": "127.0.0.1", "GOLIVE_DB_URL": db_url}
    if slack is not None:
        settings |= {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "GOLIVE_CHANNEL": CHANNEL,
        }
    stderr = folder / f"{name}.stderr"
    with stderr.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "golive", "serve", "--checklist", str(checklist),
            env=environment({**settings, **(env or {})}),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=errors,
            cwd=folder,
        )
    served = ServeProcess(process, f"http://127.0.0.1:{port}", db_url, stderr)
    try:
        await _wait_until_up(served)
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _wait_until_up(served: ServeProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            if served.process.returncode is not None:
                log = "\n".join(served.log_lines())
                raise AssertionError(f"golive serve exited {served.process.returncode}:\n{log}")
            try:
                if (await http.get(f"{served.url}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("golive serve did not answer /healthz:\n" + "\n".join(served.log_lines()))


async def command(
    http: httpx.AsyncClient, served: ServeProcess, text: str, user: str = DEVOPS
) -> httpx.Response:
    """``/golive <text>``, signed like Slack signs it."""
    body = urlencode(
        {
            "team_id": "T0TEST",
            "channel_id": CHANNEL,
            "user_id": user,
            "command": "/golive",
            "text": text,
            "api_app_id": "A0TEST",
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": "1337.42.abcd",
        }
    )
    return await _post_signed(http, served, body)


async def action(
    http: httpx.AsyncClient, served: ServeProcess, action_id: str, value: str, user: str
) -> httpx.Response:
    """A click on a button of a message in the channel, signed like Slack signs it."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0TEST",
        "team": {"id": "T0TEST", "domain": "test"},
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": CHANNEL},
        "channel": {"id": CHANNEL, "name": "release"},
        "trigger_id": "1337.42.efgh",
        "message": {"ts": "1700000000.000001", "text": ""},
        "actions": [{"action_id": action_id, "block_id": f"b-{value}", "value": value, "type": "button"}],
    }
    return await _post_signed(http, served, f"payload={quote(json.dumps(payload))}")


async def _post_signed(http: httpx.AsyncClient, served: ServeProcess, body: str) -> httpx.Response:
    stamp = str(int(time.time()))
    headers = {
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
        or "",
        "content-type": "application/x-www-form-urlencoded",
    }
    return await http.post(f"{served.url}/slack/events", content=body, headers=headers)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(http: httpx.AsyncClient, url: str) -> Samples:
    response = await http.get(f"{url}/metrics")
    response.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; a missing series fails with the names that exist."""
    key = (name, frozenset(labels.items()))
    if key not in samples:
        known = sorted({n for n, _ in samples if n.startswith(name)})
        raise AssertionError(f"no sample {name}{labels}; samples of that name: {known}")
    return samples[key]
