"""``registry``: the release's images in an OCI/Docker registry (P1 Docker Images, Security).

One probe answers, for every image of the release at one tag (default: the release
version):

- ``/v2/`` answers and lets us in (anonymous, Basic, or the Bearer token flow);
- the tag exists (manifest GET; the digest is verified against the raw body);
- compressed size per platform (see :mod:`golive.checks.formats.oci` for the convention) against
  an optional ``max_size_mb`` budget;
- with ``check_signatures``: a cosign signature exists — referrers API, else the
  ``sha256-<hex>`` fallback tag, then cosign's ``sha256-<hex>.sig`` tag;
- with ``mirror``: the mirror registry holds the same digests.

A missing image is an observation (``MISSING``), not an error: the default condition
fails on it. Values of a check that is not configured are not observed, so a condition
on them fails with "(not observed)" instead of passing unchecked. The probe errs when
the registry cannot be reached (temporary) or refuses us after authenticating, or when
the release version is no valid tag (permanent).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..clients.http import BasicAuth, checked_url, public_url, resolve_path, ssl_context
from ..clients.registry import Credentials, Manifest, RegistryClient
from ..errors import PermanentProbeError, ProbeError
from ..formats import oci as images
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register

_T = TypeVar("_T")
#: An index inside an index is legal but rare; deeper nesting is refused, not followed.
_MAX_INDEX_DEPTH = 2


class RegistryAuth(BasicAuth):
    """Basic credentials for a registry. Both may be left unset (``username:
    "${USER_VARIABLE:-}"``, a password variable that is not set): the registry is then
    asked anonymously, as open registries allow, and only its refusal is an error."""

    #: Empty (its variable unset) only together with an unset password.
    username: str = ""


class RegistryEndpoint(BaseModel):
    """Where a registry is and how to log in; credentials by reference only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    auth: RegistryAuth | None = None
    verify_tls: bool = True
    #: CA bundle (PEM) for a registry with a private CA; relative to the checklist's folder.
    ca_file: str | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        expected = "the registry's base URL, e.g. https://registry.example.com"
        return checked_url(value, expected, "auth with password: {env: …}", base_only=True)


class RegistryConfig(ProbeConfig, RegistryEndpoint):
    type: Literal["registry"] = "registry"
    #: Repository names, e.g. ``valeo/api``; the tag is ``tag`` for all of them.
    images: list[str] = Field(min_length=1)
    #: Default: the release version of the checklist.
    tag: str | None = None
    max_size_mb: float | None = Field(default=None, gt=0)
    check_signatures: bool = False
    mirror: RegistryEndpoint | None = None

    @field_validator("images")
    @classmethod
    def _check_images(cls, value: list[str]) -> list[str]:
        for name in value:
            if ":" in name or "@" in name:
                raise ValueError(f"{name!r}: write the repository name only; the tag comes from 'tag'")
            if not images.valid_name(name):
                raise ValueError(
                    f"{name!r} is not a repository name: lower-case letters and digits, "
                    "separated by '.', '_', '__', '-' or '/', at most 255 characters"
                )
        twice = sorted({name for name in value if value.count(name) > 1})
        if twice:
            raise ValueError(f"listed twice: {', '.join(twice)}")
        return value

    @field_validator("tag")
    @classmethod
    def _check_tag(cls, value: str | None) -> str | None:
        if value is not None and not images.valid_tag(value):
            raise ValueError(f"{value!r} is not a valid tag ([A-Za-z0-9_][A-Za-z0-9._-], up to 128)")
        return value


@dataclass
class ImageReport:
    name: str
    tag: str
    digest: str | None = None
    #: Why it is missing (tag not found, repository unknown, a platform's manifest gone).
    missing: str | None = None
    sizes: dict[str, int] = field(default_factory=dict)
    signed: bool | None = None
    in_mirror: bool | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}:{self.tag}"


async def _gather(config: RegistryConfig, context: ProbeContext) -> Observation:
    tag = config.tag or context.release_version
    if not images.valid_tag(tag):
        raise PermanentProbeError(
            f"the release version {tag!r} is not a valid image tag; set 'tag' on the probe"
        )
    primary = await _client(config, context)
    async with primary:
        shown = ", ".join(f"{name}:{tag}" for name in config.images[:3])
        more = f" and {len(config.images) - 3} more" if len(config.images) > 3 else ""
        await primary.check_api(f"{shown}{more} (GET /v2/)")
        reports = await _all(_inspect(primary, name, tag, config) for name in config.images)
    if config.mirror is not None:
        async with await _client(config.mirror, context) as mirror:
            await mirror.check_api("the mirror (GET /v2/)")
            wanted = [(r, r.digest) for r in reports if r.digest is not None]
            found = await _all(mirror.exists(r.name, digest, f"{r.name}@{digest}") for r, digest in wanted)
            for (report, _), exists in zip(wanted, found, strict=True):
                report.in_mirror = exists
    return _observation(config, tag, reports, primary.label, context)


