"""Probe families, one module each (the Kubernetes ones in :mod:`.kubernetes`).

Importing this package registers none of them: :func:`load` imports the module of one
probe type, :func:`load_all` every module (each registers its types as it is imported).
The catalogue names each type's module and kind, so that what only needs an item's kind
(the verdict, `golive status` and `report`) imports no family, and what needs one type
imports only its family. ``tests/checks/test_families_catalogue.py`` holds the catalogue
to what the modules register. Shared clients live in :mod:`golive.checks.clients`, pure
parsers in :mod:`golive.checks.formats`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..probe import Kind

#: Each probe type's module (below this package) and kind.
CATALOGUE: dict[str, tuple[str, Kind]] = {
    "aggregate": ("derived", "derived"),
    "alertmanager": ("alertmanager", "auto"),
    "command": ("command", "auto"),
    "coverage": ("coverage", "auto"),
    "grafana_alert_rules": ("grafana", "auto"),
    "grafana_dashboards": ("grafana", "auto"),
    "grafana_health": ("grafana", "auto"),
    "grafana_users": ("grafana", "auto"),
    "helm_release": ("kubernetes.helm_release", "auto"),
    "http": ("http", "auto"),
    "issue_tracker": ("issues", "auto"),
    "k6": ("k6", "auto"),
    "kube_autoscaling": ("kubernetes.platform", "auto"),
    "kube_capacity": ("kubernetes.capacity", "auto"),
    "kube_cronjobs": ("kubernetes.backup", "auto"),
    "kube_ingress": ("kubernetes.network", "auto"),
    "kube_network_policies": ("kubernetes.network", "auto"),
    "kube_pod_security": ("kubernetes.pod_policies", "auto"),
    "kube_secret_refs": ("kubernetes.pod_policies", "auto"),
    "kube_services": ("kubernetes.network", "auto"),
    "kube_storage": ("kubernetes.platform", "auto"),
    "kube_workloads": ("kubernetes.workloads", "auto"),
    "manual": ("manual", "manual"),
    "openapi": ("openapi", "auto"),
    "pipeline": ("pipeline", "auto"),
    "postgres_replication": ("postgres_replication", "auto"),
    "prometheus_query": ("prometheus", "auto"),
    "prometheus_ready": ("prometheus", "auto"),
    "prometheus_retention": ("prometheus", "auto"),
    "prometheus_rules": ("prometheus", "auto"),
    "prometheus_targets": ("prometheus", "auto"),
    "redis": ("redis", "auto"),
    "registry": ("registry", "auto"),
    "rollback_plan": ("derived", "derived"),
    "signoff": ("derived", "derived"),
    "velero_backups": ("kubernetes.backup", "auto"),
    "vuln_report": ("vuln_report", "auto"),
}


def load(name: str) -> None:
    """Import (and so register) the family of probe type ``name``; ``KeyError`` for a
    name the catalogue does not know."""
    import_module(f"{__name__}.{CATALOGUE[name][0]}")


def load_all() -> None:
    """Import (and so register) every family."""
    for module in sorted({module for module, _ in CATALOGUE.values()}):
        import_module(f"{__name__}.{module}")
