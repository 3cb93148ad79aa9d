"""A throwaway Docker registry (Debian's ``docker-registry``, distribution 2.8) and a way
to put images into it without a container engine.

:class:`RegistryServer` runs ``docker-registry serve`` on a free loopback port with its
storage in a temporary directory; ``users`` turns on htpasswd (bcrypt) Basic auth, ``tls``
serves HTTPS with the given certificate. :class:`ImagePusher` uploads blobs and manifests
through the registry HTTP API (blob upload POST + PUT with the digest, then manifest PUT),
which is all ``docker push`` does::

    with RegistryServer() as registry:
        pusher = ImagePusher(registry.url)
        image = pusher.image("valeo/api", "1.1.0", layer_sizes=(1_200_000, 300_000))

Distribution 2.8 has no referrers API (``/v2/<name>/referrers/<digest>`` is a plain 404)
and ignores ``n`` on the tags list (no ``Link`` pagination): tests of those paths need a
server that has them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from uuid import uuid4

import httpx
import pytest
import yaml

from . import free_port, require_service

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
BINARY = "docker-registry"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))


class RegistryStartError(RuntimeError):
    pass


def unavailable_reason(*, users: bool = False) -> str | None:
    if shutil.which(BINARY) is None:
        return "no docker-registry binary; install the Debian package 'docker-registry'"
    if users and shutil.which("htpasswd") is None:
        return "no htpasswd to write a bcrypt password file; install the Debian package 'apache2-utils'"
    return None


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class RegistryServer:
    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.users = dict(users or {})
        self.tls = tls
        self.host = host
        self.port = 0
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def root(self) -> Path:
        if self._root is None:
            raise RuntimeError("call start() first")
        return self._root

    def start(self) -> Self:
        self._root = Path(tempfile.mkdtemp(prefix="golive-registry-"))
        if self.users:
            self._write_htpasswd(self.root / "htpasswd")
        for _ in range(3):  # another process may take the free port before the registry
            self.port = free_port(self.host)
            (self.root / "config.yml").write_text(yaml.safe_dump(self._config()))
            log = (self.root / "registry.log").open("wb")
            self._process = subprocess.Popen(
                [BINARY, "serve", str(self.root / "config.yml")], stdout=log, stderr=subprocess.STDOUT
            )
            log.close()
            if self._wait_ready():
                return self
            self._terminate()
        raise RegistryStartError(f"docker-registry did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        self._terminate()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.root / "registry.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _config(self) -> dict[str, Any]:
        http: dict[str, Any] = {"addr": f"{self.host}:{self.port}", "secret": uuid4().hex}
        if self.tls is not None:
            http["tls"] = {"certificate": str(self.tls[0]), "key": str(self.tls[1])}
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root / "data")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if self.users:
            config["auth"] = {"htpasswd": {"realm": "golive-test", "path": str(self.root / "htpasswd")}}
        return config

    def _write_htpasswd(self, path: Path) -> None:
        # distribution accepts bcrypt entries only.
        lines = []
        for user, password in self.users.items():
            made = subprocess.run(
                ["htpasswd", "-nbB", "-C", "4", user, password],
                capture_output=True,
                text=True,
                check=True,
            )
            lines.append(made.stdout.strip())
        path.write_text("\n".join(lines) + "\n")

    def _wait_ready(self, seconds: float = 10.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False  # exited: most likely the port was taken
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/v2/", verify=False, timeout=1).status_code in (200, 401):
                    return True
            time.sleep(0.02)
        return False

    def _terminate(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


@dataclass(frozen=True)
class Pushed:
    """What a manifest PUT stored: its descriptor, and the image bytes by platform."""

    media_type: str
    digest: str
    size: int
    #: Σ layers + config per platform, for image manifests and indexes.
    platform_bytes: Mapping[str, int]

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


class ImagePusher:
    """Blobs and manifests into a registry, through its HTTP API (sync; for fixtures)."""

    def __init__(self, url: str, auth: tuple[str, str] | None = None, verify: Any = True) -> None:
        self.client = httpx.Client(base_url=url, auth=auth, verify=verify, timeout=10)

    def close(self) -> None:
        self.client.close()

    def blob(self, name: str, data: bytes, media_type: str) -> dict[str, Any]:
        digest = digest_of(data)
        started = self.client.post(f"/v2/{name}/blobs/uploads/")
        assert started.status_code == 202, started.text
        # The Location carries the upload's state in its query: add the digest to it.
        location = httpx.URL(started.headers["location"]).copy_merge_params({"digest": digest})
        done = self.client.put(location, content=data, headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def manifest(
        self,
        name: str,
        reference: str,
        document: dict[str, Any],
        platform_bytes: Mapping[str, int] | None = None,
    ) -> Pushed:
        # Indented: the digest is of these bytes, and a client must not re-serialise them.
        body = json.dumps(document, indent=2).encode()
        digest = self.put_raw(name, reference, body, document["mediaType"])
        return Pushed(document["mediaType"], digest, len(body), dict(platform_bytes or {}))

    def put_raw(self, name: str, reference: str, body: bytes, media_type: str) -> str:
        stored = self.client.put(
            f"/v2/{name}/manifests/{reference}", content=body, headers={"Content-Type": media_type}
        )
        assert stored.status_code == 201, stored.text
        return digest_of(body)

    def copy_from(self, source: ImagePusher, name: str, reference: str) -> str:
        """What ``skopeo copy --all`` does: blobs, child manifests, then the manifest's raw
        bytes, so every digest stays the same. Returns the manifest's digest."""
        got = source.client.get(f"/v2/{name}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT})
        assert got.status_code == 200, got.text
        document = got.json()
        for child in document.get("manifests", []):
            self.copy_from(source, name, child["digest"])
        for blob in [document.get("config"), *document.get("layers", [])]:
            if blob is not None:
                data = source.client.get(f"/v2/{name}/blobs/{blob['digest']}").content
                self.blob(name, data, blob["mediaType"])
        return self.put_raw(name, reference, got.content, got.headers["content-type"])

    def image(
        self,
        name: str,
        tag: str,
        layer_sizes: Sequence[int],
        *,
        platform: tuple[str, str] = ("linux", "amd64"),
        docker: bool = False,
    ) -> Pushed:
        """A single-platform image with layers of the given sizes (random bytes)."""
        config_type, layer_type = (DOCKER_CONFIG, DOCKER_LAYER) if docker else (OCI_CONFIG, OCI_LAYER)
        os_name, architecture = platform
        config = {"architecture": architecture, "os": os_name, "rootfs": {"type": "layers", "diff_ids": []}}
        config_blob = self.blob(name, json.dumps(config).encode(), config_type)
        layers = [self.blob(name, _random_bytes(size), layer_type) for size in layer_sizes]
        document = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": config_blob,
            "layers": layers,
        }
        total = sum(layer_sizes) + config_blob["size"]
        return self.manifest(name, tag, document, {f"{os_name}/{architecture}": total})

    def index(
        self,
        name: str,
        tag: str,
        children: Sequence[Pushed],
        *,
        attestation: bool = True,
        docker: bool = False,
    ) -> Pushed:
        """A multi-platform index over pushed images, plus a BuildKit attestation entry."""
        entries = []
        for child in children:
            (platform,) = child.platform_bytes
            os_name, architecture = platform.split("/")
            entries.append(child.descriptor(platform={"architecture": architecture, "os": os_name}))
        if attestation:
            entries += [self._attestation(name, child) for child in children[:1]]
        document = {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST if docker else OCI_INDEX,
            "manifests": entries,
        }
        totals = {p: b for child in children for p, b in child.platform_bytes.items()}
        return self.manifest(name, tag, document, totals)

    def artifact(
        self,
        name: str,
        reference: str,
        artifact_type: str,
        *,
        subject: Pushed | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Pushed:
        """An OCI 1.1 artifact manifest (empty config, one layer), e.g. a signature bundle."""
        empty = self.blob(name, b"{}", OCI_EMPTY)
        payload = self.blob(name, json.dumps({"artifact": artifact_type}).encode(), artifact_type)
        document: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": empty,
            "layers": [payload],
        }
        if subject is not None:
            document["subject"] = subject.descriptor()
        if annotations:
            document["annotations"] = dict(annotations)
        return self.manifest(name, reference, document)

    def referrers_tag_index(
        self, name: str, subject: Pushed, referrers: Sequence[tuple[Pushed, str, Mapping[str, str]]]
    ) -> Pushed:
        """What a client writes when the registry has no referrers API: an index at the
        tag ``sha256-<hex>`` listing the referrers (descriptor, artifactType, annotations)."""
        entries = [
            pushed.descriptor(artifactType=artifact_type, annotations=dict(annotations))
            for pushed, artifact_type, annotations in referrers
        ]
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return self.manifest(name, subject.digest.replace(":", "-"), document)

    def cosign_signature_tag(self, name: str, subject: Pushed) -> Pushed:
        """A cosign v1/v2 signature: an image manifest at the tag ``sha256-<hex>.sig``."""
        config = self.blob(name, b'{"architecture":"","os":"","rootfs":{"type":"layers"}}', OCI_CONFIG)
        payload = self.blob(
            name,
            json.dumps({"critical": {"image": {"docker-manifest-digest": subject.digest}}}).encode(),
            "application/vnd.dev.cosign.simplesigning.v1+json",
        )
        payload["annotations"] = {"dev.cosignproject.cosign/signature": "MEUCIQ-test-signature"}
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [payload]}
        return self.manifest(name, f"{subject.digest.replace(':', '-')}.sig", document)

    def _attestation(self, name: str, child: Pushed) -> dict[str, Any]:
        """BuildKit's provenance entry: platform unknown/unknown, attestation annotation."""
        empty = self.blob(name, b"{}", OCI_CONFIG)
        statement = self.blob(
            name, b'{"_type":"https://in-toto.io/Statement/v0.1"}', "application/vnd.in-toto+json"
        )
        document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": empty, "layers": [statement]}
        pushed = self.manifest(name, f"attestation-{child.digest[7:19]}", document)
        return pushed.descriptor(
            platform={"architecture": "unknown", "os": "unknown"},
            annotations={
                "vnd.docker.reference.type": "attestation-manifest",
                "vnd.docker.reference.digest": child.digest,
            },
        )


def _random_bytes(size: int) -> bytes:
    # Distinct per call, so no two layers share a blob; cheap enough for a few MB.
    seed = uuid4().bytes
    block = hashlib.sha256(seed).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture(scope="session")
def registry_server() -> Iterator[RegistryServer]:
    """An open (anonymous) registry for the whole session."""
    reason = unavailable_reason()
    if reason is not None:
        require_service("docker-registry", reason)
    with RegistryServer() as server:
        yield server


REGISTRY_USER = "golive-ci"
REGISTRY_PASSWORD = "reg-pw-5b19e3c7"


@pytest.fixture(scope="session")
def auth_registry_server() -> Iterator[RegistryServer]:
    """A registry with htpasswd Basic auth: REGISTRY_USER / REGISTRY_PASSWORD."""
    reason = unavailable_reason(users=True)
    if reason is not None:
        require_service("docker-registry", reason)
    with RegistryServer(users={REGISTRY_USER: REGISTRY_PASSWORD}) as server:
        yield server
