"""GitHub deployment protection: hold a deploy until GO, and answer it exactly once.

``POST /github/webhook`` (on ``golive serve``'s HTTP port, when a GitHub App is
configured) takes ``deployment_protection_rule`` deliveries: the signature is checked
against the webhook secret (401 otherwise), the deploy recorded once per delivery id
(redeliveries are acknowledged and ignored), and the channel told it waits for GO.

The leader answers (``answer_pending``, on its verdict timer): a deploy whose ref is not
the release's version is rejected, one that waited longer than ``GOLIVE_GITHUB_WAIT``
too; on GO it is approved with a comment naming the run and the sign-offs. Each answer
is claimed in the database (``deploy:<id>``) before it is sent, as notifications are, so
of all replicas and timer rounds exactly one sends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from aiohttp import web

from ...checks.model import Checklist
from ...storage import PendingDeployment, StorageError, Store
from ..core import usecases
from ..core.delivery import deliver
from ..core.surface import Surface
from ..render.blocks import Message, mrkdwn_escape
from ..render.messages import text
from ..render.mrkdwn import clip
from ..state import State
from .github import (
    GitHubApp,
    GitHubError,
    GitHubSettings,
    ProtectionRequest,
    protection_request,
    ref_matches,
    signature_valid,
)

log = logging.getLogger(__name__)
FORGE = "GitHub"
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Channel:
    """Where the channel notices go (None: no Slack, nothing posted)."""

    surface: Surface
    channel: str


def install_webhook(
    application: web.Application,
    store: Store,
    checklist: Checklist,
    secret: bytes,
    channel: Callable[[], Channel | None],
    now: Callable[[], datetime] = usecases.utcnow,
) -> None:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if not signature_valid(secret, body, request.headers.get("X-Hub-Signature-256")):
            log.warning("GitHub webhook: refused a delivery with a missing or wrong signature")
            return web.json_response({"error": "signature does not match"}, status=401)
        event = request.headers.get("X-GitHub-Event", "")
        delivery = request.headers.get("X-GitHub-Delivery", "")
        if event == "ping":
            return web.json_response({"ok": True})
        if event != "deployment_protection_rule":
            return web.json_response({"ignored": event}, status=202)
        try:
            payload = json.loads(body)
            if payload.get("action") != "requested":
                return web.json_response({"ignored": payload.get("action")}, status=202)
            asked = protection_request(delivery, payload)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if not delivery:
            return web.json_response({"error": "X-GitHub-Delivery is missing"}, status=400)
        try:
            recorded = await record(store, checklist, asked, now())
            target = channel()
            if recorded is not None and target is not None:
                await tell(store, checklist, target, recorded, "waiting")
        except StorageError:
            log.exception("GitHub webhook: the deploy could not be recorded")
            return web.json_response({"error": "cannot record the deploy now"}, status=503)
        return web.json_response({"recorded": recorded is not None}, status=202)

    application.router.add_post("/github/webhook", webhook)


async def record(
    store: Store, checklist: Checklist, asked: ProtectionRequest, at: datetime
) -> PendingDeployment | None:
    """The deploy recorded now, or None for a redelivery."""
    release_id = await store.release_id(checklist.release.name, checklist.release.version)
    new = await store.record_deployment(
        release_id,
        forge=FORGE,
        delivery_id=asked.delivery_id,
        repository=asked.repository,
        environment=asked.environment,
        ref=asked.ref,
        sha=asked.sha,
        installation_id=asked.installation_id,
        callback_url=asked.callback_url,
        at=at,
    )
    if not new:
        return None
    return next(d for d in await store.deployments(release_id) if d.delivery_id == asked.delivery_id)


async def tell(
    store: Store,
    checklist: Checklist,
    target: Channel,
    deployment: PendingDeployment,
    what: str,
    comment: str = "",
) -> None:
    """One channel notice per deploy and step, claimed like every notification."""
    key = f"deploy-{what}:{deployment.id}"
    if not await store.claim_notification(deployment.release_id, key, at=usecases.utcnow()):
        return
    message = text(
        checklist.release.language,
        f"deploy_{what}",
        environment=mrkdwn_escape(deployment.environment),
        repository=mrkdwn_escape(deployment.repository),
        sha=mrkdwn_escape(deployment.sha[:7]),
        forge=mrkdwn_escape(deployment.forge),
        comment=mrkdwn_escape(clip(comment, 2000)),
    )
    await deliver(
        store, deployment.release_id, [key], key, target.surface, target.channel, [Message(message)]
    )


def decision(
    checklist: Checklist,
    state: State,
    deployment: PendingDeployment,
    now: datetime,
    wait_minutes: float,
) -> tuple[bool, str] | None:
    """(approved, comment), or None while the deploy should keep waiting."""
    language = checklist.release.language
    release = f"{checklist.release.name} {checklist.release.version}"
    if not ref_matches(deployment.ref, checklist.release.version):
        return False, text(language, "deploy_comment_ref", ref=deployment.ref, release=release)
    if state.verdict.go:
        signed = [
            f"{s.title} ({s.record.user}, {s.record.signed_at:%Y-%m-%d %H:%M})"
            for s in state.verdict.signoffs
            if s.record is not None
        ]
        run = state.run.id if state.run is not None else "-"
        return True, text(
            language, "deploy_comment_go", run=run, release=release, signoffs=", ".join(signed) or "-"
        )
    if (now - deployment.received_at).total_seconds() > wait_minutes * 60:
        blockers = ", ".join(b.subject for b in state.verdict.blockers[:5])
        return False, text(
            language,
            "deploy_comment_timeout",
            release=release,
            minutes=f"{wait_minutes:g}",
            blockers=blockers,
        )
    return None


async def answer_pending(
    checklist: Checklist,
    store: Store,
    app: GitHubApp,
    *,
    wait_minutes: float,
    channel: Channel | None = None,
    leading: Callable[[], bool] = lambda: True,
    now: Callable[[], datetime] = usecases.utcnow,
) -> list[tuple[PendingDeployment, bool]]:
    """Answer every deploy that can be answered now; the answers this call sent."""
    release_id = await store.release_id(checklist.release.name, checklist.release.version)
    waiting = await store.unanswered_deployments(release_id)
    if not waiting:
        return []
    state = await usecases.current_state(checklist, store, now=now)
    sent: list[tuple[PendingDeployment, bool]] = []
    for deployment in waiting:
        decided = decision(checklist, state, deployment, state.at, wait_minutes)
        if decided is None or not leading():
            continue
        approved, comment = decided
        if not await store.claim_notification(release_id, f"deploy:{deployment.id}", at=state.at):
            continue  # another replica or round answers it
        request = ProtectionRequest(
            delivery_id=deployment.delivery_id,
            repository=deployment.repository,
            environment=deployment.environment,
            ref=deployment.ref,
            sha=deployment.sha,
            installation_id=deployment.installation_id,
            callback_url=deployment.callback_url,
        )
        try:
            await app.answer(request, approved=approved, comment=comment)
        except GitHubError as exc:
            await _not_answered(store, checklist, channel, deployment, exc, state.at)
            continue
        state_name = "approved" if approved else "rejected"
        await store.answer_deployment(deployment.id, state=state_name, comment=comment, at=state.at)
        sent.append((deployment, approved))
        if channel is not None:
            await tell(store, checklist, channel, deployment, state_name, comment)
    return sent


#: GitHub fails a job that waited this long for its protection rules; answering after
#: that is pointless.
GITHUB_GIVES_UP = timedelta(days=30)


async def _not_answered(
    store: Store,
    checklist: Checklist,
    channel: Channel | None,
    deployment: PendingDeployment,
    failure: GitHubError,
    at: datetime,
) -> None:
    """An answer GitHub did not take. Whatever may succeed later is tried again at the
    next round (the claim let go: one replica still sends it), until GitHub itself gives
    up on the deploy; the rest is recorded as failed and said in the channel.

    An answer whose request went out and whose reply was lost (or was a server error)
    may have been applied: it is sent again, since a deploy left waiting for a month is
    worse than a repeat GitHub refuses, and a refusal after such an attempt is recorded
    as "uncertain", not as a failure, with both reasons."""
    uncertain = failure.uncertain or deployment.state == "uncertain"
    if failure.retry and at - deployment.received_at < GITHUB_GIVES_UP:
        log.warning(
            "deploy %s of %s not answered, trying again next round: %s",
            deployment.id,
            deployment.repository,
            failure,
        )
        await store.attempt_failed(
            deployment.id, state="uncertain" if uncertain else "retrying", comment=str(failure)
        )
        await store.release_notification(deployment.release_id, f"deploy:{deployment.id}")
        return
    log.error("deploy %s of %s not answered: %s", deployment.id, deployment.repository, failure)
    if uncertain:
        earlier = deployment.comment or "no reply"
        comment = f"{failure}; an earlier attempt may have been applied by GitHub ({earlier})"
        await store.answer_deployment(deployment.id, state="uncertain", comment=comment, at=at)
        if channel is not None:
            await tell(store, checklist, channel, deployment, "uncertain", comment)
        return
    await store.answer_deployment(deployment.id, state="failed", comment=str(failure), at=at)
    if channel is not None:
        await tell(store, checklist, channel, deployment, "failed", str(failure))


async def watch_pending(
    checklist: Checklist,
    store: Store,
    settings: GitHubSettings,
    *,
    interval: float,
    leading: Callable[[], bool],
    channel: Callable[[], Channel | None],
) -> None:
    """The leader's round: answer what can be answered, every ``interval`` seconds, until
    cancelled. A round that fails is logged; the next one tries again."""
    async with httpx.AsyncClient(timeout=15) as client:
        app = GitHubApp(settings, client)
        while True:
            if leading():
                try:
                    await answer_pending(
                        checklist,
                        store,
                        app,
                        wait_minutes=settings.wait.total_seconds() / 60,
                        channel=channel(),
                        leading=leading,
                    )
                except (StorageError, GitHubError):
                    log.exception("deploys waiting for GO: this round failed; the next one tries again")
            await asyncio.sleep(interval)
