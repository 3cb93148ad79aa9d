"""Start the whole staging, describe it as the environment the bundled checklist reads,
and break one part at a time.

:func:`staging` starts every server (real ones from ``tests/services``; the wire-faithful
fakes where no real server can run, and the application's own endpoints, in a child
process: :mod:`.hosted`) and yields a :class:`Staging`. Its ``env`` holds the non-secret
``GOLIVE_*`` settings, ``secrets`` the values the checklist only references
(``{env: NAME}``, read from ``os.environ`` when a probe runs) plus ``KUBECONFIG``.

Each ``*_stopped``/``*_down``/``*_broken``/``*_untagged`` context manager breaks one thing,
returns once the staging itself shows it (Prometheus has scraped the dead target, the
primary has dropped the replica's WAL sender …), and on the way out restores it and waits
until the staging is whole again, also when the block failed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from tests.checks.grafana.fake_grafana import ADMIN_TOKEN, GrafanaState, alert_rule, dashboard, org_user
from tests.checks.pipeline.fake_forges import GITHUB_TOKEN, FakeGitHub, GitHubRepo, github_issue, workflow_run
from tests.services import free_port, require_service
from tests.services import postgres as pg
from tests.services import prometheus as prom
from tests.services import redis as redis_service
from tests.services import registry as registry_service
from tests.services.postgres import PostgresServer
from tests.services.prometheus import AlertmanagerServer, PrometheusServer, closed_port
from tests.services.redis import RedisServer
from tests.services.registry import ImagePusher, RegistryServer

from .artifacts import write_artifacts
from .hosted import HostedServices, MetricsProcess, ServicesSpec
from .images import IMAGES, ReleaseImages, registry_host

APPROVERS = {
    "devops": "UDEVOPS01",
    "security": "USECOPS01",
    "product-owner": "UPRODUCT01",
    "operations": "UOPSLEAD01",
}
PG_MONITOR_USER = "golive_monitor"
PG_MONITOR_PASSWORD = "staging-pg-monitor-3f9a1c"
REDIS_PASSWORD = "staging-redis-8d2e4b"
REGISTRY_USER = "golive-staging"
REGISTRY_PASSWORD = "staging-registry-51c7e0"
MIRROR_PASSWORD = "staging-mirror-a04b6d"
GITHUB_REPO = "valeo/neuroerp"
RELEASE_SHA = "9c1f0e7d2b4a68d35e0f1a2b3c4d5e6f70819a2b"
API_JOB = "valeo-neuroerp-api"
ALERT_GROUP = "valeo-neuroerp-alerts"
RECORDING_GROUP = "valeo-neuroerp-recording"
BROKEN_RULE = "valeo:scrape_health:by_instance"
RECEIVER = "valeo-oncall"
WAIT_SECONDS = 30.0
#: Prometheus' lastEvaluation of a rule not evaluated yet.
NEVER_EVALUATED = "0001-01-01T00:00:00Z"

ALERT_RULES = f"""\
groups:
  - name: {ALERT_GROUP}
    rules:
      - alert: ValeoApiDown
        expr: up{{job="{API_JOB}"}} == 0
        for: 5m
        labels: {{severity: critical}}
        annotations: {{summary: "VALEO-NeuroERP API target down"}}
      - alert: ValeoErrorRateHigh
        expr: sum(rate(http_requests_total{{code=~"5.."}}[5m])) / sum(rate(http_requests_total[5m])) > 0.05
        for: 5m
        labels: {{severity: critical}}
        annotations: {{summary: "error rate above 5 %"}}
"""
RECORDING_RULES = f"""\
groups:
  - name: {RECORDING_GROUP}
    rules:
      - record: job:http_requests:rate5m
        expr: sum by (job) (rate(http_requests_total[5m]))
      - record: job:http_errors:ratio_rate5m
        expr: >-
          sum by (job) (rate(http_requests_total{{code=~"5.."}}[5m]))
          / sum by (job) (rate(http_requests_total[5m]))
