"""``manual``: a person confirms the item, with a link to the evidence.

There is nothing to gather: the runner reads the latest confirmation (from Slack's
button and modal, or ``golive confirm``). Unconfirmed items are PENDING.
"""

from __future__ import annotations

from typing import Literal

from ..probe import ProbeConfig, ProbeType, Value, register


class ManualConfig(ProbeConfig):
    type: Literal["manual"] = "manual"
    #: What the confirming person should check, shown next to the button.
    instructions: str | None = None
    #: Whether a confirmation must carry an evidence link.
    evidence_required: bool = True


MANUAL = register(
    ProbeType(
        name="manual",
        summary="Confirmed by a person with an evidence link; PENDING until then.",
        config_model=ManualConfig,
        gather=None,
        values=(Value("CONFIRMED_BY", "who confirmed the item"),),
        default_conditions=(),
        example={"type": "manual", "instructions": "Link the runbook page in the wiki."},
        kind="manual",
    )
)
