"""Who may sign for a role in Slack: listed user IDs, or members of Slack user groups.

Group membership comes from ``usergroups.users.list`` (Tier 2, about 20 calls a minute),
so it is cached per group for ``ttl`` seconds. A workspace on the Free plan answers
``plan_upgrade_required``: then only listed users count, and the refusal says so.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from ...checks.model import SignoffRole

log = logging.getLogger(__name__)


class SlackApprovers:
    def __init__(self, client: AsyncWebClient, ttl: float = 300.0) -> None:
        self.client = client
        self.ttl = ttl
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        # One lookup per group at a time: a burst of clicks costs one Tier 2 call.
        self._locks: dict[str, asyncio.Lock] = {}

    async def is_approver(self, role: SignoffRole, user: str) -> bool:
        if user in role.approvers.users:
            return True
        for group in role.approvers.usergroups:
            if user in await self.members(group):
                return True
        return False

    async def members(self, group: str) -> frozenset[str]:
        async with self._locks.setdefault(group, asyncio.Lock()):
            return await self._members(group)

    async def _members(self, group: str) -> frozenset[str]:
        cached = self._groups.get(group)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        try:
            response = await self.client.usergroups_users_list(usergroup=group, include_disabled=False)
            users: list[str] = response.get("users") or []
            members = frozenset(str(u) for u in users)
        except SlackApiError as exc:
            # Refuse rather than guess; an earlier answer stays good until its TTL.
            log.warning("usergroups.users.list %s failed: %s", group, exc.response.get("error"))
            return cached[1] if cached else frozenset()
        self._groups[group] = (time.monotonic(), members)
        return members