async def _client(endpoint: RegistryEndpoint, context: ProbeContext) -> RegistryClient:
    credentials, hint = None, None
    if endpoint.auth is not None:
        # An unset password variable: no credentials, tried anonymously (open registries).
        password = endpoint.auth.password.resolve_optional()
        if password is None:
            hint = endpoint.auth.password.unset_hint()
        elif not endpoint.auth.username:
            raise PermanentProbeError(
                f"auth for {public_url(endpoint.url)} has a password ({endpoint.auth.password.describe()}) "
                "but an empty username: set the username's variable"
            )
        else:
            credentials = Credentials(endpoint.auth.username, password)
            hint = endpoint.auth.password.refused_hint("password")
    # Loading CA certificates takes long: not on the event loop.
    verify = await asyncio.to_thread(_verify, endpoint, context)
    return RegistryClient(
        endpoint.url,
        credentials=credentials,
        verify=verify,
        timeout=context.timeout,
        max_bytes=context.max_body_bytes,
        credential_hint=hint,
    )


def _verify(endpoint: RegistryEndpoint, context: ProbeContext) -> ssl.SSLContext | bool:
    if not endpoint.verify_tls:
        return False
    ca_file = resolve_path(endpoint.ca_file, context.base_dir) if endpoint.ca_file else None
    return ssl_context(ca_file=ca_file)


async def _inspect(client: RegistryClient, name: str, tag: str, config: RegistryConfig) -> ImageReport:
    report = ImageReport(name, tag)
    manifest = await client.manifest(name, tag, report.ref)
    if manifest is None:
        report.missing = await _why_missing(client, name, tag)
        return report
    report.digest = manifest.digest
    report.sizes, gone = await _sizes(client, name, manifest, report.ref, depth=0)
    if gone:
        report.missing = f"the index names platform(s) the registry lacks: {', '.join(gone)}"
    if config.check_signatures:
        report.signed = await _signed(client, name, manifest.digest, report.ref)
    return report


async def _why_missing(client: RegistryClient, name: str, tag: str) -> str:
    """A hint for the message; the tags list failing must not turn a FAIL into an ERROR."""
    try:
        tags = await client.tags(name, f"the tags of {name}")
    except ProbeError:
        return "tag not found"
    if tags is None:
        return "repository not found"
    similar = images.similar_tags(tag, tags)
    if similar:
        return f"tag not found; similar tags: {', '.join(similar)}"
    return f"tag not found among {len(tags)} tag(s)"


async def _sizes(
    client: RegistryClient, name: str, manifest: Manifest, what: str, *, depth: int
) -> tuple[dict[str, int], list[str]]:
    """Bytes per platform, and the platforms whose manifest the registry lacks."""
    if not manifest.is_index:
        config = images.config_digest(manifest.document)
        blob = await client.config_blob(name, config, f"the config of {what}") if config else None
        platform = images.platform_name(blob)
        return {platform: images.image_bytes(manifest.document, what)}, []
    if depth >= _MAX_INDEX_DEPTH:
        raise PermanentProbeError(f"{client.label}: {what}: indexes nested deeper than {_MAX_INDEX_DEPTH}")
    entries = images.children(manifest.document, f"{client.label}: {what}")
    fetched = await _all(
        client.manifest(name, digest, f"{what} ({platform})") for platform, digest in entries
    )
    sizes: dict[str, int] = {}
    gone: list[str] = []
    for (platform, digest), child in zip(entries, fetched, strict=True):
        if child is None:
            gone.append(platform)
            continue
        if child.is_index:
            nested, nested_gone = await _sizes(client, name, child, f"{what} ({platform})", depth=depth + 1)
            sizes.update(nested)
            gone += nested_gone
            continue
        # Two entries for one platform (Windows builds per os.version): keep both apart.
        key = platform if platform not in sizes else f"{platform}@{digest.partition(':')[2][:12]}"
        sizes[key] = images.image_bytes(child.document, f"{client.label}: {what} ({platform})")
    return sizes, gone


