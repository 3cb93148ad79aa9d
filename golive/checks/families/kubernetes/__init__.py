"""The Kubernetes probe families; importing this package registers them all.

Each reads the cluster through :mod:`golive.checks.clients.kubernetes` and reads objects
with :mod:`golive.checks.formats.kubernetes`. ``cluster_policies``, ``pod_security`` and
``scheduling`` are the pure rules the families share.
"""

from . import (  # noqa: F401
    backup,
    capacity,
    helm_release,
    network,
    platform,
    pod_policies,
    workloads,
)
