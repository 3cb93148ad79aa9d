"""``redis``: one Redis node — PING, a write/read round trip, its replication state.

Gather, with redis-py's asyncio client on one connection (AUTH happens on connect):

- PING twice: the first opens and authenticates the connection, the second is timed as
  LATENCY_MS, so the figure is a command round trip, not a TCP and AUTH handshake;
- ``INFO replication`` (reference/probe-protocols.md section 10), parsed by redis-py;
  keys we do not know are skipped, since the fields vary by version;
- unless ``write_check: false``: SET a random key under ``key_prefix`` with a short
  expiry (so a failed DEL leaves nothing behind for long), GET it back, DEL it.

What the node says about itself is an observation, judged by conditions: a write the
server refuses for its own state (OOM at maxmemory, MISCONF when it cannot persist) makes
ROUND_TRIP false with the server's reason. ``expect_role`` and ``min_replicas`` are the
probe's own judgement (FAIL, with what was seen). The probe errs (ERROR) only when it
cannot decide:

- cannot connect, timeout, the node still loading its dataset: temporary;
- NOAUTH, WRONGPASS, a password the server has no use for, an ACL that forbids a
  command (NOPERM): not authorised, permanent. A password whose environment variable is
  unset is no password: a server without auth answers, one with auth refuses, and the
  error names the variable to set;
- write_check against a read-only replica, a Sentinel or cluster redirect, TLS
  verification: misconfigured, permanent.

Default conditions: ``[PONG] == true``, ``[ROUND_TRIP] != false`` and
``[MASTER_LINK] != down``. The last two are written as "not the bad value" on purpose:
ROUND_TRIP is not observed where write_check is off, MASTER_LINK not on a master, and a
missing value passes ``!=``, so one default list serves masters and replicas alike.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..clients.http import connect_failure_reason, resolve_path, tls_failure
from ..errors import PermanentProbeError, ProbeError, TemporaryProbeError
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register
from ..secrets import SecretRef
from ..status import Status

if TYPE_CHECKING:
    from redis import exceptions as redis_errors
    from redis.asyncio import Redis

_SCHEMES = {"redis": False, "rediss": True}  # scheme -> TLS
_REPLICA_LINE = re.compile(r"^slave(\d+)$")
#: The write-check key expires on its own after this, whatever happens to the DEL.
WRITE_CHECK_TTL_MS = 30_000


class RedisTls(BaseModel):
    """TLS towards the node; ``tls: true`` means all defaults (verify with the system CAs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: CA bundle (PEM) instead of the system roots; relative to the checklist's folder.
    ca_file: str | None = None
    verify: bool = True
    #: A client certificate: Redis asks for one by default (``tls-auth-clients yes``).
    cert_file: str | None = None
    key_file: str | None = None


class RedisConfig(ProbeConfig):
    type: Literal["redis"] = "redis"

    @classmethod
    def load_client(cls) -> None:
        import redis.asyncio  # noqa: F401

    #: ``redis://host:port/db`` or ``rediss://…`` for TLS; or host/port/db instead.
    url: str | None = None
    host: str | None = None
    port: int = Field(default=6379, ge=1, le=65535)
    db: int = Field(default=0, ge=0)
    tls: RedisTls | None = None
    #: An ACL user (Redis 6+); without one AUTH uses the default user.
    username: str | None = None
    password: SecretRef | None = None
    write_check: bool = True
    key_prefix: str = Field(default="golive:probe:", min_length=1)
    expect_role: Literal["master", "slave", "replica", "any"] = "any"
    #: Online replicas this node must have (a master's; on a replica, chained ones).
    min_replicas: int = Field(default=0, ge=0)

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_flag(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {} if value else None
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in _SCHEMES or not parts.hostname:
            raise ValueError("write redis://host:port/db, or rediss://… for TLS")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "credentials in the URL are not allowed; use username and password: {env: VARIABLE}"
            )
        if parts.query or parts.fragment:
            raise ValueError("the URL takes no ?query or #fragment; use the probe's own fields")
        if not re.fullmatch(r"/?(\d+)?", parts.path):
            raise ValueError(f"the path must be a database number like /0, not {parts.path!r}")
        try:
            parts.port  # noqa: B018  (raises on an out-of-range port)
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_target(self) -> RedisConfig:
        if (self.url is None) == (self.host is None):
            raise ValueError("give either 'url' or 'host' (with port and db)")
        if self.url is not None:
            both = sorted({"port", "db"} & self.model_fields_set)
            if both:
                raise ValueError(f"{' and '.join(both)} belong in the url when 'url' is given")
            if self.tls is not None and not self.url.startswith("rediss:"):
                raise ValueError("TLS options need a rediss:// url")
        return self


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    db: int
    tls: bool

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://{self.address}/{self.db}"


def target_of(config: RedisConfig) -> Target:
    if config.url is None:
        assert config.host is not None
        return Target(config.host, config.port, config.db, config.tls is not None)
    parts = urlsplit(config.url)
    assert parts.hostname is not None
    db = int(parts.path.strip("/") or 0)
    return Target(parts.hostname, parts.port or 6379, db, _SCHEMES[parts.scheme])


async def _gather(config: RedisConfig, context: ProbeContext) -> Observation:
    # redis-py is imported by the first Redis probe, not when the checklist loads.
    from redis import exceptions as redis_errors
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    target = target_of(config)
    # An unset password variable: no password, as servers without auth want.
    password = config.password.resolve_optional() if config.password is not None else None
    # Our own socket timeouts fire a little before the runner's cut, so the message can
    # say which step hung.
    budget = max(context.timeout * 0.9, 0.05)
    client = Redis(
        host=target.host,
        port=target.port,
        db=target.db,
        username=config.username,
        password=password,
        socket_timeout=budget,
        socket_connect_timeout=budget,
        retry=Retry(NoBackoff(), 0),  # one attempt: retrying is the scheduler's business
        protocol=2,
        decode_responses=True,
        single_connection_client=True,
        **_tls_options(config, target, context.base_dir),
    )
    step = "PING"
    try:
        pong = bool(await client.ping())
        started = time.perf_counter()
        await client.ping()
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        step = "INFO replication"
        info: dict[str, Any] = await client.info("replication")
        if "role" not in info:
            raise PermanentProbeError(
                f"{target.address} reports no replication role (a Sentinel?); probe the data nodes"
            )
        write_problem: str | None = None
        if config.write_check:
            step = "the write check (SET/GET/DEL)"
            write_problem = await _write_check(client, config.key_prefix)
    except redis_errors.RedisError as exc:
        raise probe_error(exc, step, target, config, budget, sent_password=password is not None) from None
    finally:
        await client.aclose()
    values = observe(info, pong=pong, latency_ms=latency_ms)
    if config.write_check:
        values["ROUND_TRIP"] = write_problem is None
    status, message = judge(config, values, write_problem)
    return Observation(
        values=values,
        evidence=Evidence(target.url, context.now()),
        status=status,
        message=message,
    )


def _tls_options(config: RedisConfig, target: Target, base_dir: Path) -> dict[str, Any]:
    if not target.tls:
        return {}
    tls = config.tls or RedisTls()
    options: dict[str, Any] = {"ssl": True}
    if not tls.verify:
        options.update(ssl_cert_reqs="none", ssl_check_hostname=False)
    files = {"ca_file": "ssl_ca_certs", "cert_file": "ssl_certfile", "key_file": "ssl_keyfile"}
    for field, option in files.items():
        location: str | None = getattr(tls, field)
        if location:
            path = resolve_path(location, base_dir)
            if not path.is_file():
                raise PermanentProbeError(f"tls.{field} not found: {path}")
            options[option] = str(path)
    return options


async def _write_check(client: Redis, prefix: str) -> str | None:
    """SET, GET, DEL one random key; None when it came back intact, else why not.

    Refusals that say the node cannot take writes right now (OOM, MISCONF …) are the
    answer to the check; READONLY, NOPERM and cluster redirects say the probe is pointed
    wrong and propagate as errors.
    """
    from redis import exceptions as redis_errors

    key = f"{prefix}{uuid4().hex}"
    value = uuid4().hex
    try:
        await client.set(key, value, px=WRITE_CHECK_TTL_MS)
        read = await client.get(key)
    except (redis_errors.ReadOnlyError, redis_errors.NoPermissionError, redis_errors.AskError):
        raise
    except redis_errors.ResponseError as exc:
        return f"the write check failed: {_server_text(exc)}"
    with contextlib.suppress(redis_errors.ResponseError):  # an ACL without DEL: it expires
        await client.delete(key)
    if read is None:
        return "the key written was gone when read back (evicted at once? check maxmemory-policy)"
    if read != value:
        return "the key read back holds another value than the one written"
    return None


def observe(info: dict[str, Any], *, pong: bool, latency_ms: float) -> dict[str, Any]:
    """Observed values from PING and the parsed ``INFO replication`` (pure)."""
    role = str(info.get("role", ""))
    replicas = parse_replicas(info)
    online = [r for r in replicas if r["state"] == "online"]
    values: dict[str, Any] = {
        "PONG": pong,
        "LATENCY_MS": latency_ms,
        "ROLE": role,
        "CONNECTED_REPLICAS": _int(info.get("connected_slaves", len(replicas))),
        "ONLINE_REPLICAS": len(online),
        "REPLICAS": replicas,
    }
    # A replica that is not online yet (waiting for or loading the snapshot) has no
    # meaningful offset; it shows in CONNECTED vs ONLINE instead of as a huge lag.
    lag_bytes = [r["lag_bytes"] for r in online if r["lag_bytes"] is not None]
    if lag_bytes:
        values["MAX_REPLICA_LAG_BYTES"] = max(lag_bytes)
    lag_seconds = [r["lag"] for r in online if r["lag"] is not None]
    if lag_seconds:
        values["MAX_REPLICA_LAG_S"] = max(lag_seconds)
    if role == "slave":
        values["MASTER"] = f"{info.get('master_host', '?')}:{info.get('master_port', '?')}"
        values["MASTER_LINK"] = str(info.get("master_link_status", "unknown"))
        values["MASTER_SYNC_IN_PROGRESS"] = _int(info.get("master_sync_in_progress")) == 1
        # Both are -1 when unknown: no I/O while the link is down, and "down since"
        # for a replica that never reached its master since it started.
        last_io = _int(info.get("master_last_io_seconds_ago"))
        if last_io is not None and last_io >= 0:
            values["MASTER_LAST_IO_S"] = last_io
        down_since = _int(info.get("master_link_down_since_seconds"))
        if down_since is not None and down_since >= 0:
            values["MASTER_LINK_DOWN_S"] = down_since
    return values


def parse_replicas(info: dict[str, Any]) -> list[dict[str, Any]]:
    """``slave<i>:ip=…,port=…,state=…,offset=…,lag=…`` lines, in index order."""
    master_offset = _int(info.get("master_repl_offset"))
    found: list[tuple[int, dict[str, Any]]] = []
    for key, fields in info.items():
        match = _REPLICA_LINE.match(key)
        if match is None or not isinstance(fields, dict):
            continue  # very old servers wrote a comma list; nothing we can read reliably
        offset = _int(fields.get("offset"))
        lag_bytes = None
        if offset is not None and master_offset is not None:
            lag_bytes = max(master_offset - offset, 0)
        entry = {
            "ip": str(fields.get("ip", "")),
            "port": _int(fields.get("port")),
            "state": str(fields.get("state", "")),
            "offset": offset,
            "lag": _int(fields.get("lag")),
            "lag_bytes": lag_bytes,
        }
        found.append((int(match.group(1)), entry))
    return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]


