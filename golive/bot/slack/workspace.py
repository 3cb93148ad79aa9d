"""Only the installed workspace: a Bolt middleware refusing, with 403, every request
(slash command, click, modal submission, over HTTP or Socket Mode) from a workspace or
Enterprise Grid organisation other than the bot token's own.

A signature proves a request came from Slack for this app, not from which workspace: an
app distributed to (or installed across) several workspaces receives theirs too, and a
person there must not note, sign, waive or run anything for this release. The token's
workspace comes from ``auth.test``, which Bolt calls once and keeps as the request's
authorisation; further workspaces (Enterprise Grid) are listed in
``GOLIVE_SLACK_ALLOWED_TEAMS``. The check runs before any listener, so a refused request
is neither acknowledged nor acted on, and nothing of it is recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import structlog
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = structlog.get_logger(__name__)

Middleware = Callable[..., Awaitable[BoltResponse | None]]


def served(
    team: str | None,
    enterprise: str | None,
    own_team: str | None,
    own_enterprise: str | None,
    listed: Iterable[str],
) -> bool:
    """Whether a request of ``team`` (in the organisation ``enterprise``) is served by a
    bot whose token belongs to ``own_team`` (in ``own_enterprise``)."""
    allowed = {own_team, own_enterprise, *listed} - {None, ""}
    if enterprise and enterprise not in allowed:
        return False  # another organisation, whatever its workspace id
    if team:
        return team in allowed
    # An organisation-wide request names no workspace: its organisation must be ours.
    return bool(enterprise) and enterprise in allowed


def only_installed_workspace(listed: tuple[str, ...]) -> Middleware:
    async def guard(
        req: AsyncBoltRequest, resp: BoltResponse, next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        context = req.context
        own = context.authorize_result
        own_team = own.team_id if own is not None else None
        own_enterprise = own.enterprise_id if own is not None else None
        if own_team is None or not served(
            context.team_id, context.enterprise_id, own_team, own_enterprise, listed
        ):
            log.warning(
                "refused a request from another workspace",
                team=context.team_id,
                enterprise=context.enterprise_id,
            )
            return BoltResponse(status=403, body="this app serves only the workspace it is installed in")
        await next_()
        return resp

    return guard
