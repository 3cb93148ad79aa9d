"""Throwaway Prometheus and Alertmanager servers: the Debian packages ``prometheus`` and
``prometheus-alertmanager`` (upstream's binary is ``alertmanager``), each started from a
temporary directory on a free loopback port and removed at stop::

    with PrometheusServer(scrape={"api": ["127.0.0.1:8080"]}, rules={"r.yml": RULES}) as prom:
        prom.wait_for_targets(2)          # service discovery hands targets over after ~5 s
        prom.wait_for_rules()
        ... prom.url ...

    with AlertmanagerServer(config=AM_CONFIG) as am:
        ... am.url ...

Prometheus scrapes itself (job ``prometheus``) unless ``scrape_self=False``; scrape and
rule evaluation run every second. Readiness is polled with a deadline, never slept for.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import httpx
import yaml

from . import free_port

HOST = "127.0.0.1"
_START_ATTEMPTS = 3  # another process may take the free port before the server binds it
_NEVER_EVALUATED = "0001-01-01T00:00:00Z"


class ServiceStartError(RuntimeError):
    pass


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def alertmanager_binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def prometheus_unavailable_reason() -> str | None:
    if prometheus_binary() is None:
        return "no 'prometheus' binary; install the Debian package 'prometheus'"
    return None


def alertmanager_unavailable_reason() -> str | None:
    if alertmanager_binary() is None:
        return "no 'prometheus-alertmanager' binary; install the Debian package 'prometheus-alertmanager'"
    return None


@contextlib.contextmanager
def closed_port(host: str = HOST) -> Iterator[int]:
    """A port that refuses connections for as long as the block runs: bound, never
    listening, so no other server can take it meanwhile (a free port could be taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((host, 0))
        port: int = holder.getsockname()[1]
        yield port


class _Daemon:
    """One server process: files in a temporary directory, a port, a log, a ready check."""

    service = "server"
    ready_path = "/-/ready"

    def __init__(self, binary: str | None, *, prefix: str = "", auth: tuple[str, str] | None = None) -> None:
        if binary is None:
            raise ServiceStartError(f"no {self.service} binary")
        self.binary = binary
        self.prefix = prefix.rstrip("/")
        self.auth = auth
        self.port = 0
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        if self._root is None:
            raise RuntimeError("call start() first")
        return self._root

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.prefix}"

    @property
    def log_file(self) -> Path:
        return self.root / f"{self.service}.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def command(self) -> list[str]:
        raise NotImplementedError

    def write_files(self) -> None:
        """Write the config; called again for each start attempt (the port may change)."""

    def start(self) -> Self:
        self._root = Path(tempfile.mkdtemp(prefix=f"golive-{self.service}-"))
        for attempt in range(_START_ATTEMPTS):
            self.port = free_port(HOST)
            self.write_files()
            with self.log_file.open("ab") as log:
                self._process = subprocess.Popen(
                    self.command(), cwd=self.root, stdout=log, stderr=subprocess.STDOUT
                )
            try:
                self._wait_ready()
                return self
            except ServiceStartError:
                exited = self._process.poll() is not None
                self._terminate()
                if (
                    not (exited and "address already in use" in self.log_tail())
                    or attempt + 1 == _START_ATTEMPTS
                ):
                    self.stop()
                    raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        self._terminate()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def get_json(self, path: str, **params: str) -> Any:
        response = httpx.get(self.url + path, params=params, auth=self.auth, timeout=5)
        response.raise_for_status()
        return response.json()

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float = 30) -> None:
        """Poll ``predicate`` until it holds; fail naming ``what`` (and the log) at the deadline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if predicate():
                    return
            if self._process is not None and self._process.poll() is not None:
                break
            time.sleep(0.1)
        raise ServiceStartError(
            f"{self.service} on {self.url}: {what} did not happen within {timeout:g}s\n"
            f"--- {self.log_file} ---\n{self.log_tail()}"
        )

    def _wait_ready(self) -> None:
        def ready() -> bool:
            return httpx.get(self.url + self.ready_path, auth=self.auth, timeout=1).status_code == 200

        self.wait_for("readiness", ready)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class PrometheusServer(_Daemon):
    service = "prometheus"

    def __init__(
        self,
        *,
        scrape: Mapping[str, Sequence[str]] | None = None,
        scrape_self: bool = True,
        rules: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        interval: str = "1s",
        route_prefix: str = "",
        web_config: Mapping[str, Any] | None = None,
        auth: tuple[str, str] | None = None,
        agent: bool = False,
        binary: str | None = None,
    ) -> None:
        """``scrape``: job → targets; ``rules``: file name → rule YAML; ``args``: more flags
        (e.g. retention); ``web_config``: ``--web.config.file`` (basic auth users), with
        ``auth`` the credentials this class itself then polls with; ``agent``: agent mode
        (2.x ``--enable-feature=agent``: no TSDB, no rules)."""
        super().__init__(binary or prometheus_binary(), prefix=route_prefix, auth=auth)
        self.scrape = dict(scrape or {})
        self.scrape_self = scrape_self
        self.rules = dict(rules or {})
        self.args = list(args)
        self.interval = interval
        self.web_config = web_config
        self.agent = agent

    def command(self) -> list[str]:
        command = [
            self.binary,
            f"--config.file={self.root / 'prometheus.yml'}",
            f"--web.listen-address={HOST}:{self.port}",
        ]
        if self.agent:
            command += [f"--storage.agent.path={self.root / 'agent'}", "--enable-feature=agent"]
        else:
            command.append(f"--storage.tsdb.path={self.root / 'data'}")
        if self.prefix:
            command.append(f"--web.route-prefix={self.prefix}")
        if self.web_config is not None:
            command.append(f"--web.config.file={self.root / 'web.yml'}")
        return command + self.args

    def write_files(self) -> None:
        scrape_configs: list[dict[str, Any]] = []
        if self.scrape_self:
            own: dict[str, Any] = {
                "job_name": "prometheus",
                "static_configs": [{"targets": [f"{HOST}:{self.port}"]}],
            }
            if self.prefix:
                own["metrics_path"] = f"{self.prefix}/metrics"
            if self.auth is not None:
                own["basic_auth"] = {"username": self.auth[0], "password": self.auth[1]}
            scrape_configs.append(own)
        scrape_configs += [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            for job, targets in self.scrape.items()
        ]
        config = {
            "global": {"scrape_interval": self.interval, "evaluation_interval": self.interval},
            "rule_files": sorted(self.rules),
            "scrape_configs": scrape_configs,
        }
        (self.root / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        for name, text in self.rules.items():
            (self.root / name).write_text(text)
        if self.web_config is not None:
            (self.root / "web.yml").write_text(yaml.safe_dump(dict(self.web_config)))

    def wait_for_targets(self, count: int, timeout: float = 30) -> None:
        """Until ``count`` active targets have been scraped once (up or down)."""

        def scraped() -> bool:
            targets = self.get_json("/api/v1/targets", state="active")["data"]["activeTargets"]
            return len(targets) >= count and all(t["health"] != "unknown" for t in targets)

        self.wait_for(f"a first scrape of {count} target(s)", scraped, timeout)

    def wait_for_rules(self, timeout: float = 30) -> None:
        """Until every loaded rule has been evaluated once."""

        def evaluated() -> bool:
            groups = self.get_json("/api/v1/rules")["data"]["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            return bool(rules) and all(
                rule["health"] != "unknown"
                and rule.get("lastEvaluation", _NEVER_EVALUATED) != _NEVER_EVALUATED
                for rule in rules
            )

        self.wait_for("a first evaluation of every rule", evaluated, timeout)

    def wait_for_query(self, query: str, predicate: Callable[[list[Any]], bool], timeout: float = 30) -> None:
        """Until the instant query's result satisfies ``predicate``."""

        def holds() -> bool:
            return predicate(self.get_json("/api/v1/query", query=query)["data"]["result"])

        self.wait_for(f"the query {query!r} to hold", holds, timeout)


class AlertmanagerServer(_Daemon):
    service = "alertmanager"

    def __init__(
        self, *, config: str, cluster: bool = False, args: Sequence[str] = (), binary: str | None = None
    ) -> None:
        """``config``: the alertmanager.yml text. Without ``cluster`` clustering is off
        (``--cluster.listen-address=``): the instance neither gossips nor settles. With it,
        the instance gossips on a loopback port of its own and reports ``settling`` (for
        ~5 s; ``--cluster.gossip-interval`` in ``args`` stretches that) before ``ready``."""
        super().__init__(binary or alertmanager_binary())
        self.config = config
        self.cluster = cluster
        self.cluster_port = 0
        self.args = list(args)

    def command(self) -> list[str]:
        cluster = f"{HOST}:{self.cluster_port}" if self.cluster else ""
        return [
            self.binary,
            f"--config.file={self.root / 'alertmanager.yml'}",
            f"--storage.path={self.root / 'data'}",
            f"--web.listen-address={HOST}:{self.port}",
            f"--cluster.listen-address={cluster}",
            *self.args,
        ]

    def write_files(self) -> None:
        if self.cluster:
            self.cluster_port = free_port(HOST)
        (self.root / "alertmanager.yml").write_text(self.config)