def judge(
    config: RedisConfig, values: dict[str, Any], write_problem: str | None
) -> tuple[Status | None, str]:
    """The probe's own verdict on expect_role and min_replicas, and the summary line."""
    problems = []
    role = values["ROLE"]
    wanted = "slave" if config.expect_role == "replica" else config.expect_role
    if wanted not in ("any", role):
        problems.append(f"role is {role or 'unknown'}, expected {wanted}")
    if values["ONLINE_REPLICAS"] < config.min_replicas:
        problems.append(
            f"{values['ONLINE_REPLICAS']} replica(s) online of {values['CONNECTED_REPLICAS']} connected, "
            f"at least {config.min_replicas} required"
        )
    summary = [f"PONG in {values['LATENCY_MS']:g} ms"]
    if role == "slave":
        link = f"link {values['MASTER_LINK']}"
        if "MASTER_LINK_DOWN_S" in values:
            link += f" for {values['MASTER_LINK_DOWN_S']} s"
        elif values["MASTER_LINK"] != "up":
            link += " (never up since the replica started)"
        summary.append(f"replica of {values['MASTER']}, {link}")
    else:
        online, connected = values["ONLINE_REPLICAS"], values["CONNECTED_REPLICAS"]
        summary.append(f"{role}, {online}/{connected} replica(s) online")
    if write_problem:
        summary.append(write_problem)
    elif config.write_check:
        summary.append("write/read round trip ok")
    message = "; ".join(problems + summary)
    return (Status.FAIL if problems else None), message


