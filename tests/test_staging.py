"""The bundled checklist, unchanged, against a local staging of VALEO-NeuroERP 1.1.0.

The staging (``tests/staging``) is real servers where one can run here — PostgreSQL with
a streaming replica, Redis with a replica, Prometheus and Alertmanager, two docker
registries (release and mirror) — and wire-faithful fakes where none can (Kubernetes,
Grafana, GitHub). It is configured only through the environment variables the checklist
reads, started once for the module, and every run goes through the real path:
``golive.bot.core.usecases`` storing into a ``golive.storage`` Store on SQLite.

1. The first run: every item the staging answers passes, manual items wait for a person,
   and NO-GO names exactly what is missing.
2. People confirm the manual items and the four roles sign off: what still blocks is
   exactly what no staging can provide (the ingress on port 443, the rollback roles and
   communication plan the bundled checklist leaves to the release team). Waiving those
   three gives GO.
3. One thing at a time breaks (replica stopped, Redis down, a scrape target down, a rule
   failing, an image untagged): exactly the items that depend on it change, their
   messages show what was seen, the owning roles' sign-offs stop holding while the
   others hold, and once it is restored the verdict is GO again.

One item depends on more than the staging: ``health-checks`` limits a duration golive
measures itself, and on a loaded machine golive's busy event loop alone can exceed it
(see :func:`timing_only`). When that happens, the expectations include it exactly, like
any other regression, with a warning.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from golive.bot.core.usecases import confirm_item, current_state, execute_run, sign_off, waive_item
from golive.bot.state import State
from golive.checks.loader import load
from golive.checks.model import Checklist
from golive.checks.results import ItemResult
from golive.checks.status import Status
from golive.checks.verdict import signoff_states
from golive.storage import Store
from tests.staging.images import TAG
from tests.staging.world import (
    API_JOB,
    APPROVERS,
    BROKEN_RULE,
    RECORDING_GROUP,
    Staging,
    staging,
)

pytestmark = pytest.mark.services
#: One event loop for the module, shared with the module-scoped store.
module_loop = pytest.mark.asyncio(loop_scope="module")

BUNDLED = Path(__file__).resolve().parents[1] / "checklists" / "valeo-neuroerp-1.1.0.yaml"
ROLES = ("devops", "security", "product-owner", "operations")
PASS, FAIL, ERROR, PENDING, WAIVED = Status.PASS, Status.FAIL, Status.ERROR, Status.PENDING, Status.WAIVED

#: Every item the staging answers, and what answers it; each must PASS on the first run.
CONFIGURED = (
    # docker-registry (release + mirror) with the images, cosign signatures, mirror copies
    "images-built",
    "image-sizes",
    "registry-access",
    "registry-backup",
    "image-signatures",
    "auto-tagging",
    # Trivy reports per image
    "images-scanned",
    "cve-scans",
    "critical-vulnerabilities",
    # the fake Kubernetes API server with the staging cluster (Helm, workloads, Velero …)
    "security-best-practices",
    "helm-deployed",
    "services-running",
    "service-discovery",
    "rollback-tested",
    "secrets-management",
    "deployment-hooks",
    "node-capacity",
    "autoscaling",
    "network-policies",
    "storage-classes",
    "backup-strategy",
    "restore-tested",
    "backup-retention",
    "offsite-backup",
    # the application's HTTP endpoints (integration talks to Redis and PostgreSQL)
    "health-checks",
    "inter-service",
    "api-docs",
    "deployment-guide",
    "troubleshooting-guide",
    "incident-response-plan",
    "escalation-matrix",
    # Redis master with a replica; PostgreSQL primary with a streaming replica
    "redis",
    "postgres-replication",
    # the k6 handleSummary JSON, the coverage.py JSON
    "k6-run",
    "p95-latency",
    "error-rate",
    "throughput",
    "test-coverage",
    # Prometheus (rules, targets, retention, the live query) and Alertmanager
    "performance-metrics",
    "alert-rules",
    "metrics-collected",
    "recording-rules",
    "retention-policy",
    "notifications",
    # the fake Grafana
    "grafana-dashboards",
    "grafana-alerts",
    "grafana-users",
    "backup-dashboard",
    # the fake GitHub (workflow runs for v1.1.0, blocker labels)
    "build-pipeline",
    "deployment-pipeline",
    "no-critical-issues",
    # declared in the bundled checklist itself
    "rollback-procedure",
    "rollback-triggers",
)
MANUAL = (
    "bottlenecks",
    "optimisations",
    "resource-usage",
    "architecture-diagrams",
    "runbook",
    "contacts-current",
    "team-ready",
)
#: What no local staging provides, and what fails because of it:
#: - ingress: the bundled item fetches https://<host>/ on port 443 with the public CA roots
#:   (no port or CA is settable through the environment), and nothing serves port 443 here;
#: - reports-green: the aggregate of p1…docs, ingress among them;
#: - team-roles, communication-plan: the bundled checklist declares ``roles: []`` and no
#:   communication plan; the release team fills them in (no environment variable does).
OUT_OF_REACH = {"ingress": FAIL, "reports-green": FAIL, "team-roles": FAIL, "communication-plan": FAIL}
WAIVED_ITEMS = ("ingress", "team-roles", "communication-plan")
#: Blocking automated items the "reports-green" aggregate counts (phases p1 … docs).
AGGREGATED = 51
TIMED_CONDITION = "[RESPONSE_TIME] < 1000"
ATTEMPTS = 3


# -- the staging, the checklist and the store, once for the module ----------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    with staging(tmp_path_factory.mktemp("staging")) as started, pytest.MonkeyPatch.context() as patch:
        # Secrets are references ({env: NAME}), read from os.environ when a probe runs;
        # the kubernetes client reads KUBECONFIG from there too.
        for name, value in started.secrets.items():
            patch.setenv(name, value)
        for name in ("NO_PROXY", "no_proxy"):
            patch.setenv(name, "127.0.0.1,localhost")
        yield started


@pytest.fixture(scope="module")
def checklist(world: Staging) -> Checklist:
    """The real bundled file, with the staging's environment and nothing else."""
    return load(BUNDLED, env=world.env)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def store(world: Staging) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite:///{world.folder / 'golive.db'}")
    yield opened
    await opened.close()


