"""Probe families, one module each (the Kubernetes ones in :mod:`.kubernetes`).

Importing this package registers them all. Shared clients live in
:mod:`golive.checks.clients`, pure parsers in :mod:`golive.checks.formats`.
"""

from . import (  # noqa: F401
    alertmanager,
    command,
    coverage,
    derived,
    grafana,
    http,
    issues,
    k6,
    kubernetes,
    manual,
    openapi,
    pipeline,
    postgres_replication,
    prometheus,
    redis,
    registry,
    vuln_report,
)