"""
#: Valid PromQL that fails at every evaluation: the selector matches ``up`` and
#: ``scrape_duration_seconds`` of the same target, which become one labelset once the
#: recording rule renames them ("vector contains metrics with the same labelset …").
BROKEN_RECORDING_RULE = f"""\
      - record: {BROKEN_RULE}
        expr: '{{__name__=~"up|scrape_duration_seconds"}}'
"""


def alertmanager_config(refused_port: int) -> str:
    """One receiver that notifies (a webhook to a port that refuses: nothing is delivered)."""
    return f"""\
route:
  receiver: {RECEIVER}
  group_by: [alertname]
receivers:
  - name: {RECEIVER}
    webhook_configs:
      - url: http://127.0.0.1:{refused_port}/hooks/valeo-oncall
        send_resolved: true
"""


def grafana_state() -> GrafanaState:
    return GrafanaState(
        dashboards=[
            dashboard("valeo-overview", "VALEO-NeuroERP Overview", "valeo-neuroerp"),
            dashboard("valeo-latency", "VALEO-NeuroERP Latency", "valeo-neuroerp", "slo"),
            dashboard("valeo-errors", "VALEO-NeuroERP Errors", "valeo-neuroerp", "slo"),
            dashboard("backup-overview", "Backup Overview", "backup"),
        ],
        alert_rules=[
            alert_rule("valeo-error-rate", "VALEO-NeuroERP error rate above 1%"),
            alert_rule("valeo-p95", "VALEO-NeuroERP p95 latency above 500ms"),
        ],
        users=[
            org_user(1, "admin", "Admin"),
            org_user(2, "ops-lead", "Admin"),
            org_user(3, "dev-anna", "Editor"),
            org_user(4, "po-clara", "Viewer"),
        ],
    )


def github_state(now: datetime) -> FakeGitHub:
    built = (now - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    deployed = (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    common: dict[str, Any] = {"head_sha": RELEASE_SHA, "head_branch": "v1.1.0", "repo": GITHUB_REPO}
    repo = GitHubRepo(
        id=90210,
        tags={"v1.1.0": RELEASE_SHA},
        branches={"main": RELEASE_SHA},
        labels={"release blocker", "critical", "enhancement"},
        runs=[
            workflow_run(7001, number=311, workflow="build.yml", name="Build", created_at=built, **common),
            workflow_run(
                7002, number=87, workflow="deploy.yml", name="Deploy", created_at=deployed, **common
            ),
        ],
        issues=[
            github_issue(501, "Invoices lose their VAT id on export", ["release blocker"], state="closed"),
            github_issue(502, "Dark mode for the dashboard", ["enhancement"]),
        ],
    )
    return FakeGitHub(repos={GITHUB_REPO: repo})


def wait_until(what: str, predicate: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    """Poll until ``predicate`` holds; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError, psycopg.Error, redis.RedisError):
            if predicate():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"staging: {what} did not happen within {timeout:g}s")
        time.sleep(0.1)


def missing_services() -> list[tuple[str, str]]:
    """(service, reason) for every server binary this staging needs and lacks."""
    reasons = [
        ("PostgreSQL", pg.unavailable_reason()),
        ("Redis", redis_service.unavailable_reason()),
        ("Prometheus", prom.prometheus_unavailable_reason()),
        ("Alertmanager", prom.alertmanager_unavailable_reason()),
        ("docker-registry", registry_service.unavailable_reason(users=True)),
    ]
    return [(name, reason) for name, reason in reasons if reason is not None]