def timing_only(state: State) -> dict[str, Status]:
    """``{"health-checks": FAIL}`` when that item failed on nothing but the time golive
    measured, else ``{}``.

    ``health-checks`` is the one bundled item with a condition on a duration golive
    measures itself (``[RESPONSE_TIME] < 1000``). In a full run that duration includes the
    wait for golive's own event loop, which ~60 concurrent probes keep busy: on a loaded
    2-core machine an endpoint on 127.0.0.1 that answers in a millisecond is measured at
    one to two seconds. Such a failure is still a failure: the expectations below include
    it (and everything that follows from it) exactly, and say so in a warning.
    """
    result = state.results["health-checks"]
    failed = [outcome for outcome in result.conditions if not outcome.passed]
    if result.status != FAIL or [outcome.condition for outcome in failed] != [TIMED_CONDITION]:
        return {}
    assert result.observed["STATUS"] == 200
    warnings.warn(
        f"health-checks failed on its timing alone ({failed[0].message}) for an endpoint on "
        f"127.0.0.1 that answered 200, at load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs: the time includes the wait for golive's event loop, which the "
        "run's other probes share",
        stacklevel=2,
    )
    return {"health-checks": FAIL}


async def run(checklist: Checklist, store: Store) -> State:
    """One stored run of the whole checklist, as ``golive run`` does it."""
    _, state = await execute_run(checklist, store, trigger="test")
    return state


