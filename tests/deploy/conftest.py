"""The rendered overlays, once per test session."""

from __future__ import annotations

import pytest

from .kustomize import MANIFESTS, OVERLAYS, Rendered, render


@pytest.fixture(scope="session")
def overlays() -> dict[str, Rendered]:
    return {name: Rendered(name, render(MANIFESTS / "overlays" / name)) for name in OVERLAYS}


@pytest.fixture(params=OVERLAYS)
def rendered(request: pytest.FixtureRequest, overlays: dict[str, Rendered]) -> Rendered:
    """Each overlay in turn."""
    overlay: Rendered = overlays[request.param]
    return overlay