@dataclass
class Staging:
    folder: Path
    primary: PostgresServer
    replica: PostgresServer
    redis_master: RedisServer
    redis_replica: RedisServer
    target: MetricsProcess
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer
    registry: RegistryServer
    mirror: RegistryServer
    images: ReleaseImages
    #: The application, fake Kubernetes API, Grafana and GitHub, in a process of their own.
    services: HostedServices
    #: Non-secret settings, as ``load(path, env=…)`` takes them.
    env: dict[str, str] = field(default_factory=dict)
    #: What must be in os.environ when probes run: secrets by reference, KUBECONFIG.
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def app_url(self) -> str:
        return self.services.urls["app"]

    # -- PostgreSQL ----------------------------------------------------------------------

    def streaming_replicas(self) -> int:
        return self._count(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND replay_lsn IS NOT NULL"
        )

    def wal_senders(self) -> int:
        return self._count("SELECT count(*) FROM pg_stat_replication")

    def _count(self, query: str) -> int:
        with self.primary.connect() as connection:
            row = connection.execute(query).fetchone()
        return int(row[0]) if row else 0

    @contextlib.contextmanager
    def replica_stopped(self) -> Iterator[None]:
        self.replica.run("pg_ctl", "stop", "-D", self.replica.data_dir, "-m", "fast", "-w", "-t", "30")
        try:
            wait_until("the primary dropping the replica's WAL sender", lambda: self.wal_senders() == 0)
            yield
        finally:
            self.replica.start(init=False)
            wait_until("the replica streaming again", lambda: self.streaming_replicas() == 1)

    # -- Redis ---------------------------------------------------------------------------

    def redis_replica_online(self) -> bool:
        info = self.redis_master.info("replication")
        replica = info.get("slave0")
        return isinstance(replica, dict) and replica.get("state") == "online"

    @contextlib.contextmanager
    def redis_down(self) -> Iterator[None]:
        self.redis_master.kill()
        try:
            yield
        finally:
            self.redis_master.start()
            wait_until("the Redis replica back in sync", self.redis_replica_online)

    # -- Prometheus ----------------------------------------------------------------------

    def target_health(self) -> str:
        data = self.prometheus.get_json("/api/v1/targets", state="active")["data"]
        found = [t for t in data["activeTargets"] if t["labels"].get("job") == API_JOB]
        return str(found[0]["health"]) if len(found) == 1 else "absent"

    @contextlib.contextmanager
    def target_down(self) -> Iterator[None]:
        self.target.stop()
        try:
            wait_until("Prometheus seeing the API target down", lambda: self.target_health() == "down")
            yield
        finally:
            self.target.start()
            wait_until("Prometheus seeing the API target up", lambda: self.target_health() == "up")

    def rule_health(self) -> dict[str, str]:
        groups = self.prometheus.get_json("/api/v1/rules")["data"]["groups"]
        return {
            rule["name"]: rule["health"]
            for group in groups
            for rule in group["rules"]
            if rule.get("lastEvaluation", NEVER_EVALUATED) != NEVER_EVALUATED
        }

    def _reload_rules(self, recording: str) -> None:
        (self.prometheus.root / "recording.yml").write_text(recording)
        reloaded = httpx.post(f"{self.prometheus.url}/-/reload", timeout=10)
        assert reloaded.status_code == 200, reloaded.text

    @contextlib.contextmanager
    def rule_broken(self) -> Iterator[None]:
        self._reload_rules(RECORDING_RULES + BROKEN_RECORDING_RULE)
        try:
            wait_until(
                f"Prometheus evaluating {BROKEN_RULE} with an error",
                lambda: self.rule_health().get(BROKEN_RULE) == "err",
            )
            yield
        finally:
            self._reload_rules(RECORDING_RULES)

            def healthy_again() -> bool:
                health = self.rule_health()
                return BROKEN_RULE not in health and len(health) == 4 and set(health.values()) == {"ok"}

            wait_until("Prometheus evaluating only healthy rules again", healthy_again)

    # -- registry ------------------------------------------------------------------------

    @contextlib.contextmanager
    def image_untagged(self, name: str) -> Iterator[None]:
        self.images.untag(name)
        try:
            yield
        finally:
            self.images.retag(name)