async def _signed(client: RegistryClient, name: str, digest: str, what: str) -> bool:
    """Cosign signs the digest the tag points at (for a multi-arch tag: the index)."""
    referrers = await client.referrers(name, digest, f"the referrers of {what}")
    if referrers is None:  # no referrers API: the OCI 1.1 tag schema
        index = await client.manifest(name, images.referrers_tag(digest), f"the referrers tag of {what}")
        entries = index.document.get("manifests") if index is not None and index.is_index else None
        referrers = [d for d in entries or [] if isinstance(d, dict)]
    if any(images.is_signature(d) for d in referrers):
        return True
    return await client.exists(name, images.cosign_signature_tag(digest), f"the signature tag of {what}")


async def _all(coroutines: Iterable[Coroutine[Any, Any, _T]]) -> list[_T]:
    """Run concurrently; the first failure cancels the rest and is raised as itself."""
    tasks: list[asyncio.Task[_T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks.extend(group.create_task(c) for c in coroutines)
    except BaseExceptionGroup as failed:
        errors = [e for e in failed.exceptions if isinstance(e, ProbeError)]
        raise (errors or failed.exceptions)[0] from None
    return [task.result() for task in tasks]


def _observation(
    config: RegistryConfig, tag: str, reports: list[ImageReport], label: str, context: ProbeContext
) -> Observation:
    present = [r for r in reports if r.digest is not None and r.missing is None]
    sizes_mb = {r.name: {p: images.megabytes(b) for p, b in r.sizes.items()} for r in reports if r.sizes}
    values: dict[str, Any] = {
        "REACHABLE": True,
        "AUTHORISED": True,
        "IMAGES": len(present),
        "MISSING": [r.ref for r in reports if r.missing is not None],
        "DIGESTS": {r.name: r.digest for r in reports if r.digest is not None},
        "SIZES_MB": sizes_mb,
    }
    parts = [f"{len(present)}/{len(reports)} image(s) at {tag} on {label}"]
    parts += [f"{r.ref} missing: {r.missing}" for r in reports if r.missing is not None]
    platforms = [(mb, name, p) for name, by in sizes_mb.items() for p, mb in by.items()]
    if platforms:
        largest, name, platform = max(platforms)
        values["LARGEST_MB"] = largest
        parts.append(f"largest {largest:g} MB ({name} {platform})")
    if config.max_size_mb is not None:
        budget = config.max_size_mb
        over = [f"{name}:{tag} {p} ({mb:g} MB)" for mb, name, p in sorted(platforms) if mb > budget]
        values["OVER_BUDGET"] = over
        if over:
            parts.append(f"over the {config.max_size_mb:g} MB budget: {', '.join(over)}")
    if config.check_signatures:
        values["UNSIGNED"] = [r.ref for r in reports if r.signed is False]
        if values["UNSIGNED"]:
            parts.append(f"unsigned: {', '.join(values['UNSIGNED'])}")
    if config.mirror is not None:
        values["MIRROR_MISSING"] = [r.ref for r in reports if r.in_mirror is False]
        if values["MIRROR_MISSING"]:
            mirror = public_url(config.mirror.url.rstrip("/"))
            parts.append(f"not in the mirror {mirror}: {', '.join(values['MIRROR_MISSING'])}")
    source = public_url(config.url.rstrip("/"))
    return Observation(
        values=values, evidence=Evidence(source, context.now(), source), message="; ".join(parts)
    )


REGISTRY = register(
    ProbeType(
        name="registry",
        summary="Release images in an OCI/Docker registry: present at the tag, size, signatures, mirror.",
        config_model=RegistryConfig,
        gather=_gather,
        values=(
            Value("REACHABLE", "the registry answered /v2/"),
            Value("AUTHORISED", "the registry let us in (anonymously or with the credentials)"),
            Value("IMAGES", "images present at the tag"),
            Value("MISSING", "image:tag of the images not present (or with a platform missing)"),
            Value("DIGESTS", "manifest digest per image", structured=True),
            Value("SIZES_MB", "compressed size per image and platform: layers + config", "MB", True),
            Value("LARGEST_MB", "the largest compressed size of any image and platform", "MB"),
            Value("OVER_BUDGET", "image:tag platform (size) above max_size_mb (with max_size_mb)"),
            Value("UNSIGNED", "image:tag without a cosign signature (with check_signatures)"),
            Value("MIRROR_MISSING", "image:tag whose digest the mirror lacks (with mirror)"),
        ),
        default_conditions=("len([MISSING]) == 0",),
        example={
            "type": "registry",
            "url": "https://registry.example.com",
            "auth": {"username": "golive", "password": {"env": "REGISTRY_PASSWORD"}},
            "images": ["valeo/api", "valeo/web"],
            "max_size_mb": 500,
            "check_signatures": True,
        },
    )
)
