"""Real HTTP and HTTPS servers on 127.0.0.1 for the http probe tests, and their certificates.

One threaded server per certificate situation (plain HTTP, a valid certificate from a
test CA, one expiring in 5 days, one expired), all with the same routes. TLS is set up
per connection in the request's own thread, so a client that aborts the handshake (as a
verifying client does with an untrusted certificate) never blocks the accept loop.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

BASIC_USER = "release"
BASIC_PASSWORD = "basic-pw-7c1e9a"
BEARER_TOKEN = "bearer-tok-4f2b8d"
API_KEY = "api-key-93ad51"
HUGE_BYTES = 9 * 1024 * 1024  # over the 8 MiB default cap of ProbeContext
JSON_DOCUMENT = {"status": "ok", "version": "1.1.0", "items": [1, 2, 3]}


@dataclass(frozen=True)
class Issuer:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def make_ca() -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "golive test CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issuer(certificate, key)


def issue_certificate(
    issuer: Issuer,
    directory: Path,
    name: str,
    not_before: datetime,
    not_after: datetime,
    *,
    client: bool = False,
) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 (IP SAN), or a client certificate named ``name``.

    Returns the PEM paths (certificate, key).
    """
    key = ec.generate_private_key(ec.SECP256R1())
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    common_name = name if client else "127.0.0.1"
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Handler(BaseHTTPRequestHandler):
    server: TestServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def _route(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        # The client giving up (timeouts, refused bodies) is expected in these tests.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self._dispatch(url.path.strip("/").split("/"), query)

    def _dispatch(self, parts: list[str], query: dict[str, str]) -> None:
        route = parts[0]
        if route == "json":
            self._send(200, JSON_DOCUMENT)
        elif route == "status":
            self._send(int(parts[1]), f"status {parts[1]}\n")
        elif route == "slow":
            self.server.stop.wait(float(query.get("delay", "0.3")))
            self._send(200, JSON_DOCUMENT)
        elif route == "hang":
            self.server.stop.wait(30)  # never answers while the tests run
        elif route == "redirect":
            remaining = int(parts[1])
            if remaining == 0:
                self._send(200, {"redirected": True})
            else:
                self._redirect(f"/redirect/{remaining - 1}")
        elif route == "loop":
            self._redirect("/loop")
        elif route == "redirect-to":
            self._redirect(query["url"])
        elif route == "login":  # a session cookie, and on to where it is needed
            self.send_response(302)
            self.send_header("Set-Cookie", "hop=hop-4d2c; Path=/")
            self.send_header("Location", "/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif route == "huge":
            self._huge(declared="declared" in query)
        elif route == "basic":
            expected = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
            self._guarded(f"Basic {expected}", "Authorization")
        elif route == "bearer":
            self._guarded(f"Bearer {BEARER_TOKEN}", "Authorization")
        elif route == "api-key":
            self._guarded(API_KEY, "X-Api-Key")
        elif route == "echo":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            headers = {name.lower(): value for name, value in self.headers.items()}
            self._send(200, {"method": self.command, "headers": headers, "body": body})
        elif route == "whoami":  # the client certificate's common name (mutual TLS)
            der = self.connection.getpeercert(binary_form=True)
            subject = x509.load_der_x509_certificate(der).subject
            self._send(200, {"client": subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value})
        elif route == "cookie":
            self._send(200, "ok\n", {"Set-Cookie": "session=sess-5e7a91; Path=/; HttpOnly"})
        else:
            self._send(404, "not found\n")

    def _send(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
        is_text = isinstance(body, str)
        content = body.encode() if is_text else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if is_text else "application/json")
        self.send_header("Content-Length", str(len(content)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _guarded(self, expected: str, header: str) -> None:
        if self.headers.get(header) == expected:
            self._send(200, {"authorised": True})
        else:
            self._send(401, {"authorised": False}, {"WWW-Authenticate": 'Basic realm="test"'})

    def _huge(self, *, declared: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if declared:
            self.send_header("Content-Length", str(HUGE_BYTES))
        self.end_headers()  # without a length, HTTP/1.0 ends the body by closing
        chunk = b"x" * 65536
        for _ in range(HUGE_BYTES // len(chunk) + 1):
            self.wfile.write(chunk)


class TestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None, stop: threading.Event) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.tls = tls
        self.stop = stop

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        wrapped = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            wrapped.do_handshake()
        except OSError:
            # Refused (by the client, or ours for want of a client certificate): that is what
            # some tests want. Close the way real servers do, after reading what the client
            # sent: closing with unread data would reset the connection before our alert.
            wrapped.settimeout(2)
            with contextlib.suppress(OSError):
                wrapped.shutdown(socket.SHUT_WR)
                while wrapped.recv(65536):
                    pass
            wrapped.close()
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()


def tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A server context; with ``client_ca`` it requires a client certificate from that CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
