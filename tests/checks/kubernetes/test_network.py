"""``kube_ingress``, ``kube_services`` and ``kube_network_policies`` against the fake API server."""

from __future__ import annotations

from golive.checks.families.kubernetes.cluster_policies import calico_selector_matches
from golive.checks.status import Status

from .support import Kube, run_one


async def test_ingress_admitted_with_tls_for_every_host(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_ingress", "healthy", namespace="valeo"))
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["INGRESSES"] == ["valeo"]
    assert observed["HOSTS"] == ["api.valeo.example.test", "erp.example.test"]
    # api.valeo.example.test is covered by the wildcard entry.
    assert observed["TLS_HOSTS"] == ["*.valeo.example.test", "erp.example.test"]
    assert observed["HOSTS_WITHOUT_TLS"] == []
    assert observed["TLS_SECRETS"] == ["erp-tls", "wildcard-tls"]
    assert observed["WITHOUT_ADDRESS"] == []
    assert observed["ADDRESSES"] == {"valeo": ["203.0.113.10"]}
    assert "HTTP" not in observed  # no http check asked for


async def test_ingress_http_check_goes_through_each_host(kube: Kube) -> None:
    http = {"scheme": "http", "port": kube.backend_port, "path": "/json"}
    result = await run_one(kube.probe("kube_ingress", "healthy", namespace="edge", http=http))
    assert result.status == Status.PASS, result.message
    assert result.observed["HTTP"] == {
        "localhost": {"url": f"http://localhost:{kube.backend_port}/json", "status": 200}
    }
    assert result.observed["HTTP_FAILURES"] == []
    assert result.observed["ADDRESSES"] == {"local": ["lb.example.test"]}


async def test_ingress_http_errors_fail(kube: Kube) -> None:
    answering = await run_one(
        kube.probe(
            "kube_ingress",
            "healthy",
            namespace="edge",
            http={"scheme": "http", "port": kube.backend_port, "path": "/status/503"},
        )
    )
    assert answering.status == Status.FAIL
    assert answering.observed["HTTP_FAILURES"] == ["localhost: HTTP 503"]
    assert "HTTP failures: localhost: HTTP 503" in answering.message
    # scheme auto: localhost has TLS, so https; the backend speaks plain HTTP.
    refused = await run_one(
        kube.probe(
            "kube_ingress", "healthy", namespace="edge", http={"port": kube.backend_port, "path": "/json"}
        )
    )
    assert refused.status == Status.FAIL
    [failure] = refused.observed["HTTP_FAILURES"]
    assert failure.startswith("localhost: ")
    assert refused.observed["HTTP"]["localhost"]["url"] == f"https://localhost:{kube.backend_port}/json"


async def test_ingress_without_address_and_hosts_without_tls(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_ingress", "broken", namespace="valeo"))
    assert result.status == Status.FAIL
    assert result.observed["WITHOUT_ADDRESS"] == ["valeo"]
    # A wildcard covers one label only: admin.api.valeo.example.test is not covered.
    assert result.observed["HOSTS_WITHOUT_TLS"] == ["admin.api.valeo.example.test", "erp.example.test"]
    assert "no load-balancer address published: valeo" in result.message


async def test_an_ingress_without_a_published_address_may_still_serve(kube: Kube) -> None:
    http = {"scheme": "http", "port": kube.backend_port, "path": "/json"}
    serving = await run_one(kube.probe("kube_ingress", "subtle", namespace="edge", http=http))
    assert serving.status == Status.PASS, serving.message
    assert serving.observed["WITHOUT_ADDRESS"] == ["portal"]
    assert serving.observed["HTTP_FAILURES"] == []
    assert "no load-balancer address published: portal" in serving.message
    # Without an HTTP check nothing shows that it serves: a warning, not a failure.
    unchecked = await run_one(kube.probe("kube_ingress", "subtle", namespace="edge"))
    assert unchecked.status == Status.WARN, unchecked.message
    assert "add http: to check that it serves" in unchecked.message
    failing = await run_one(
        kube.probe(
            "kube_ingress",
            "subtle",
            namespace="edge",
            http={"scheme": "http", "port": kube.backend_port, "path": "/status/503"},
        )
    )
    assert failing.status == Status.FAIL


async def test_ingress_absent_fails(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_ingress", "healthy", namespace="valeo-jobs"))
    assert result.status == Status.FAIL
    assert result.message.startswith("no Ingress found")


async def test_services_with_ready_endpoints_across_slices(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_services", "healthy", namespace="valeo"))
    assert result.status == Status.PASS, result.message
    # ExternalName "docs" has no endpoints by design and is not checked.
    assert result.observed["SERVICES"] == ["api", "db", "web"]
    # api: 3 pods over an IPv4 slice (one nil ready), an empty slice (endpoints: null)
    # and an IPv6 slice listing two of them again; the terminating endpoint is not ready.
    assert result.observed["READY_ENDPOINTS"] == {"api": 3, "db": 2, "web": 1}


async def test_services_without_ready_endpoints(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_services", "broken", namespace="valeo"))
    assert result.status == Status.FAIL
    assert result.observed["SERVICES_WITHOUT_ENDPOINTS"] == ["api", "web", "worker"]
    assert result.message.startswith(
        "3 of 3 services without a ready endpoint: api (1 EndpointSlice(s), no ready endpoint), "
        "web (no EndpointSlice), worker (1 EndpointSlice(s), no ready endpoint)"
    )


async def test_publish_not_ready_services_count_serving_endpoints(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_services", "subtle", namespace="discovery"))
    assert result.status == Status.FAIL
    # peers: both endpoints say ready, but one does not serve and the other terminates.
    assert result.observed["READY_ENDPOINTS"] == {"peers": 0, "quorum": 1}
    assert result.observed["SERVICES_WITHOUT_ENDPOINTS"] == ["peers"]


async def test_named_services(kube: Kube) -> None:
    one = await run_one(kube.probe("kube_services", "broken", namespace="valeo", services=["worker"]))
    assert one.status == Status.FAIL
    assert one.observed["READY_ENDPOINTS"] == {"worker": 0}
    alias = await run_one(kube.probe("kube_services", "healthy", namespace="valeo", services=["api", "docs"]))
    assert alias.observed["SERVICES"] == ["api"]  # docs is ExternalName: nothing to be ready
    missing = await run_one(
        kube.probe("kube_services", "healthy", namespace="valeo", services=["api", "cache"])
    )
    assert missing.status == Status.ERROR
    assert missing.message.endswith("namespace valeo: no Service cache")


async def test_default_deny_covers_the_namespaces(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_network_policies", "healthy", namespaces=["valeo", "valeo-jobs"]))
    assert result.status == Status.PASS, result.message
    # valeo-jobs' policy has no policyTypes: they default to Ingress.
    assert result.observed["DEFAULT_DENY"] == {
        "valeo": {"ingress": "default-deny-ingress"},
        "valeo-jobs": {"ingress": "deny-all"},
    }
    assert result.message == "default-deny ingress covers valeo, valeo-jobs"


async def test_egress_coverage_when_asked_for(kube: Kube) -> None:
    result = await run_one(
        kube.probe("kube_network_policies", "healthy", namespaces=["valeo", "valeo-jobs"], egress=True)
    )
    assert result.status == Status.FAIL
    assert result.observed["NAMESPACES_WITHOUT_DEFAULT_DENY"] == ["valeo-jobs (egress)"]
    assert result.observed["DEFAULT_DENY"]["valeo"] == {
        "ingress": "default-deny-ingress",
        "egress": "default-deny-egress",
    }


async def test_allow_all_and_partial_policies_are_no_default_deny(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_network_policies", "broken", namespace="valeo"))
    assert result.status == Status.FAIL
    assert result.observed["NAMESPACES_WITHOUT_DEFAULT_DENY"] == ["valeo (ingress)"]
    assert result.observed["POLICIES"] == {"valeo": ["allow-all", "deny-web"]}
    assert "no default-deny policy for: valeo (ingress)" in result.message


async def test_defaulted_policy_types_include_egress_when_egress_rules_exist(kube: Kube) -> None:
    result = await run_one(
        kube.probe("kube_network_policies", "broken", namespaces=["valeo-jobs"], egress=True)
    )
    # The types default to Ingress and Egress: every pod is isolated both ways, and egress
    # is open on UDP 53 only, which is a default deny with DNS let out.
    assert result.status == Status.PASS, result.message
    assert result.observed["DEFAULT_DENY"] == {
        "valeo-jobs": {"ingress": "jobs-egress-dns", "egress": "jobs-egress-dns"}
    }
    assert result.observed["NAMESPACES_WITHOUT_DEFAULT_DENY"] == []


async def test_network_policies_add_up(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_network_policies", "subtle", namespaces=["np-additive"]))
    assert result.status == Status.FAIL
    # The default deny exists, and so does a policy that allows everything beside it.
    assert result.observed["ALLOWED_ALL"] == [
        "np-additive (ingress): allow-all allows every source on every port to app-0"
    ]
    assert result.observed["NAMESPACES_WITHOUT_DEFAULT_DENY"] == ["np-additive (ingress)"]
    assert result.observed["DEFAULT_DENY"] == {"np-additive": {"ingress": None}}


async def test_a_deny_with_narrow_openings_is_a_default_deny(kube: Kube) -> None:
    result = await run_one(kube.probe("kube_network_policies", "subtle", namespaces=["np-scoped"]))
    assert result.status == Status.PASS, result.message
    # Every pod is isolated by from-ingress-only; public-https opens one port, not all.
    assert result.observed["DEFAULT_DENY"] == {"np-scoped": {"ingress": "from-ingress-only"}}
    assert result.observed["ALLOWED_ALL"] == []


async def test_cluster_wide_denies_count(kube: Kube) -> None:
    namespaces = ["np-baseline", "np-admin", "np-calico", "np-cilium"]
    result = await run_one(kube.probe("kube_network_policies", "subtle", namespaces=namespaces))
    assert result.status == Status.PASS, result.message
    assert result.observed["DEFAULT_DENY"] == {
        "np-baseline": {"ingress": "BaselineAdminNetworkPolicy default"},
        # The AdminNetworkPolicy comes first: the namespace's allow-all cannot open it.
        "np-admin": {"ingress": "AdminNetworkPolicy lock-np-admin"},
        "np-calico": {"ingress": "GlobalNetworkPolicy default-deny"},
        "np-cilium": {"ingress": "CiliumClusterwideNetworkPolicy default-deny-np-cilium"},
    }
    assert result.observed["ALLOWED_ALL"] == []
    egress = await run_one(
        kube.probe("kube_network_policies", "subtle", namespaces=namespaces, egress=True)
    )
    assert egress.observed["NAMESPACES_WITHOUT_DEFAULT_DENY"] == ["np-admin (egress)", "np-cilium (egress)"]
    assert egress.observed["DEFAULT_DENY"]["np-baseline"]["egress"] == "BaselineAdminNetworkPolicy default"
    assert egress.observed["DEFAULT_DENY"]["np-calico"]["egress"] == "GlobalNetworkPolicy default-deny"


def test_calico_selectors_that_are_read_and_those_that_are_not() -> None:
    pod = {"app": "billing", "projectcalico.org/namespace": "np-calico"}
    assert calico_selector_matches("all()", pod) is True
    assert calico_selector_matches("app in {'billing', 'crm'} && !has(debug)", pod) is True
    assert calico_selector_matches("app != 'billing'", pod) is False
    assert calico_selector_matches("projectcalico.org/namespace not in {'np-calico'}", pod) is False
    # Not read here: such a policy is not counted as a deny either way.
    assert calico_selector_matches("app == 'billing' || app == 'crm'", pod) is None
    assert calico_selector_matches("(app == 'billing')", pod) is None
