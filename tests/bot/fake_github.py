"""A local server that speaks the part of GitHub's REST API a deployment protection rule
App uses, and signs webhook deliveries as GitHub does.

- ``POST /app/installations/{id}/access_tokens`` checks the App's JWT: RS256 verified
  with the App's public key, ``iss`` the App id, ``exp`` at most 10 minutes ahead and
  after ``iat``; answers ``{"token", "expires_at"}`` (201).
- ``POST /repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule`` checks
  the installation token and records the JSON answer (204).

Every request is recorded; a refused one with its reason.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from golive.bot.gate.github import signature

APP_ID = "424242"
INSTALLATION_ID = 7777
WEBHOOK_SECRET = b"webhook-secret-9d2f4b7a1c"


def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class Answer:
    path: str
    body: dict[str, Any]


@dataclass
class FakeGitHub:
    public_key: rsa.RSAPublicKey
    app_id: str = APP_ID
    answers: list[Answer] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    tokens_issued: int = 0
    #: Statuses for the next protection-rule answers, one each, before taking them (as a
    #: GitHub that is failing or limiting the rate).
    failing: list[int] = field(default_factory=list)
    #: Statuses for the next protection-rule answers, one each, after taking them (as a
    #: gateway whose reply is an error although GitHub applied the answer).
    failing_after_taking: list[int] = field(default_factory=list)
    #: Headers sent with those failures.
    failure_headers: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, int] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self, port: int = 0) -> FakeGitHub:
        app = web.Application()
        app.router.add_post("/app/installations/{installation}/access_tokens", self._access_token)
        app.router.add_post(
            "/repos/{owner}/{repo}/actions/runs/{run}/deployment_protection_rule", self._protection_rule
        )
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        """Back on the same address after :meth:`stop` (GitHub down for a while)."""
        await self.start(int(self.url.rsplit(":", 1)[1]))

    def callback_url(self, repository: str, run_id: int) -> str:
        return f"{self.url}/repos/{repository}/actions/runs/{run_id}/deployment_protection_rule"

    def _refuse(self, status: int, reason: str) -> web.Response:
        self.refused.append(reason)
        return web.json_response({"message": reason}, status=status)

    def _jwt_problem(self, authorization: str) -> str | None:
        scheme, _, jwt = authorization.partition(" ")
        if scheme != "Bearer" or jwt.count(".") != 2:
            return "no JWT"
        header, claims, signed = jwt.split(".")
        try:
            self.public_key.verify(
                _unb64(signed), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return "JWT signature does not verify with the App's public key"
        if json.loads(_unb64(header)).get("alg") != "RS256":
            return "JWT alg is not RS256"
        body = json.loads(_unb64(claims))
        now = time.time()
        if str(body.get("iss")) != self.app_id:
            return f"JWT iss {body.get('iss')!r} is not the App id"
        if not body["iat"] < body["exp"] <= now + 600 or body["iat"] > now + 60 or body["exp"] < now:
            return "JWT iat/exp out of bounds"
        return None

    async def _access_token(self, request: web.Request) -> web.Response:
        problem = self._jwt_problem(request.headers.get("Authorization", ""))
        if problem is not None:
            return self._refuse(401, problem)
        token = f"ghs_fake{next(self._counter):04d}installationtoken"
        self._tokens[token] = int(request.match_info["installation"])
        self.tokens_issued += 1
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response({"token": token, "expires_at": expires}, status=201)

    async def _protection_rule(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self._tokens:
            return self._refuse(401, "not an installation token")
        body = await request.json()
        if set(body) != {"environment_name", "state", "comment"} or body["state"] not in (
            "approved",
            "rejected",
        ):
            return self._refuse(422, f"invalid body {body}")
        if self.failing:
            return web.json_response(
                {"message": "Server Error"}, status=self.failing.pop(0), headers=self.failure_headers
            )
        if any(answer.path == request.path for answer in self.answers):
            # A run's protection rule is answered once; a repeat has nothing left to review.
            return self._refuse(422, "No pending deployment protection rule for this run")
        self.answers.append(Answer(request.path, body))
        if self.failing_after_taking:
            return web.json_response({"message": "Bad Gateway"}, status=self.failing_after_taking.pop(0))
        return web.Response(status=204)


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def protection_delivery(
    github: FakeGitHub,
    *,
    delivery: str,
    ref: str = "v2.0.0",
    sha: str = "abc1234def5678",
    environment: str = "production",
    repository: str = "valeo/shop",
    run_id: int = 99,
    secret: bytes = WEBHOOK_SECRET,
) -> tuple[bytes, dict[str, str]]:
    """A ``deployment_protection_rule`` delivery: the raw body and GitHub's headers."""
    payload = {
        "action": "requested",
        "environment": environment,
        "event": "push",
        "ref": ref,
        "deployment_callback_url": github.callback_url(repository, run_id),
        "deployment": {
            "id": 1234,
            "sha": sha,
            "ref": ref,
            "environment": environment,
            "task": "deploy",
            "creator": {"login": "github-actions[bot]"},
        },
        "repository": {"id": 1, "name": repository.split("/")[1], "full_name": repository},
        "installation": {"id": INSTALLATION_ID},
        "sender": {"login": "dana"},
    }
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Event": "deployment_protection_rule",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature(secret, body),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }
    return body, headers
