"""GitHub as a deploy tool asking for GO: a GitHub App's custom deployment protection rule.

GitHub sends a ``deployment_protection_rule`` webhook when a job targets a protected
environment; the App answers by POSTing ``approved`` or ``rejected`` to the
``deployment_callback_url``, authenticated as the installation: a JWT signed RS256 with
the App's private key (``iss`` the App id) is exchanged for an installation token
(``POST /app/installations/{id}/access_tokens``), which is cached until shortly before
it expires.

Settings: ``GOLIVE_GITHUB_APP_ID``, ``GOLIVE_GITHUB_PRIVATE_KEY_FILE`` (PEM),
``GOLIVE_GITHUB_WEBHOOK_SECRET`` (or ``…_FILE``), ``GOLIVE_GITHUB_API_URL`` (default
``https://api.github.com``; GitHub Enterprise Server: ``https://HOST/api/v3``),
``GOLIVE_GITHUB_WAIT`` (how long a deploy may wait for GO before it is rejected,
default 1h).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ...checks.durations import parse_duration
from ...errors import GoliveError

# cryptography is imported when a GitHub App is configured, not by every `golive serve`.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_WAIT = timedelta(hours=1)
#: GitHub refuses a JWT valid for more than 10 minutes; ``iat`` a minute back allows for
#: clock drift.
JWT_LIFETIME = timedelta(minutes=9)
JWT_BACKDATE = timedelta(seconds=60)
#: An installation token is renewed this long before it expires.
TOKEN_MARGIN = timedelta(minutes=5)
#: GitHub caps a protection rule comment; longer ones are cut.
COMMENT_CHARS = 1000


class GitHubError(GoliveError):
    """GitHub refused or could not be reached; the message names the call, never a token.

    ``retry``: the same call may succeed later (GitHub unreachable, rate limiting, or
    failing itself). ``uncertain``: the request went out and its reply was lost or was a
    server error, so GitHub may have applied it."""

    def __init__(self, message: str, *, retry: bool = False, uncertain: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        self.uncertain = uncertain


def signature(secret: bytes, body: bytes) -> str:
    """``X-Hub-Signature-256`` of ``body``: ``sha256=`` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_valid(secret: bytes, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(signature(secret, body).encode(), header.encode())


@dataclass(frozen=True)
class ProtectionRequest:
    """What a ``deployment_protection_rule`` delivery asks."""

    delivery_id: str
    repository: str
    environment: str
    ref: str
    sha: str
    installation_id: int
    callback_url: str


def protection_request(delivery_id: str, payload: Mapping[str, Any]) -> ProtectionRequest:
    """ValueError names the field missing from the payload."""
    try:
        deployment = payload.get("deployment") or {}
        return ProtectionRequest(
            delivery_id=delivery_id,
            repository=str(payload["repository"]["full_name"]),
            environment=str(payload["environment"]),
            ref=str(deployment.get("ref") or payload.get("ref") or ""),
            sha=str(deployment.get("sha") or payload.get("sha") or ""),
            installation_id=int(payload["installation"]["id"]),
            callback_url=str(payload["deployment_callback_url"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a deployment_protection_rule payload: {exc} is missing or malformed") from None


def ref_matches(ref: str, version: str) -> bool:
    """Whether a deployment's ref is the release's version: ``2.0.0``, ``v2.0.0``,
    ``refs/tags/v2.0.0`` or a branch ending in the version (``release/2.0.0``)."""
    name = ref.removeprefix("refs/tags/").removeprefix("refs/heads/")
    last = name.rsplit("/", 1)[-1]
    return version in (last, last.removeprefix("v"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def app_jwt(app_id: str, key: rsa.RSAPrivateKey, now: datetime) -> str:
    """The App's JSON Web Token (RS256), as GitHub's App authentication takes it."""
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {
        "iat": int((now - JWT_BACKDATE).timestamp()),
        "exp": int((now + JWT_LIFETIME).timestamp()),
        "iss": app_id,
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signed = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signed)}"


@dataclass(frozen=True)
class GitHubSettings:
    app_id: str
    private_key: rsa.RSAPrivateKey
    webhook_secret: bytes
    api_url: str = DEFAULT_API_URL
    wait: timedelta = DEFAULT_WAIT

    @classmethod
    def from_variables(cls, env: Mapping[str, str]) -> GitHubSettings | None:
        """None when no App is configured; ValueError names what is missing or wrong."""
        app_id = env.get("GOLIVE_GITHUB_APP_ID")
        if not app_id:
            return None
        key_file = env.get("GOLIVE_GITHUB_PRIVATE_KEY_FILE")
        if not key_file:
            raise ValueError(
                "GOLIVE_GITHUB_APP_ID is set: set GOLIVE_GITHUB_PRIVATE_KEY_FILE to the App's PEM key"
            )
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"GOLIVE_GITHUB_PRIVATE_KEY_FILE={key_file}: not an RSA private key")
        secret = env.get("GOLIVE_GITHUB_WEBHOOK_SECRET") or ""
        if not secret and env.get("GOLIVE_GITHUB_WEBHOOK_SECRET_FILE"):
            secret = Path(env["GOLIVE_GITHUB_WEBHOOK_SECRET_FILE"]).read_text().strip()
        if not secret:
            raise ValueError(
                "GOLIVE_GITHUB_APP_ID is set: set GOLIVE_GITHUB_WEBHOOK_SECRET (or …_FILE) "
                "to the App's webhook secret"
            )
        wait = parse_duration(env["GOLIVE_GITHUB_WAIT"]) if env.get("GOLIVE_GITHUB_WAIT") else DEFAULT_WAIT
        api_url = (env.get("GOLIVE_GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        return cls(app_id=app_id, private_key=key, webhook_secret=secret.encode(), api_url=api_url, wait=wait)


@dataclass
class GitHubApp:
    """The App's calls: installation tokens, and answering a protection rule."""

    settings: GitHubSettings
    client: httpx.AsyncClient
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _tokens: dict[int, tuple[str, datetime]] = field(default_factory=dict)

    async def installation_token(self, installation_id: int) -> str:
        cached = self._tokens.get(installation_id)
        if cached is not None and cached[1] - TOKEN_MARGIN > self.now():
            return cached[0]
        url = f"{self.settings.api_url}/app/installations/{installation_id}/access_tokens"
        jwt = app_jwt(self.settings.app_id, self.settings.private_key, self.now())
        response = await self._post(url, jwt, None, "an installation token")
        body = response.json()
        token, expires = (
            str(body["token"]),
            datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00")),
        )
        self._tokens[installation_id] = (token, expires)
        return token

    async def answer(self, request: ProtectionRequest, *, approved: bool, comment: str) -> None:
        """POST the decision to the deployment's callback URL, as the installation."""
        if not self._on_api(request.callback_url):
            raise GitHubError(
                f"the callback URL {request.callback_url} is not on {self.settings.api_url}: not called"
            )
        try:
            token = await self.installation_token(request.installation_id)
        except GitHubError as exc:
            # Nothing reached the deploy yet: asking again later is safe, also when the
            # token was refused (an App key being replaced, an installation suspended).
            raise GitHubError(str(exc), retry=True) from None
        document = {
            "environment_name": request.environment,
            "state": "approved" if approved else "rejected",
            "comment": comment[:COMMENT_CHARS],
        }
        await self._post(request.callback_url, token, document, "the deployment protection rule answer")

    def _on_api(self, url: str) -> bool:
        """The callback must go to the API golive is configured for: a forged payload
        must not make golive send its installation token elsewhere."""
        api, target = urlsplit(self.settings.api_url), urlsplit(url)
        return (target.scheme, target.netloc) == (api.scheme, api.netloc) and target.path.startswith(
            api.path.rstrip("/") + "/repos/"
        )

    async def _post(
        self, url: str, bearer: str, document: dict[str, Any] | None, what: str
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {bearer}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        try:
            response = await self.client.post(url, headers=headers, json=document)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection, so no request: certainly not applied.
            raise GitHubError(
                f"GitHub cannot be reached for {what}: {type(exc).__name__}", retry=True
            ) from None
        except httpx.HTTPError as exc:
            raise GitHubError(
                f"GitHub did not answer {what}: {type(exc).__name__}", retry=True, uncertain=True
            ) from None
        status = response.status_code
        if status < 300:
            return response
        refused = f"GitHub refused {what}: HTTP {status} {response.text[:200]}"
        if status == 429 or (status == 403 and _rate_limited(response)):
            raise GitHubError(refused, retry=True)
        if status >= 500:
            # 503: not handled at all. Any other server error, or a gateway's (502, 504),
            # may come after the answer was applied.
            raise GitHubError(refused, retry=True, uncertain=status != 503)
        raise GitHubError(refused)


def _rate_limited(response: httpx.Response) -> bool:
    """GitHub's rate limits answer 403 (or 429) with these headers; other 403s are a
    permission the App lacks, which asking again does not change."""
    return "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0"
