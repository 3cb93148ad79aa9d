"""``postgres_replication``: streaming replication as the primary or a replica sees it.

Reference: reference/probe-protocols.md section 9. One connection (psycopg 3, async,
autocommit, read-only queries), first ``pg_is_in_recovery()``:

- ``role: primary`` — it must be false. ``pg_stat_replication`` has one row per WAL
  sender. A *streaming replica* is a physical sender (its session has no database; a
  logical subscriber's has) in state ``streaming`` that reports a replay position: WAL
  archivers such as pg_receivewal and pg_basebackup's WAL stream stream too, but never
  replay, so they are listed and not counted. Replay lag in bytes is
  ``pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)``. PostgreSQL sets ``replay_lag``
  to NULL once a replica is idle and fully caught up: NULL with 0 bytes behind is
  reported as 0 s (caught up); NULL with bytes behind is unknown (no report yet) and
  left out of MAX_REPLAY_LAG_S rather than guessed.
- ``role: replica`` — it must be true. ``pg_stat_wal_receiver`` has 0 rows when no WAL
  receiver runs: RECEIVER_STATUS is then ``none``. REPLAY_LAG_BYTES is what was
  received but not yet replayed. LAST_REPLAY_AGE_S is ``now() -
  pg_last_xact_replay_timestamp()``: NULL until the first transaction is replayed, so
  absent then, never 0; and it grows while the primary is idle, so it is an upper
  bound on the lag, not the lag.

A server in the other role than the item says is a FAIL naming the role it has (after a
failover that is the news), not an ERROR. The probe errs when it cannot decide:
unreachable, timeout, starting up (temporary); authentication, unknown database, TLS, a
user without ``pg_monitor`` who sees only NULLs (permanent). Passwords come from
SecretRefs; a DSN is one too, since DSNs carry passwords. libpq never echoes the
password, and every secret is registered with the redactor as well. A password whose
environment variable is unset means no password: servers that trust the client (trust,
peer, cert) need none, and a refusal says which variable to set.

The default condition ``[STREAMING] == true`` is the role's own: on a primary at least
one replica is streaming from it (``[STREAMING_REPLICAS] >= 1``), on a replica its WAL
receiver is streaming (``[RECEIVER_STATUS] == streaming``). Default conditions are fixed
per probe type, so one role-neutral value stands for both.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from ..clients.http import resolve_path
from ..durations import Duration
from ..errors import PermanentProbeError, ProbeError, TemporaryProbeError

if TYPE_CHECKING:
    import psycopg
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register
from ..secrets import REDACTOR, SecretRef
from ..status import Status

_PRIMARY_QUERY = """
SELECT r.application_name, host(r.client_addr) AS client_addr, r.state, r.sync_state,
       a.datname IS NOT NULL AS logical, r.replay_lsn IS NOT NULL AS replays,
       pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn) AS replay_lag_bytes,
       EXTRACT(epoch FROM r.replay_lag) AS replay_lag_s
FROM pg_stat_replication r LEFT JOIN pg_stat_activity a ON a.pid = r.pid
ORDER BY r.application_name, r.client_addr, r.client_port
"""
_RECEIVER_QUERY = "SELECT pid, status, sender_host, sender_port, slot_name FROM pg_stat_wal_receiver"
_REPLAY_QUERY = """
SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) AS replay_lag_bytes,
       EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()) AS last_replay_age_s,
       pg_is_wal_replay_paused() AS replay_paused
