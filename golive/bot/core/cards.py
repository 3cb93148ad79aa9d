"""The sign-off cards: posted where asked, remembered, and all edited when a sign-off
changes (signed, revoked, invalidated by a regression), so that no card keeps showing a
sign-off that no longer stands, with a Revoke button that would refuse."""

from __future__ import annotations

import logging

from ...checks.model import Checklist
from ...storage import Store
from ..render.blocks import signoff_card
from ..state import State
from . import usecases
from .surface import Surface

log = logging.getLogger(__name__)


async def post_signoff_card(store: Store, surface: Surface, channel: str, state: State) -> str | None:
    """Post the card for ``state`` in ``channel`` and remember where it is; its ts."""
    ts = await surface.post(channel, signoff_card(state))
    if ts:
        await store.add_signoff_card(state.release_id, channel=channel, ts=ts, at=state.at)
    return ts or None


async def refresh_signoff_cards(
    checklist: Checklist, store: Store, surface: Surface, *, clicked: tuple[str, str | None] | None = None
) -> None:
    """Edit every remembered card (and the one clicked, ``(channel, ts)``) to the state as
    it stands now. A card Slack will not edit (deleted, too old) is logged and skipped."""
    state = await usecases.current_state(checklist, store)
    cards = await store.signoff_cards(state.release_id)
    if clicked is not None and clicked[1] and (clicked[0], clicked[1]) not in cards:
        cards.append((clicked[0], clicked[1]))
    if not cards:
        return
    card = signoff_card(state)
    for channel, ts in cards:
        try:
            await surface.update(channel, ts, card)
        except Exception as exc:  # the surface's transport: Slack API errors, timeouts
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("could not edit the sign-off card %s/%s: %s", channel, ts, reason)
