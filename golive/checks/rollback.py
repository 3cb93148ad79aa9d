"""What the rollback watch asks of the checks: the public face of two probes.

- :func:`trigger_fires`: a rollback trigger's PromQL condition, asked of Prometheus the
  way the ``prometheus_query`` probe asks (same client, auth-less, same error messages).
- :func:`previous_good_revision`: the Helm revision to roll back to, as a
  ``helm_release`` probe observed it.

Callers outside :mod:`golive.checks` use these instead of reaching into a family.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from .probe import ProbeContext
from .results import ItemResult


async def trigger_fires(
    prometheus_url: str,
    query: str,
    *,
    release_name: str,
    release_version: str,
    base_dir: Path,
    query_timeout: float,
    at: datetime,
) -> bool:
    """Prometheus' alerting semantics: the condition fires when the query returns any
    series (``rate(…) > 0.05`` returns none while the rate is below). A scalar fires
    when it is not 0. Raises :class:`~golive.checks.errors.ProbeError` when Prometheus
    cannot answer."""
    # The families are imported when asked, not with the bot: importing one imports all.
    from .families.prometheus import PrometheusQueryConfig, gather_query

    config = PrometheusQueryConfig(url=prometheus_url, query=query)
    context = ProbeContext(
        release_name=release_name,
        release_version=release_version,
        base_dir=base_dir,
        timeout=query_timeout,
        now=lambda: at,
    )
    values = (await gather_query(config, context)).values
    if values["RESULT_TYPE"] == "scalar":
        # Sample values are numbers, or Prometheus' strings "NaN", "+Inf", "-Inf".
        return values.get("VALUE") not in (0, 0.0, "NaN")
    return bool(values["SERIES"])


def previous_good_revision(results: Iterable[ItemResult]) -> tuple[str, int] | None:
    """(item id, revision) of the first result that observed the newest successful Helm
    revision below the current one; None when no helm_release item saw one."""
    from .families.kubernetes.helm_release import PREVIOUS_GOOD_REVISION

    for result in results:
        revision = result.observed.get(PREVIOUS_GOOD_REVISION)
        if revision is not None:
            return result.item_id, revision
    return None