"""
#: libpq texts of failures no retry will fix (its connection errors carry no SQLSTATE).
_NOT_AUTHORISED = ("authentication failed", "no password supplied", "pg_hba.conf", "role \"")
_MISCONFIGURED = ("does not exist", "certificate", "does not support SSL", "Hot standby mode is disabled")
_SSLMODES = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]


class PostgresReplicationConfig(ProbeConfig):
    type: Literal["postgres_replication"] = "postgres_replication"

    @classmethod
    def load_client(cls) -> None:
        import psycopg  # noqa: F401

    role: Literal["primary", "replica"]
    host: str | None = None
    port: int = Field(default=5432, ge=1, le=65535)
    dbname: str = "postgres"
    user: str | None = None
    password: SecretRef | None = None
    #: A whole libpq DSN (``host=… user=… password=…`` or ``postgresql://…``) instead.
    dsn: SecretRef | None = None
    sslmode: _SSLMODES | None = None
    #: CA bundle (PEM) for sslmode verify-ca/verify-full; relative to the checklist's folder.
    sslrootcert: str | None = None
    #: Default: the item's timeout.
    connect_timeout: Duration | None = None

    @model_validator(mode="after")
    def _one_target(self) -> PostgresReplicationConfig:
        pieces = {"host", "port", "dbname", "user", "password", "sslmode", "sslrootcert"}
        if self.dsn is not None:
            given = sorted(pieces & self.model_fields_set)
            if given:
                raise ValueError(f"give either 'dsn' or {', '.join(given)}, not both")
        elif self.host is None or self.user is None:
            raise ValueError("give 'host' and 'user' (with password: {env: …}), or 'dsn: {env: …}'")
        return self


async def _gather(config: PostgresReplicationConfig, context: ProbeContext) -> Observation:
    # psycopg is imported by the first replication probe, not when the checklist loads.
    import psycopg
    from psycopg.rows import dict_row

    conninfo, where, source, sent = _connection(config, context)
    try:
        connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True, row_factory=dict_row)
    except psycopg.Error as exc:
        raise connect_error(exc, where, _password_hint(config.password, sent)) from None
    try:
        async with connection:
            in_recovery = bool((await _rows(connection, "SELECT pg_is_in_recovery() AS r"))[0]["r"])
            if in_recovery != (config.role == "replica"):
                values, status, message = wrong_role(config.role, in_recovery, where)
            elif config.role == "primary":
                rows = await _rows(connection, _PRIMARY_QUERY)
                _require_visible(rows, "state", "pg_stat_replication", config, where)
                values = primary_values(rows)
                status, message = None, primary_message(values, where)
            else:
                receiver = await _rows(connection, _RECEIVER_QUERY)
                _require_visible(receiver, "status", "pg_stat_wal_receiver", config, where)
                replay = (await _rows(connection, _REPLAY_QUERY))[0]
                values = replica_values(receiver[0] if receiver else None, replay)
                status, message = None, replica_message(values, where)
    except psycopg.OperationalError as exc:  # the connection broke, the server shut down
        raise TemporaryProbeError(f"{where}: {_text(exc)}") from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise PermanentProbeError(
            f"not authorised: {where}: {_text(exc)}; GRANT pg_monitor to the probe's user"
        ) from None
    except psycopg.Error as exc:
        raise PermanentProbeError(f"{where}: query failed: {_text(exc)}") from None
    evidence = Evidence(source, context.now())
    return Observation(values=values, evidence=evidence, status=status, message=message)


def _password_hint(password: SecretRef | None, sent: bool) -> str | None:
    """What to do about a refused password: set the unset one, or check the one sent."""
    if password is None:
        return None
    if not sent:
        return password.unset_hint()
    return password.refused_hint("password")


def _connection(config: PostgresReplicationConfig, context: ProbeContext) -> tuple[str, str, str, bool]:
    """The conninfo to connect with, ``host:port`` for messages, the evidence source, and
    whether a password from ``password`` is sent."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    # libpq counts connect_timeout in whole seconds, at least 2. Our default leaves the
    # runner's cut for last, so a hang says it was the connect.
    seconds = config.connect_timeout.total_seconds() if config.connect_timeout else context.timeout * 0.9
    extra: dict[str, str | int | None] = {
        "connect_timeout": max(2, math.ceil(seconds)),
        "application_name": "golive",
    }
    params: dict[str, Any]
    sent = False
    if config.dsn is not None:
        dsn = config.dsn.resolve()
        try:
            params = conninfo_to_dict(dsn)
        except psycopg.ProgrammingError:
            # The parser's message quotes the DSN, password and all: not ours to repeat.
            raise PermanentProbeError(
                f"the DSN from {config.dsn.describe()} is not a valid connection string"
            ) from None
        if params.get("password"):
            REDACTOR.register(str(params["password"]))
        # What the DSN says itself wins over our defaults.
        conninfo = make_conninfo(dsn, **{k: v for k, v in extra.items() if k not in params})
    else:
        params = {"host": config.host, "port": config.port, "dbname": config.dbname, "user": config.user}
        if config.sslmode:
            params["sslmode"] = config.sslmode
        if config.sslrootcert:
            params["sslrootcert"] = str(resolve_path(config.sslrootcert, context.base_dir))
        password = config.password.resolve_optional() if config.password is not None else None
        if password is not None:
            params["password"] = password
            sent = True
        conninfo = make_conninfo("", **params, **extra)
    host, port = params.get("host") or "localhost", params.get("port") or 5432
    where = f"{host}:{port}"
    source = f"postgresql://{where}/{params.get('dbname') or params.get('user') or ''}"
    return conninfo, where, source, sent