@dataclass(frozen=True)
class Approved:
    first: State  # the first run, before anyone acted
    signed: State  # manual items confirmed, four sign-offs given
    go: State  # and the out-of-reach items waived


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def approved(world: Staging, checklist: Checklist, store: Store) -> Approved:
    # What the roles sign must be the staging's real state, not a run golive was too busy
    # to time: run again (a bounded number of times) until health-checks was timed fairly.
    for _ in range(ATTEMPTS):
        first = await run(checklist, store)
        if not timing_only(first):
            break
    for item_id in MANUAL:
        role = checklist.item(item_id).responsible
        assert role is not None
        await confirm_item(
            checklist,
            store,
            item_id,
            user=APPROVERS[role],
            evidence_url=f"{world.app_url}/docs/{item_id}",
        )
    for role in ROLES:
        await sign_off(checklist, store, role, user=APPROVERS[role])
    signed = await current_state(checklist, store)
    for item_id in WAIVED_ITEMS:
        role = checklist.item(item_id).responsible
        assert role is not None
        await waive_item(
            checklist,
            store,
            item_id,
            days=2,
            reason="not provided by the local staging; verified in production readiness review",
            user=APPROVERS[role],
        )
    go = await current_state(checklist, store)
    return Approved(first, signed, go)


def statuses(state: State) -> dict[str, Status]:
    return {item_id: result.status for item_id, result in state.results.items()}


def blockers(state: State) -> list[str]:
    return [blocker.subject for blocker in state.verdict.blockers]


def holding(checklist: Checklist, state: State) -> dict[str, bool]:
    return {
        s.role: s.holds for s in signoff_states(checklist, state.results, state.records.signoffs, state.at)
    }


# -- 1. the first run --------------------------------------------------------------------


def test_the_staging_configures_every_item_of_the_bundled_checklist(checklist: Checklist) -> None:
    items = [item.id for item in checklist.items()]
    assert len(items) == 65
    assert sorted([*CONFIGURED, *MANUAL, *OUT_OF_REACH, "management-signoff"]) == sorted(items)
    # No item lacks a variable: none reports "not configured: set …".
    assert {item.id: item.unset_variables for item in checklist.items() if item.unset_variables} == {}
    # Without the staging's environment, every item that reads a variable without a
    # default is not configured (the README's fresh machine).
    bare = load(BUNDLED, env={})
    unset = {item.id for item in bare.items() if item.unset_variables}
    assert unset
    assert unset <= set(CONFIGURED) | set(OUT_OF_REACH)


