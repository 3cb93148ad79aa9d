"""What the deploy-gate tests share: a small checklist that can reach GO (two phases of
HTTP checks against a local target, one sign-off role), and API tokens."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from .slack_support import Target, _Handler

DEVOPS = "U0DEVOPS"
CI_TOKEN = "ci-token-5a8f3c1e9b2d7a64"
ARGO_TOKEN = "argo-token-0c7e2b9f4d1a8e35"
TOKENS = f"ci={CI_TOKEN},argo={ARGO_TOKEN}"


@contextmanager
def target() -> Iterator[Target]:
    server = Target(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def gate_checklist(folder: Path, target_port: int) -> Path:
    def check(item_id: str) -> dict[str, object]:
        return {
            "id": item_id,
            "title": f"{item_id} answers UP",
            "probe": {"type": "http", "url": f"http://127.0.0.1:{target_port}/{item_id}"},
            "conditions": ["[STATUS] == 200", "[BODY].status == UP"],
        }

    document = {
        "release": {"name": "Shop", "version": "2.0.0"},
        "allowed_hosts": ["127.0.0.1"],
        "signoffs": [{"id": "devops", "title": "DevOps-Team", "approvers": {"users": [DEVOPS]}}],
        "phases": [
            {
                "id": "pre",
                "title": "Before",
                "sections": [{"id": "s1", "title": "S1", "items": [check("health")]}],
            },
            {
                "id": "post",
                "title": "After",
                "sections": [{"id": "s2", "title": "S2", "items": [check("smoke")]}],
            },
        ],
    }
    path = folder / "checklist.yaml"
    path.write_text(yaml.safe_dump(document))
    return path