def probe_error(
    exc: redis_errors.RedisError,
    step: str,
    target: Target,
    config: RedisConfig,
    budget: float,
    *,
    sent_password: bool = True,
) -> ProbeError:
    """Sort a redis-py error into temporary (retry may help) and permanent."""
    from redis import exceptions as redis_errors

    where = target.address
    text = _server_text(exc)
    # AuthenticationError and BusyLoadingError are ConnectionErrors: test them first.
    if isinstance(exc, redis_errors.AuthenticationError):
        if config.password is None:
            return PermanentProbeError(
                f"not authorised: {where} requires a password (NOAUTH); set password: {{env: …}}"
            )
        if not sent_password:
            return PermanentProbeError(
                f"not authorised: {where} requires a password (NOAUTH); {config.password.unset_hint()}"
            )
        if "without any password configured" in text or "no password is set" in text:
            return PermanentProbeError(
                f"{where} has no password for this user, but the checklist gives one: "
                "the server is open to anyone, or the checklist points at the wrong node"
            )
        who = f"user {config.username!r}" if config.username else "the default user"
        return PermanentProbeError(f"not authorised: {where} rejected the password for {who} ({text})")
    if isinstance(exc, redis_errors.NoPermissionError):
        who = config.username or "default"
        hint = "; grant it, or set write_check: false" if "write check" in step else ""
        return PermanentProbeError(
            f"not authorised: ACL user {who!r} may not run {step} on {where} ({text}){hint}"
        )
    if isinstance(exc, redis_errors.ReadOnlyError):
        return PermanentProbeError(
            f"{where} is a read-only replica and write_check writes a key: "
            "set write_check: false for replicas (and expect_role: slave)"
        )
    if isinstance(exc, redis_errors.BusyLoadingError):
        return TemporaryProbeError(f"{where} is loading its dataset into memory; try again shortly")
    if isinstance(exc, redis_errors.TimeoutError):
        return TemporaryProbeError(f"{where}: timed out after {budget:.3g}s during {step}")
    if isinstance(exc, redis_errors.ConnectionError):
        return _connection_error(exc, where)
    if isinstance(exc, redis_errors.AskError):  # MOVED/ASK: a cluster node
        return PermanentProbeError(
            f"{where} is a Redis Cluster node and redirected {step} ({text}); probe one node"
        )
    return PermanentProbeError(f"{where}: {step} failed: {text}")