@module_loop
async def test_first_run_passes_every_configured_item(
    world: Staging, checklist: Checklist, approved: Approved
) -> None:
    first = approved.first
    found = statuses(first)
    failing = {
        i: f"{first.results[i].status}: {first.results[i].message}" for i in CONFIGURED if found[i] != PASS
    }
    assert failing == {}
    assert {i: found[i] for i in MANUAL} == dict.fromkeys(MANUAL, PENDING)
    assert {i: found[i] for i in OUT_OF_REACH} == OUT_OF_REACH
    assert found["management-signoff"] == PENDING
    assert not [r.item_id for r in first.results.values() if r.message.startswith("not configured")]

    # What was observed, from the servers themselves.
    observed = {item_id: result.observed for item_id, result in first.results.items()}
    assert observed["images-built"]["DIGESTS"] == world.images.digests
    assert observed["registry-backup"]["MIRROR_MISSING"] == []
    assert observed["image-signatures"]["UNSIGNED"] == []
    assert observed["critical-vulnerabilities"]["CRITICAL"] == 0
    assert observed["critical-vulnerabilities"]["HIGH"] == 0
    assert observed["redis"]["ROLE"] == "master"
    assert observed["redis"]["ONLINE_REPLICAS"] == 1
    assert observed["postgres-replication"]["STREAMING_REPLICAS"] == 1
    assert observed["inter-service"]["BODY"] == {"status": "ok", "redis": "ok", "postgres": "ok"}
    assert observed["p95-latency"]["P95_MS"] == 212.3
    assert observed["throughput"]["RPS"] == 1250
    assert observed["test-coverage"]["COVERAGE"] == 93.41
    assert observed["metrics-collected"]["JOBS"] == {
        "prometheus": {"up": 1, "down": 0, "unknown": 0},
        API_JOB: {"up": 1, "down": 0, "unknown": 0},
    }
    assert observed["recording-rules"]["RECORDING_RULES"] == 2
    assert observed["alert-rules"]["ALERTING_RULES"] == 2
    assert observed["retention-policy"]["RETENTION_DAYS"] == 30
    assert observed["notifications"]["RECEIVERS"] == ["valeo-oncall"]
    assert observed["helm-deployed"]["STATUS"] == "deployed"
    assert observed["rollback-tested"]["ROLLBACK_SEEN"] is True
    assert observed["api-docs"]["VERSION"] == "1.1.0"

    ingress = first.results["ingress"]
    assert ingress.observed["HOSTS"] == ["localhost"]
    assert [f.split(":", 1)[0] for f in ingress.observed["HTTP_FAILURES"]] == ["localhost"]
    assert ingress.message.endswith("len([HTTP_FAILURES]) = 1, limit == 0")
    assert first.results["reports-green"].message == f"1 of {AGGREGATED} not green: ingress FAIL"
    assert first.results["team-roles"].message == (
        "rollback roles is not declared in the checklist (rollback.roles)"
    )

    assert first.verdict.decision == "NO-GO"
    assert blockers(first) == [
        "ingress",
        "bottlenecks",
        "optimisations",
        "resource-usage",
        "architecture-diagrams",
        "runbook",
        "contacts-current",
        "reports-green",
        "team-ready",
        "management-signoff",
        "team-roles",
        "communication-plan",
        *(f"signoff:{role}" for role in ROLES),
    ]


# -- 2. people act -----------------------------------------------------------------------


@module_loop
async def test_after_confirmations_and_signoffs_only_the_out_of_reach_items_block(
    checklist: Checklist, approved: Approved
) -> None:
    signed = approved.signed
    found = statuses(signed)
    assert {i: found[i] for i in MANUAL} == dict.fromkeys(MANUAL, PASS)
    assert signed.results["runbook"].message.startswith(f"confirmed by {APPROVERS['operations']}: http")
    assert holding(checklist, signed) == dict.fromkeys(ROLES, True)
    assert found["management-signoff"] == PASS
    assert signed.verdict.decision == "NO-GO"
    assert blockers(signed) == ["ingress", "reports-green", "team-roles", "communication-plan"]


@module_loop
async def test_waiving_the_out_of_reach_items_gives_go(checklist: Checklist, approved: Approved) -> None:
    go = approved.go
    found = statuses(go)
    assert {i: found[i] for i in WAIVED_ITEMS} == dict.fromkeys(WAIVED_ITEMS, WAIVED)
    assert found["reports-green"] == PASS
    assert go.results["reports-green"].message == f"all {AGGREGATED} green"
    assert holding(checklist, go) == dict.fromkeys(ROLES, True)
    assert go.verdict.decision == "GO"
    assert blockers(go) == []


# -- 3. one thing breaks at a time -------------------------------------------------------


@dataclass(frozen=True)
class Breakage:
    name: str
    #: Breaks it; returns once the staging shows it; restores it on the way out.
    apply: Callable[[Staging], contextlib.AbstractContextManager[None]]
    #: The items it breaks, with their new status (the aggregate and the sign-off item
    #: follow from them and are checked for every breakage).
    breaks: dict[str, Status]
    #: Roles whose sign-off stops holding: the owners of the broken items.
    invalidated: tuple[str, ...]
    #: Checks the messages and observed values of the broken items.
    check: Callable[[Staging, dict[str, ItemResult]], None]