async def _rows(connection: psycopg.AsyncConnection[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    cursor = await connection.execute(query)
    return await cursor.fetchall()


def _require_visible(
    rows: list[dict[str, Any]], column: str, view: str, config: PostgresReplicationConfig, where: str
) -> None:
    """Without pg_read_all_stats (pg_monitor) the rows are there but the details are NULL;
    counting them would report a healthy cluster as broken."""
    if any(row[column] is None for row in rows):
        user = config.user or "the probe's user"
        raise PermanentProbeError(
            f"not authorised: {user} sees {view} on {where} without details (NULLs); "
            f"GRANT pg_monitor TO {user}"
        )


def wrong_role(role: str, in_recovery: bool, where: str) -> tuple[dict[str, Any], Status, str]:
    actual = "replica" if in_recovery else "primary"
    values = {"IN_RECOVERY": in_recovery, "ROLE": actual}
    if role == "primary":
        hint = "point the item at the primary, or set role: replica"
    else:
        hint = "a failover may have promoted it; point the item at a replica, or set role: primary"
    message = (
        f"{where} is a {actual} (pg_is_in_recovery() = {str(in_recovery).lower()}), "
        f"but the item expects a {role}; {hint}"
    )
    return values, Status.FAIL, message


def primary_values(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Observed values from ``pg_stat_replication`` rows (pure)."""
    replicas = [_sender(row) for row in rows]
    counted = [r for r in replicas if r["kind"] == "physical" and r["state"] == "streaming" and r["replays"]]
    values: dict[str, Any] = {
        "IN_RECOVERY": False,
        "ROLE": "primary",
        "STREAMING_REPLICAS": len(counted),
        "SYNC_REPLICAS": sum(1 for r in counted if r["sync_state"] in ("sync", "quorum")),
        "REPLICAS": replicas,
        "STREAMING": bool(counted),
    }
    lag_bytes = [r["replay_lag_bytes"] for r in counted if r["replay_lag_bytes"] is not None]
    if lag_bytes:
        values["MAX_REPLAY_LAG_BYTES"] = max(lag_bytes)
    lag_seconds = [r["replay_lag_s"] for r in counted if r["replay_lag_s"] is not None]
    if lag_seconds:
        values["MAX_REPLAY_LAG_S"] = max(lag_seconds)
    return values


def _sender(row: dict[str, Any]) -> dict[str, Any]:
    lag_bytes = _number(row["replay_lag_bytes"])
    lag_bytes = None if lag_bytes is None else max(int(lag_bytes), 0)
    lag_seconds = _number(row["replay_lag_s"])
    if lag_seconds is None and lag_bytes == 0:
        lag_seconds = 0.0  # NULL after an idle, fully caught-up period: caught up
    return {
        "application_name": row["application_name"],
        "client_addr": row["client_addr"] or "local",  # NULL: a unix-socket connection
        "state": row["state"],
        "sync_state": row["sync_state"],
        "kind": "logical" if row["logical"] else "physical",
        "replays": bool(row["replays"]),
        "replay_lag_bytes": lag_bytes,
        "replay_lag_s": lag_seconds,
    }


def primary_message(values: dict[str, Any], where: str) -> str:
    replicas = values["REPLICAS"]
    streaming = values["STREAMING_REPLICAS"]
    text = f"primary {where}: {streaming} streaming replica(s) of {len(replicas)} WAL sender(s)"
    if "MAX_REPLAY_LAG_BYTES" in values:
        text += f", max replay lag {values['MAX_REPLAY_LAG_BYTES']} bytes"
    others = [
        f"{r['application_name'] or r['client_addr']} {r['state']}"
        for r in replicas
        if r["state"] != "streaming"
    ]
    if others:
        text += f" (also: {', '.join(others)})"
    return text


def replica_values(receiver: dict[str, Any] | None, replay: dict[str, Any]) -> dict[str, Any]:
    """Observed values from ``pg_stat_wal_receiver`` (None: no row) and the replay query (pure)."""
    status = str(receiver["status"]) if receiver is not None else "none"
    values: dict[str, Any] = {
        "IN_RECOVERY": True,
        "ROLE": "replica",
        "RECEIVER_STATUS": status,
        "REPLAY_PAUSED": bool(replay["replay_paused"]),
        "STREAMING": status == "streaming",
    }
    if receiver is not None and receiver["sender_host"] is not None:
        values["SENDER"] = f"{receiver['sender_host']}:{receiver['sender_port']}"
    lag_bytes = _number(replay["replay_lag_bytes"])
    if lag_bytes is not None:  # NULL when nothing was ever received by streaming
        values["REPLAY_LAG_BYTES"] = max(int(lag_bytes), 0)
    age = _number(replay["last_replay_age_s"])
    if age is not None:  # NULL until the first transaction is replayed: absent, not 0
        values["LAST_REPLAY_AGE_S"] = round(max(age, 0.0), 3)
    return values


def replica_message(values: dict[str, Any], where: str) -> str:
    text = f"replica {where}: WAL receiver {values['RECEIVER_STATUS']}"
    if "SENDER" in values:
        text += f" from {values['SENDER']}"
    if "REPLAY_LAG_BYTES" in values:
        text += f", {values['REPLAY_LAG_BYTES']} bytes received but not replayed"
    if values["REPLAY_PAUSED"]:
        text += ", replay paused"
    return text


def connect_error(exc: psycopg.Error, where: str, password_hint: str | None = None) -> ProbeError:
    """Sort a failed connect: libpq gives no SQLSTATE here, only its message text."""
    import psycopg

    text = _text(exc).removeprefix("connection failed: ")
    attempts = text.count("failed:")  # one per address libpq tried
    if attempts and text.count("failed: Connection refused") == attempts:
        # Worded as every other probe words it; libpq adds only "is the server running?".
        return TemporaryProbeError(f"cannot connect to {where}: connection refused")
    if any(marker in text for marker in _NOT_AUTHORISED):
        refused_password = any(m in text for m in ("password authentication failed", "no password supplied"))
        hint = f"; {password_hint}" if password_hint and refused_password else ""
        return PermanentProbeError(f"not authorised: {text}{hint}")
    if any(marker in text for marker in _MISCONFIGURED):
        return PermanentProbeError(f"cannot connect: {text}")
    if isinstance(exc, psycopg.errors.ConnectionTimeout) or "timeout expired" in text:
        return TemporaryProbeError(f"timed out: {text}")
    # Refused, unreachable, DNS, starting up or shutting down, too many clients.
    return TemporaryProbeError(f"cannot connect: {text}")


def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _number(value: Any) -> float | None:
    """numeric and interval epochs arrive as Decimal (PG 14+) or float (older)."""
    if value is None:
        return None
    if isinstance(value, Decimal | int | float):
        return float(value)
    return None


POSTGRES_REPLICATION = register(
    ProbeType(
        name="postgres_replication",
        summary="PostgreSQL streaming replication: replicas and lag on a primary, the receiver on a replica.",
        config_model=PostgresReplicationConfig,
        gather=_gather,
        values=(
            Value("STREAMING", "primary: a replica streams from it; replica: its WAL receiver streams"),
            Value("IN_RECOVERY", "pg_is_in_recovery(): true on a replica"),
            Value("ROLE", "primary or replica, as the server says"),
            Value("STREAMING_REPLICAS", "physical replicas streaming and replaying (primary)"),
            Value("SYNC_REPLICAS", "streaming replicas with sync_state sync or quorum (primary)"),
            Value(
                "REPLICAS",
                "WAL senders: application_name, client_addr, state, sync_state, kind, "
                "replay_lag_bytes, replay_lag_s (primary)",
                structured=True,
            ),
            Value("MAX_REPLAY_LAG_BYTES", "largest replay lag of a streaming replica (primary)", "bytes"),
            Value("MAX_REPLAY_LAG_S", "largest replay_lag of a streaming replica (primary)", "s"),
            Value("RECEIVER_STATUS", "pg_stat_wal_receiver status, none without a receiver (replica)"),
            Value("SENDER", "host:port the replica streams from (replica)"),
            Value("REPLAY_LAG_BYTES", "WAL received but not yet replayed (replica)", "bytes"),
            Value(
                "LAST_REPLAY_AGE_S", "seconds since the last replayed commit; grows when idle (replica)", "s"
            ),
            Value("REPLAY_PAUSED", "replay is paused with pg_wal_replay_pause() (replica)"),
        ),
        default_conditions=("[STREAMING] == true",),
        example={
            "type": "postgres_replication",
            "role": "primary",
            "host": "db-primary.erp.example.com",
            "user": "golive_monitor",
            "password": {"env": "PG_MONITOR_PASSWORD"},
            "sslmode": "verify-full",
        },
    )
)