def _connection_error(exc: redis_errors.ConnectionError, where: str) -> ProbeError:
    tls = tls_failure(exc, where, "tls.ca_file")
    if tls is not None:
        return tls
    # No OS error behind it: e.g. "max number of clients reached", a closed connection.
    reason = connect_failure_reason(exc) or _server_text(exc)
    return TemporaryProbeError(f"cannot connect to {where}: {reason}")


def _server_text(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        return None


REDIS = register(
    ProbeType(
        name="redis",
        summary="One Redis node: PING, a write/read round trip, role and replication state.",
        config_model=RedisConfig,
        gather=_gather,
        values=(
            Value("PONG", "the node answered PING"),
            Value("LATENCY_MS", "one PING round trip on an open connection", "ms"),
            Value("ROUND_TRIP", "a key written came back intact (only with write_check)"),
            Value("ROLE", "master or slave, as INFO replication says"),
            Value("CONNECTED_REPLICAS", "replicas connected to this node"),
            Value("ONLINE_REPLICAS", "replicas in state online (past the initial sync)"),
            Value(
                "REPLICAS",
                "replicas: ip, port, state, offset, lag (s since last ACK), lag_bytes",
                structured=True,
            ),
            Value(
                "MAX_REPLICA_LAG_BYTES", "largest master_repl_offset − offset of an online replica", "bytes"
            ),
            Value("MAX_REPLICA_LAG_S", "largest seconds since an online replica's last ACK", "s"),
            Value("MASTER", "host:port of the master (on a replica)"),
            Value("MASTER_LINK", "up or down: the replica's link to its master (on a replica)"),
            Value("MASTER_LAST_IO_S", "seconds since the replica last heard from its master", "s"),
            Value("MASTER_LINK_DOWN_S", "seconds the replica's link has been down", "s"),
            Value("MASTER_SYNC_IN_PROGRESS", "the replica is loading a full sync from its master"),
        ),
        default_conditions=("[PONG] == true", "[ROUND_TRIP] != false", "[MASTER_LINK] != down"),
        example={
            "type": "redis",
            "url": "rediss://redis.erp.example.com:6379/0",
            "password": {"env": "REDIS_PASSWORD"},
            "expect_role": "master",
            "min_replicas": 1,
        },
    )
)