def _replica_seen(world: Staging, results: dict[str, ItemResult]) -> None:
    result = results["postgres-replication"]
    assert result.observed["STREAMING_REPLICAS"] == 0
    assert result.observed["REPLICAS"] == []
    assert result.message == (
        f"primary {world.primary.host}:{world.primary.port}: 0 streaming replica(s) of 0 WAL sender(s); "
        "[STREAMING_REPLICAS] = 0, limit >= 1"
    )


def _redis_seen(world: Staging, results: dict[str, ItemResult]) -> None:
    master = world.redis_master
    assert results["redis"].message == f"cannot connect to {master.host}:{master.port}: connection refused"
    assert results["redis"].observed == {"TEMPORARY": True}
    # The integration endpoint really uses Redis: it answers 503 and says why.
    integration = results["inter-service"]
    assert integration.observed["STATUS"] == 503
    assert integration.observed["BODY"] == {
        "status": "degraded",
        "redis": "failed: ConnectionError",
        "postgres": "ok",
    }
    assert integration.message.startswith("HTTP 503 Service Unavailable in ")
    assert integration.message.endswith("; [STATUS] = 503, limit == 200")


def _target_seen(world: Staging, results: dict[str, ItemResult]) -> None:
    result = results["metrics-collected"]
    address = world.target.address
    assert result.observed["UP"] == 1
    assert result.observed["DOWN"] == 1
    (down,) = result.observed["DOWN_TARGETS"]
    assert down.startswith(f"{API_JOB} {address}: ")
    # Prometheus's last scrape error: refused once the target is gone, or reset when that
    # scrape raced the target's shutdown.
    assert "connection refused" in down or "connection reset by peer" in down, down
    assert result.message == f"1 target(s) up, 1 down; down: {down}; [DOWN] = 1, limit == 0"


def _rule_seen(world: Staging, results: dict[str, ItemResult]) -> None:
    result = results["recording-rules"]
    unhealthy = (
        f"{RECORDING_GROUP}/{BROKEN_RULE}: vector contains metrics with the same labelset "
        "after applying rule labels"
    )
    assert result.observed["UNHEALTHY_RULES"] == [unhealthy]
    assert result.message == (
        f"3 rule(s) in 1 group(s) (0 alerting, 3 recording); 1 unhealthy: {unhealthy}; "
        "[UNHEALTHY] = 1, limit == 0"
    )


IMAGE_ITEMS = ("images-built", "image-sizes", "registry-backup", "image-signatures", "auto-tagging")
UNTAGGED = "valeo/neuroerp-web"


def _image_seen(world: Staging, results: dict[str, ItemResult]) -> None:
    missing = f"{UNTAGGED}:{TAG}"
    for item_id in IMAGE_ITEMS:
        result = results[item_id]
        assert result.observed["MISSING"] == [missing], item_id
        assert result.observed["IMAGES"] == 1, item_id
        expected = f"1/2 image(s) at {TAG} on registry {world.registry.url}; {missing} missing: tag not found"
        assert expected in result.message, item_id
        assert result.message.endswith("; len([MISSING]) = 1, limit == 0"), item_id
    assert results["registry-backup"].observed["MIRROR_MISSING"] == []
    assert results["image-signatures"].observed["UNSIGNED"] == []


BREAKAGES = (
    Breakage(
        "replica stopped",
        lambda world: world.replica_stopped(),
        {"postgres-replication": FAIL},
        ("devops",),
        _replica_seen,
    ),
    Breakage(
        "Redis down",
        lambda world: world.redis_down(),
        {"inter-service": FAIL, "redis": ERROR},
        ("devops",),
        _redis_seen,
    ),
    Breakage(
        "scrape target down",
        lambda world: world.target_down(),
        {"metrics-collected": FAIL},
        ("operations",),
        _target_seen,
    ),
    Breakage(
        "recording rule failing",
        lambda world: world.rule_broken(),
        {"recording-rules": FAIL},
        ("operations",),
        _rule_seen,
    ),
    Breakage(
        "image untagged",
        lambda world: world.image_untagged(UNTAGGED),
        dict.fromkeys(IMAGE_ITEMS, FAIL),
        # image-signatures belongs to the Security-Team, the other four to DevOps.
        ("devops", "security"),
        _image_seen,
    ),
)


