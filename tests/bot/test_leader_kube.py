"""The leader lease on a Kubernetes Lease, against the fake API server of
tests/checks/kubernetes/: the real ``kubernetes`` client sends real requests, and the
server keeps the Lease with resourceVersions and refuses stale writes (409) as
kube-apiserver does.

Each backend stands for one replica (its own holder, its own observation of the Lease).
Durations are about a second and the clock is real: a lease lapses by the observing
replica's own monotonic clock, so that is what the timings measure.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from golive.bot.ha.database import LeaderElection, LeaseUnavailable
from golive.bot.ha.kubernetes import KubernetesLease
from golive.storage import Store
from tests.checks.http.servers import free_port
from tests.checks.kubernetes.fake_apiserver import TOKEN, Cluster, FakeApiServer, serving

from .serve_process import environment, scrape, serve_process, value
from .slack_support import checklist_file

SECOND = timedelta(seconds=1)
CLUSTER = "leases"
LEASES = ("coordination.k8s.io", "leases")
MICRO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")

Replica = Callable[..., KubernetesLease]


def write_kubeconfig(path: Path, server: str, token: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "golive", "user": {"token": token}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "golive"}}],
                "current-context": "fake",
            }
        )
    )
    return path


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    with serving({CLUSTER: Cluster(name=CLUSTER, forbidden_namespaces=frozenset({"locked"}))}) as server:
        yield server


@pytest.fixture
def replica(apiserver: FakeApiServer, tmp_path: Path) -> Iterator[Replica]:
    """Makes backends (one per replica) that reach the fake cluster through a kubeconfig."""
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", apiserver.url(CLUSTER), TOKEN)
    made: list[KubernetesLease] = []

    def make(namespace: str = "golive", **settings: Any) -> KubernetesLease:
        settings.setdefault("kubeconfig", str(kubeconfig))
        backend = KubernetesLease(namespace=namespace, context="fake", **settings)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def stored(apiserver: FakeApiServer, name: str = "golive-leader") -> dict[str, Any]:
    (lease,) = [
        o for o in apiserver.clusters[CLUSTER].objects.get(LEASES, []) if o["metadata"]["name"] == name
    ]
    return lease


def store_lease(apiserver: FakeApiServer, spec: dict[str, Any], name: str = "golive-leader") -> None:
    """A Lease written by someone else (another program, or a replica with another clock)."""
    metadata = {
        "name": name,
        "namespace": "golive",
        "uid": "0b5c4e52-6c1e-4f0e-9b7a-3d2f1e0c9a81",
        "creationTimestamp": "2025-05-01T08:00:00Z",
        "resourceVersion": apiserver.next_resource_version(),
    }
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}
    apiserver.clusters[CLUSTER].objects.setdefault(LEASES, []).append(lease)


def lease_calls(apiserver: FakeApiServer, since: int = 0) -> list[tuple[str, str | None]]:
    return [(c.verb, c.name) for c in apiserver.calls()[since:] if c.resource == "leases"]


async def wait_until_held(backend: KubernetesLease, holder: str, within: float) -> float:
    """Ask every 50 ms until ``holder`` holds the lease; the seconds it took."""
    started = time.monotonic()
    while not (await backend.acquire(holder, SECOND)).held_by(holder):
        assert time.monotonic() - started < within, f"{holder} did not take the lease within {within}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_the_first_replica_creates_the_lease_and_the_second_sees_it_held(
    apiserver: FakeApiServer, replica: Replica
) -> None:
    a, b = replica(), replica()

    first = await a.acquire("a", SECOND)
    assert first.held_by("a")
    assert (first.term, first.expires_in) == (0, SECOND)
    assert lease_calls(apiserver) == [("get", "golive-leader"), ("create", None)]
    spec = stored(apiserver)["spec"]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("a", 1, 0)
    assert MICRO_TIME.match(spec["acquireTime"]) and spec["renewTime"] == spec["acquireTime"]

    seen = await b.acquire("b", SECOND)
    assert not seen.held_by("b")
    assert (seen.holder, seen.term) == ("a", 0)
    assert timedelta(seconds=0.8) < seen.expires_in <= SECOND
    assert a.description == "Kubernetes Lease golive/golive-leader"


async def test_the_lease_duration_is_whole_seconds_rounded_up(
    apiserver: FakeApiServer, replica: Replica
) -> None:
    state = await replica().acquire("a", timedelta(seconds=1.2))
    assert stored(apiserver)["spec"]["leaseDurationSeconds"] == 2
    assert state.expires_in == timedelta(seconds=1.2), "the holder counts what it asked for"


async def test_renewals_keep_the_lease_past_its_duration(apiserver: FakeApiServer, replica: Replica) -> None:
    a, b = replica(), replica()
    await a.acquire("a", SECOND)
    acquired = stored(apiserver)["spec"]["acquireTime"]
    renew_times = set()
    for _ in range(6):  # 1.8 s: well past one lease duration
        await asyncio.sleep(0.3)
        renewal = await a.acquire("a", SECOND)
        assert renewal.held_by("a") and renewal.term == 0
        renew_times.add(stored(apiserver)["spec"]["renewTime"])
        seen = await b.acquire("b", SECOND)
        assert (seen.holder, seen.held_by("b")) == ("a", False)
    spec = stored(apiserver)["spec"]
    assert spec["acquireTime"] == acquired, "a renewal keeps acquireTime"
    assert len(renew_times) == 6, "each renewal writes a new renewTime"
    assert spec["leaseTransitions"] == 0


async def test_a_holder_that_stops_renewing_is_taken_over_a_lease_duration_after_it_was_last_seen(
    replica: Replica,
) -> None:
    a, b = replica(), replica()
    await a.acquire("a", SECOND)
    # b first sees the Lease 0.6 s after a wrote it. It cannot know when a wrote it (it
    # may not trust renewTime), so it gives a a whole lease duration from now.
    await asyncio.sleep(0.6)
    first_seen = time.monotonic()
    seen = await b.acquire("b", SECOND)
    assert seen.holder == "a"
    assert timedelta(seconds=0.9) < seen.expires_in <= SECOND

    await wait_until_held(b, "b", within=2)
    waited = time.monotonic() - first_seen
    assert 1.0 <= waited < 1.5

    state = await b.acquire("b", SECOND)
    assert (state.holder, state.term) == ("b", 1), "a change of holder is a new term"
    lost = await a.acquire("a", SECOND)
    assert (lost.holder, lost.held_by("a")) == ("b", False)


@pytest.mark.parametrize("renew_time", ["2001-01-01T00:00:00.000000Z", "2099-01-01T00:00:00.000000Z"])
async def test_renew_time_from_a_clock_that_disagrees_changes_nothing(
    apiserver: FakeApiServer, replica: Replica, renew_time: str
) -> None:
    store_lease(
        apiserver,
        {
            "holderIdentity": "elsewhere",
            "leaseDurationSeconds": 1,
            "acquireTime": renew_time,
            "renewTime": renew_time,
            "leaseTransitions": 4,
        },
    )
    b = replica()
    seen = await b.acquire("b", SECOND)
    assert (seen.holder, seen.term) == ("elsewhere", 4)
    assert seen.expires_in > timedelta(seconds=0.9), "neither lapsed long ago nor held for decades"
    waited = await wait_until_held(b, "b", within=2)
    assert 0.9 <= waited < 1.5
    assert stored(apiserver)["spec"]["leaseTransitions"] == 5


async def test_release_hands_the_lease_over_at_once(apiserver: FakeApiServer, replica: Replica) -> None:
    a, b, c = replica(), replica(), replica()
    await a.acquire("a", SECOND)
    assert (await b.acquire("b", SECOND)).holder == "a"

    before = len(apiserver.calls())
    await c.release("c")  # c does not hold it: nothing is written
    assert lease_calls(apiserver, before) == [("get", "golive-leader")]

    await a.release("a")
    spec = stored(apiserver)["spec"]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("", 1, 0)

    taken = await b.acquire("b", SECOND)
    assert taken.held_by("b") and taken.term == 1
    released_again = await a.acquire("a", SECOND)
    assert (released_again.holder, released_again.held_by("a")) == ("b", False)


async def test_release_without_a_lease_does_nothing(apiserver: FakeApiServer, replica: Replica) -> None:
    await replica().release("a")
    assert lease_calls(apiserver) == [("get", "golive-leader")]


async def test_two_replicas_racing_to_take_a_lapsed_lease_one_wins(
    apiserver: FakeApiServer, replica: Replica
) -> None:
    a, b, c = replica(), replica(), replica()
    await a.acquire("a", SECOND)
    await b.acquire("b", SECOND)
    await c.acquire("c", SECOND)
    await asyncio.sleep(1.05)  # lapsed for both b and c
    before = len(apiserver.calls())
    apiserver.hold_reads(2)  # both read the same version, then both write it

    states = await asyncio.gather(b.acquire("b", SECOND), c.acquire("c", SECOND))

    held = [holder for holder, state in zip("bc", states, strict=True) if state.held_by(holder)]
    assert len(held) == 1
    (winner,) = held
    loser_state = states[1] if winner == "b" else states[0]
    assert loser_state.holder == winner and loser_state.term == 1
    assert loser_state.expires_in > timedelta(seconds=0.9), "the winner's write is news: a whole duration"
    spec = stored(apiserver)["spec"]
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == (winner, 1)
    # Both wrote; the API server took one (the other's version was stale: 409), and the
    # loser read the Lease again to see who won.
    calls = lease_calls(apiserver, before)
    assert calls.count(("update", "golive-leader")) == 2
    assert calls.count(("get", "golive-leader")) == 3


async def test_two_replicas_racing_to_create_the_lease_one_wins(
    apiserver: FakeApiServer, replica: Replica
) -> None:
    b, c = replica(), replica()
    apiserver.hold_reads(2)  # both see no Lease, then both create it

    states = await asyncio.gather(b.acquire("b", SECOND), c.acquire("c", SECOND))

    held = [holder for holder, state in zip("bc", states, strict=True) if state.held_by(holder)]
    assert len(held) == 1
    assert {state.holder for state in states} == set(held)
    assert stored(apiserver)["spec"]["holderIdentity"] == held[0]
    assert lease_calls(apiserver).count(("create", None)) == 2


async def test_an_edit_between_read_and_renewal_does_not_depose_the_holder(
    apiserver: FakeApiServer, replica: Replica
) -> None:
    a = replica()
    await a.acquire("a", SECOND)

    def annotate() -> None:  # kubectl annotate, between a's read and a's write
        leases = apiserver.clusters[CLUSTER].objects[LEASES]
        with apiserver.writes:
            (lease,) = leases
            metadata = {
                **lease["metadata"],
                "annotations": {"owner": "platform-team"},
                "resourceVersion": apiserver.next_resource_version(),
            }
            leases[0] = {**lease, "metadata": metadata}

    apiserver.hold_reads(1, then=annotate)
    before = len(apiserver.calls())
    renewal = await a.acquire("a", SECOND)

    assert renewal.held_by("a") and renewal.term == 0
    # The renewal on the stale version was refused; a read again and renewed on the new one.
    assert lease_calls(apiserver, before) == [("get", "golive-leader"), ("update", "golive-leader")] * 2
    assert stored(apiserver)["metadata"]["annotations"] == {"owner": "platform-team"}, "the edit is kept"


async def test_forbidden_by_rbac_names_the_lease_and_the_role_to_fix(replica: Replica) -> None:
    with pytest.raises(LeaseUnavailable) as caught:
        await replica(namespace="locked").acquire("a", SECOND)
    message = str(caught.value)
    assert message.startswith("Kubernetes Lease locked/golive-leader: forbidden: ")
    assert "may not get leases in namespace locked (see manifests/base/rbac.yaml)" in message
    assert 'cannot get resource "leases" in API group "coordination.k8s.io"' in message
    assert TOKEN not in message


async def test_a_wrong_token_is_unavailable_without_showing_it(
    apiserver: FakeApiServer, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "wrong", apiserver.url(CLUSTER), "wrong-token-0c1d")
    backend = KubernetesLease(namespace="golive", kubeconfig=str(kubeconfig))
    with pytest.raises(LeaseUnavailable) as caught:
        await backend.acquire("a", SECOND)
    backend.close()
    assert "Kubernetes Lease golive/golive-leader" in str(caught.value)
    assert "unauthorised" in str(caught.value)
    assert "wrong-token-0c1d" not in str(caught.value)


async def test_an_unreachable_api_server_is_unavailable(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}", TOKEN)
    backend = KubernetesLease(namespace="golive", kubeconfig=str(kubeconfig))
    with pytest.raises(LeaseUnavailable, match=r"golive/golive-leader: .*connection refused"):
        await backend.acquire("a", SECOND)
    backend.close()


async def test_a_hung_api_server_is_cut_at_the_request_timeout(
    apiserver: FakeApiServer, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", apiserver.url("hang"), TOKEN)
    backend = KubernetesLease(namespace="golive", kubeconfig=str(kubeconfig), request_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(LeaseUnavailable, match=r"golive/golive-leader: .*no answer within 0.3s"):
        await backend.acquire("a", SECOND)
    assert time.monotonic() - started < 2
    backend.close()


async def test_a_malformed_lease_is_unavailable(apiserver: FakeApiServer, replica: Replica) -> None:
    store_lease(apiserver, {"holderIdentity": "a", "leaseDurationSeconds": "fifteen"})
    with pytest.raises(LeaseUnavailable) as caught:
        await replica().acquire("b", SECOND)
    assert str(caught.value) == (
        "Kubernetes Lease golive/golive-leader: the API server sent a malformed Lease: "
        "spec.leaseDurationSeconds is 'fifteen', not a whole number"
    )


async def test_a_missing_kubeconfig_is_unavailable(tmp_path: Path) -> None:
    backend = KubernetesLease(namespace="golive", kubeconfig=str(tmp_path / "absent"))
    with pytest.raises(
        LeaseUnavailable, match=r"^Kubernetes Lease golive/golive-leader: kubeconfig .*absent"
    ):
        await backend.acquire("a", SECOND)


def test_settings_default_to_the_pods_namespace_and_golive_leader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for variable in ("GOLIVE_LEASE_NAMESPACE", "GOLIVE_LEASE_NAME", "GOLIVE_LEASE_CONTEXT"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "namespace").write_text("golive-prod\n")
    backend = KubernetesLease.from_environment(service_account_dir=tmp_path)
    assert (backend.namespace, backend.name, backend.context) == ("golive-prod", "golive-leader", None)
    assert backend.description == "Kubernetes Lease golive-prod/golive-leader"
    outside_a_pod = KubernetesLease.from_environment(service_account_dir=tmp_path / "none")
    assert outside_a_pod.namespace == "default"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GOLIVE_LEASE_NAMESPACE", "Golive"),
        ("GOLIVE_LEASE_NAMESPACE", "golive.prod"),
        ("GOLIVE_LEASE_NAMESPACE", "x" * 64),
        ("GOLIVE_LEASE_NAME", "golive_leader"),
        ("GOLIVE_LEASE_NAME", "-leader"),
    ],
)
def test_a_name_kubernetes_would_refuse_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=rf"^{variable}=.* is not a Kubernetes name: use .*or unset it"):
        KubernetesLease.from_environment()


async def test_settings_from_the_environment_reach_the_lease(
    apiserver: FakeApiServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "http://127.0.0.1:1", "unused")
    # A second context, the one chosen, points at the fake cluster.
    config = yaml.safe_load(kubeconfig.read_text())
    config["clusters"].append({"name": "real", "cluster": {"server": apiserver.url(CLUSTER)}})
    config["users"].append({"name": "real", "user": {"token": TOKEN}})
    config["contexts"].append({"name": "ops", "context": {"cluster": "real", "user": "real"}})
    kubeconfig.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("GOLIVE_LEASE_NAMESPACE", "ops")
    monkeypatch.setenv("GOLIVE_LEASE_NAME", "golive.leader")
    monkeypatch.setenv("GOLIVE_LEASE_CONTEXT", "ops")

    backend = KubernetesLease.from_environment()
    state = await backend.acquire("a", SECOND)
    backend.close()

    assert state.held_by("a")
    (lease,) = apiserver.clusters[CLUSTER].objects[LEASES]
    assert (lease["metadata"]["namespace"], lease["metadata"]["name"]) == ("ops", "golive.leader")


async def test_leader_election_keeps_one_leader_and_hands_over_when_it_resigns(
    replica: Replica, tmp_path: Path
) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'golive.db'}")
    terms: dict[str, list[int]] = {"a": [], "b": []}

    def participant(holder: str) -> LeaderElection:
        async def on_elected(term: int) -> None:
            terms[holder].append(term)

        async def on_deposed() -> None:
            pass

        return LeaderElection(store, replica(), holder, SECOND, on_elected, on_deposed)

    elections = {"a": participant("a"), "b": participant("b")}
    stops = {holder: asyncio.Event() for holder in elections}
    tasks = {holder: asyncio.create_task(e.run(stops[holder])) for holder, e in elections.items()}

    def leaders() -> list[str]:
        found = [holder for holder, election in elections.items() if election.leading]
        assert len(found) <= 1, f"two leaders at once: {found}"
        return found

    try:
        seen: list[str] = []
        until = time.monotonic() + 2.5  # more than two lease durations of renewals
        while time.monotonic() < until:
            seen += leaders()
            await asyncio.sleep(0.02)
        (leader,) = set(seen)
        assert leaders() == [leader], "the leader kept the lease"
        follower = "b" if leader == "a" else "a"
        assert (terms[leader], terms[follower]) == ([0], [])

        stops[leader].set()
        await tasks[leader]
        resigned = time.monotonic()
        while leaders() != [follower]:
            assert time.monotonic() - resigned < 2, "the follower never took over"
            await asyncio.sleep(0.02)
        # Released, not lapsed: the follower takes over sooner than a lease duration.
        assert time.monotonic() - resigned < 0.9
        assert terms[follower] == [1]
    finally:
        for holder, stop in stops.items():
            stop.set()
            await tasks[holder]
        await store.close()


# -- golive serve with GOLIVE_LEADER_ELECTION=kubernetes ----------------------------------------


async def test_serve_processes_elect_their_leader_on_the_lease(
    apiserver: FakeApiServer, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", apiserver.url(CLUSTER), TOKEN)
    env = {
        "GOLIVE_LEADER_ELECTION": "kubernetes",
        "KUBECONFIG": str(kubeconfig),
        "GOLIVE_LEASE_NAMESPACE": "golive",
        "GOLIVE_LEASE_CONTEXT": "fake",
        "GOLIVE_LEASE_SECONDS": "4",
    }
    checklist = checklist_file(tmp_path, free_port())

    async def leading(http: httpx.AsyncClient, url: str) -> float:
        return value(await scrape(http, url), "golive_leader")

    async with (
        serve_process(tmp_path, checklist, None, env, name="a") as a,
        serve_process(tmp_path, checklist, None, env, name="b") as b,
        httpx.AsyncClient(timeout=5) as http,
    ):
        deadline = time.monotonic() + 20
        while [await leading(http, r.url) for r in (a, b)].count(1.0) != 1:
            assert time.monotonic() < deadline, "no single leader"
            await asyncio.sleep(0.1)
        leader, follower = (a, b) if await leading(http, a.url) == 1.0 else (b, a)
        holder = stored(apiserver)["spec"]["holderIdentity"]
        assert holder.split(":")[1] == str(leader.process.pid), holder

        assert await leader.terminate() == 0
        resigned = time.monotonic()
        while await leading(http, follower.url) != 1.0:
            assert time.monotonic() - resigned < 3.5, "the follower waited out the lease after a release"
            await asyncio.sleep(0.05)
        spec = stored(apiserver)["spec"]
        assert spec["holderIdentity"].split(":")[1] == str(follower.process.pid)
        assert spec["leaseTransitions"] == 1


async def test_serve_refuses_an_unknown_election_backend(tmp_path: Path) -> None:
    checklist = checklist_file(tmp_path, free_port())
    done = subprocess.run(
        [sys.executable, "-m", "golive", "serve", "--checklist", str(checklist)],
        env=environment(
            {"GOLIVE_LEADER_ELECTION": "zookeeper", "GOLIVE_DB_URL": f"sqlite:///{tmp_path}/g.db"}
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "GOLIVE_LEADER_ELECTION='zookeeper' is not one of database, kubernetes" in done.stderr
