"""An Alertmanager whose last configuration reload failed keeps routing with the
configuration it loaded before: a real server, reloaded (``POST /-/reload``) with a
route to a receiver that does not exist, must not pass as healthy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from golive.checks.status import Status
from tests.services import require_service
from tests.services.prometheus import AlertmanagerServer, alertmanager_unavailable_reason

from .support import run_one

pytestmark = pytest.mark.services

GOOD_CONFIG = """\
route:
  receiver: erp-oncall
receivers:
  - name: erp-oncall
    webhook_configs:
      - url: http://127.0.0.1:9/hook
"""
#: The route names a receiver that is not defined: Alertmanager refuses the reload.
BROKEN_CONFIG = GOOD_CONFIG.replace("receiver: erp-oncall", "receiver: pagerduty", 1)


def _reload(server: AlertmanagerServer) -> httpx.Response:
    return httpx.post(server.url + "/-/reload", timeout=10)


@pytest.fixture(scope="module")
def failed_reload() -> Iterator[AlertmanagerServer]:
    reason = alertmanager_unavailable_reason()
    if reason is not None:
        require_service("Alertmanager", reason)
    with AlertmanagerServer(config=GOOD_CONFIG) as server:
        (server.root / "alertmanager.yml").write_text(BROKEN_CONFIG)
        answer = _reload(server)
        assert answer.status_code == 500, answer.text
        yield server


async def test_a_failed_reload_fails_and_says_which_configuration_is_in_use(
    failed_reload: AlertmanagerServer,
) -> None:
    result = await run_one({"type": "alertmanager", "url": failed_reload.url, "receivers": ["erp-oncall"]})
    assert result.status == Status.FAIL, result.message
    assert result.observed["CONFIG_RELOAD_OK"] is False
    # The old configuration still answers: its receiver is there.
    assert result.observed["RECEIVERS"] == ["erp-oncall"]
    loaded_at = datetime.fromisoformat(result.observed["CONFIG_LOADED_AT"])
    assert abs((datetime.now(UTC) - loaded_at).total_seconds()) < 120
    assert "the last configuration reload failed" in result.message
    assert "the receivers shown are from the configuration loaded at " in result.message
    assert "[CONFIG_RELOAD_OK] = false" in result.message


async def test_a_reload_that_succeeds_again_passes(failed_reload: AlertmanagerServer) -> None:
    # Last in this module: it repairs the server the test above reads.
    (failed_reload.root / "alertmanager.yml").write_text(GOOD_CONFIG)
    assert _reload(failed_reload).status_code == 200
    result = await run_one({"type": "alertmanager", "url": failed_reload.url})
    assert result.status == Status.PASS, result.message
    assert result.observed["CONFIG_RELOAD_OK"] is True
    assert "reload" not in result.message