def assert_only_these_broke(
    checklist: Checklist, before: dict[str, Status], state: State, breaks: dict[str, Status]
) -> None:
    """Against the signed-off GO state ``before``: exactly ``breaks`` changed (with the
    aggregate and the sign-off item that follow from them), the sign-offs of their owners
    stop holding, naming what regressed, the others hold, and the verdict says so."""
    order = [item.id for item in checklist.items()]
    follow = {"reports-green": FAIL, "management-signoff": PENDING} if breaks else {}
    changed = {i: s for i, s in statuses(state).items() if s != before[i]}
    assert changed == {**breaks, **follow}, {i: state.results[i].message for i in changed}

    owners = {checklist.item(i).responsible for i in breaks}
    signoffs = {s.role: s for s in signoff_states(checklist, state.results, state.records.signoffs, state.at)}
    assert {role: s.holds for role, s in signoffs.items()} == {role: role not in owners for role in ROLES}
    for role in sorted(r for r in owners if r is not None):
        owned = [i for i in order if i in breaks and checklist.item(i).responsible == role]
        regressed = ", ".join(f"{i} (PASS → {breaks[i]})" for i in owned)
        assert signoffs[role].reason == f"invalidated: regressed since signed: {regressed}"

    if not breaks:
        assert state.verdict.decision == "GO"
        assert blockers(state) == []
        return
    aggregated = [i for i in order if i in breaks]  # every breakable item is in p1 … p5
    assert state.results["reports-green"].message == (
        f"{len(aggregated)} of {AGGREGATED} not green: " + ", ".join(f"{i} {breaks[i]}" for i in aggregated)
    )
    assert state.results["management-signoff"].message == "; ".join(
        f"{s.title}: {s.reason}" for s in signoffs.values() if not s.holds
    )
    assert state.verdict.decision == "NO-GO"
    assert blockers(state) == [
        *(i for i in order if i in breaks or i in follow),
        *(f"signoff:{role}" for role in ROLES if role in owners),
    ]


@module_loop
@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.name for b in BREAKAGES])
async def test_breaking_one_thing(
    world: Staging, checklist: Checklist, store: Store, approved: Approved, breakage: Breakage
) -> None:
    before = statuses(approved.go)
    assert {checklist.item(i).responsible for i in breakage.breaks} == set(breakage.invalidated)
    with breakage.apply(world):
        broken = await run(checklist, store)
    restored = await run(checklist, store)

    assert_only_these_broke(checklist, before, broken, {**breakage.breaks, **timing_only(broken)})
    breakage.check(world, broken.results)
    # Restored: as before, every sign-off holds again, GO.
    assert_only_these_broke(checklist, before, restored, timing_only(restored))


@module_loop
async def test_no_secret_reached_the_database(world: Staging, approved: Approved) -> None:
    """The passwords and tokens the probes used are nowhere in what golive stored: not in
    the results, the evidence, the records, the audit log (the database's bytes)."""
    secrets = [value for name, value in world.secrets.items() if name != "KUBECONFIG"]
    files = sorted(world.folder.glob("golive.db*"))
    assert files
    stored = b"".join(path.read_bytes() for path in files)
    assert world.registry.url.encode() in stored  # the evidence names the servers asked …
    assert [s for s in secrets if s.encode() in stored] == []  # … never their credentials
    shown = repr([(r.message, r.observed, r.evidence) for r in approved.first.results.values()])
    assert not re.search(r"://[^/@\s]+:[^/@\s]+@", shown)
