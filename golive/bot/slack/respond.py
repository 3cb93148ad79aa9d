"""Answers through a request's ``response_url``: they reach the person wherever they asked
(a DM, a private channel the bot is not in), where ``chat.postEphemeral`` is refused
with ``channel_not_found``.

Slack takes a response_url 5 times within 30 minutes of the request. Each answer is
counted in ``golive_slack_api_*`` as the method ``response_url``. A failed answer is not
repeated (Slack may have shown it); the caller falls back to ``chat.postEphemeral``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ..ops.metrics import METRICS
from ..render.blocks import Message

log = structlog.get_logger(__name__)

#: How often Slack takes one response_url.
RESPONSE_URL_USES = 5
METHOD = "response_url"


@dataclass
class Asked:
    """Who asked, in which conversation, and where to answer them."""

    user: str
    channel: str
    #: The request's response_url; None for requests without one (a modal submission).
    response_url: str | None = None
    #: The conversation's name as the request gave it (to recognise the release channel
    #: when it is configured by name).
    channel_name: str = ""
    uses: int = 0

    def can_respond(self) -> bool:
        return self.response_url is not None and self.uses < RESPONSE_URL_USES


async def respond(asked: Asked, message: Message, *, in_channel: bool = False) -> bool:
    """Send ``message`` through ``asked``'s response_url (ephemeral unless ``in_channel``);
    whether Slack took it."""
    if asked.response_url is None or not asked.can_respond():
        return False
    asked.uses += 1
    payload: dict[str, Any] = {
        "response_type": "in_channel" if in_channel else "ephemeral",
        "text": message.text,
        "blocks": message.blocks,
    }
    METRICS.slack_calls.labels(method=METHOD).inc()
    try:
        response = await AsyncWebhookClient(asked.response_url, timeout=15).send_dict(payload)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _failed(type(exc).__name__)
    if response.status_code != 200:
        # Slack's answer is a short code (expired_url, used_url, invalid_blocks).
        return _failed(f"http_{response.status_code}:{response.body[:60]}")
    return True


def _failed(error: str) -> bool:
    METRICS.slack_errors.labels(method=METHOD, error=error.split(":", 1)[0]).inc()
    log.warning("slack response_url answer failed", method=METHOD, error=error)
    return False
