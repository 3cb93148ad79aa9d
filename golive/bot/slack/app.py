"""The Bolt app: built, and its listeners registered: the ``/golive`` command
(:mod:`golive.bot.slack.commands`), the buttons and the evidence modal
(:mod:`golive.bot.slack.actions`).

Requests from any workspace but the installed one are refused first
(:mod:`golive.bot.slack.workspace`). Listeners are registered by :func:`register`, not
at import. Each acknowledges first
(Slack allows 3 seconds) and does the work after; refusals and errors go to the user
ephemerally, and nothing is recorded for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from . import actions, commands
from .bot import Bot
from .requests import malformed
from .workspace import only_installed_workspace

#: The Bolt app, as the process that serves it names it.
BoltApp = AsyncApp


def events_endpoint(app: AsyncApp) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``POST /slack/events``: a body Slack sends, handed to Bolt (which checks its signature)."""

    async def events(request: web.Request) -> web.Response:
        try:
            refused = malformed(await request.text(), request.content_type)
        except UnicodeDecodeError:  # Slack sends UTF-8
            refused = "the body is not UTF-8"
        if refused is not None:  # not a body Slack sends; Bolt would fail on it with a 500
            return web.Response(status=400, text=refused)
        response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    return events


def build_app(bot: Bot, signing_secret: str | None) -> AsyncApp:
    app = AsyncApp(
        client=bot.client,
        signing_secret=signing_secret,
        # Socket Mode needs no signing secret; HTTP mode verifies every request.
        request_verification_enabled=signing_secret is not None,
    )
    register(app, bot)
    return app


def register(app: AsyncApp, bot: Bot) -> None:
    app.middleware(only_installed_workspace(bot.allowed_teams))
    app.command("/golive")(commands.command(bot))
    app.action("golive_signoff")(actions.signoff(bot))
    app.action("golive_revoke")(actions.revoke(bot))
    app.action("golive_confirm")(actions.open_confirm(bot))
    app.view("golive_confirm_modal")(actions.submit_confirm(bot))