def _start_postgres() -> tuple[PostgresServer, PostgresServer]:
    primary = PostgresServer().start()
    try:
        hba = primary.data_dir / "pg_hba.conf"
        # Rewritten in place so the file keeps its owner; the monitor user needs a password.
        hba.write_text(f"host all {PG_MONITOR_USER} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        with primary.connect() as connection:
            connection.execute(
                f"CREATE ROLE {PG_MONITOR_USER} LOGIN PASSWORD '{PG_MONITOR_PASSWORD}' IN ROLE pg_monitor"
            )
            connection.execute("SELECT pg_reload_conf()")
        replica = PostgresServer(
            config=["hot_standby = on", "cluster_name = 'valeo_replica'", "wal_receiver_status_interval = 1"]
        ).prepare()
        try:
            primary.run(
                "pg_basebackup", "-D", replica.data_dir, "-R", "-X", "stream", "-c", "fast",
                "-h", primary.host, "-p", primary.port, "-U", primary.superuser,
            )  # fmt: skip
            replica.start(init=False)
        except BaseException:
            replica.stop()
            raise
    except BaseException:
        primary.stop()
        raise
    return primary, replica


@contextlib.contextmanager
def staging(folder: Path) -> Iterator[Staging]:
    """Start everything; stop everything (in reverse) on the way out."""
    missing = missing_services()
    if missing:
        require_service(", ".join(name for name, _ in missing), "; ".join(reason for _, reason in missing))
    with contextlib.ExitStack() as stack:
        # Prometheus first: its service discovery takes a few seconds to hand the targets
        # to the scrapers, which happens while the rest starts.
        target = MetricsProcess(free_port())
        stack.callback(target.stop)
        prometheus = PrometheusServer(
            scrape={API_JOB: [target.address]},
            rules={"alerts.yml": ALERT_RULES, "recording.yml": RECORDING_RULES},
            args=["--storage.tsdb.retention.time=30d", "--web.enable-lifecycle"],
        )
        stack.enter_context(prometheus)
        refused = stack.enter_context(closed_port())
        alertmanager = stack.enter_context(AlertmanagerServer(config=alertmanager_config(refused)))

        primary, replica = _start_postgres()
        stack.callback(primary.stop)
        stack.callback(replica.stop)  # stopped before the primary

        master = RedisServer(
            port=free_port(), password=REDIS_PASSWORD, args=["--repl-diskless-sync-delay", "0"]
        )
        stack.enter_context(master)
        redis_replica = RedisServer(
            password=REDIS_PASSWORD,
            args=["--replicaof", master.host, str(master.port), "--masterauth", REDIS_PASSWORD],
        )
        stack.enter_context(redis_replica)

        registry = stack.enter_context(RegistryServer(users={REGISTRY_USER: REGISTRY_PASSWORD}))
        mirror = stack.enter_context(RegistryServer(users={REGISTRY_USER: MIRROR_PASSWORD}))
        images = ReleaseImages(
            ImagePusher(registry.url, auth=(REGISTRY_USER, REGISTRY_PASSWORD)),
            ImagePusher(mirror.url, auth=(REGISTRY_USER, MIRROR_PASSWORD)),
        )
        stack.callback(images.close)
        images.push()
        host = registry_host(registry.url)
        artifacts = write_artifacts(folder / "reports", images.references(host))

        services = HostedServices(
            ServicesSpec(
                folder=str(folder),
                registry=host,
                redis_host=master.host,
                redis_port=master.port,
                redis_password=REDIS_PASSWORD,
                postgres_conninfo=primary.conninfo(),
            )
        )
        stack.callback(services.close)
        app = services.urls["app"]

        world = Staging(
            folder=folder,
            primary=primary,
            replica=replica,
            redis_master=master,
            redis_replica=redis_replica,
            target=target,
            prometheus=prometheus,
            alertmanager=alertmanager,
            registry=registry,
            mirror=mirror,
            images=images,
            services=services,
        )
        world.env = {
            "GOLIVE_RELEASE_VERSION": "1.1.0",
            "GOLIVE_RELEASE_TAG": "v1.1.0",
            "GOLIVE_CHANNEL": "#valeo-golive-staging",
            "GOLIVE_REGISTRY_URL": registry.url,
            "GOLIVE_IMAGES": ",".join(IMAGES),
            "GOLIVE_REGISTRY_USER": REGISTRY_USER,
            "GOLIVE_IMAGE_BUDGET_MB": "500",
            "GOLIVE_REGISTRY_MIRROR_URL": mirror.url,
            "GOLIVE_SCAN_REPORTS": artifacts.scan_reports,
            "GOLIVE_NAMESPACE": "valeo",
            "GOLIVE_STAGING_NAMESPACE": "valeo",
            "GOLIVE_VELERO_SCHEDULES": "valeo-daily",
            "GOLIVE_HEALTH_URL": f"{app}/healthz",
            "GOLIVE_INTEGRATION_URL": f"{app}/api/integration",
            "GOLIVE_REDIS_URL": master.url,
            "GOLIVE_PG_HOST": primary.host,
            "GOLIVE_PG_PORT": str(primary.port),
            "GOLIVE_PG_USER": PG_MONITOR_USER,
            "GOLIVE_K6_SUMMARY": str(artifacts.k6_summary),
            "GOLIVE_PROMETHEUS_URL": prometheus.url,
            "GOLIVE_PROMETHEUS_JOBS": f"prometheus,{API_JOB}",
            "GOLIVE_ALERTMANAGER_URL": alertmanager.url,
            "GOLIVE_ALERT_RECEIVERS": RECEIVER,
            "GOLIVE_GRAFANA_URL": services.urls["grafana"],
            "GOLIVE_GITHUB_REPO": GITHUB_REPO,
            "GOLIVE_GITHUB_API": services.urls["github"],
            "GOLIVE_COVERAGE_REPORT": str(artifacts.coverage_report),
            "GOLIVE_OPENAPI_URL": f"{app}/openapi.json",
            "GOLIVE_DEPLOYMENT_GUIDE_URL": f"{app}/docs/deployment-guide",
            "GOLIVE_TROUBLESHOOTING_GUIDE_URL": f"{app}/docs/troubleshooting",
            "GOLIVE_INCIDENT_PLAN_URL": f"{app}/docs/incident-response",
            "GOLIVE_ESCALATION_MATRIX_URL": f"{app}/docs/escalation-matrix",
            "GOLIVE_ROLLBACK_PROCEDURE_URL": f"{app}/docs/rollback",
            "GOLIVE_KNOWN_GOOD_REVISION": "valeo-neuroerp revision 3 (1.0.0)",
            "GOLIVE_DEVOPS_APPROVERS": APPROVERS["devops"],
            "GOLIVE_SECURITY_APPROVERS": APPROVERS["security"],
            "GOLIVE_PRODUCT_OWNER_APPROVERS": APPROVERS["product-owner"],
            "GOLIVE_OPERATIONS_APPROVERS": APPROVERS["operations"],
        }
        world.secrets = {
            "GOLIVE_REGISTRY_PASSWORD": REGISTRY_PASSWORD,
            "GOLIVE_REGISTRY_MIRROR_PASSWORD": MIRROR_PASSWORD,
            "GOLIVE_REDIS_PASSWORD": REDIS_PASSWORD,
            "GOLIVE_PG_PASSWORD": PG_MONITOR_PASSWORD,
            "GOLIVE_GRAFANA_TOKEN": ADMIN_TOKEN,
            "GOLIVE_GITHUB_TOKEN": GITHUB_TOKEN,
            "KUBECONFIG": services.urls["kubeconfig"],
        }

        # Ready means: every server has seen what it will be asked about.
        wait_until("the replica streaming", lambda: world.streaming_replicas() == 1)
        wait_until("the Redis replica in sync", world.redis_replica_online)
        prometheus.wait_for_targets(2, timeout=WAIT_SECONDS)
        prometheus.wait_for_rules(timeout=WAIT_SECONDS)
        # rate() over the API's requests needs two scrapes of it.
        prometheus.wait_for_query(
            "sum(rate(http_requests_total[5m]))", lambda result: len(result) == 1, timeout=WAIT_SECONDS
        )
        yield world
