"""``command``: run a monitoring-plugins (Nagios) compatible executable.

The plugin API (reference/probe-protocols.md, section 12): exit 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN become PASS, WARN, FAIL, ERROR (any other exit: ERROR). The first
output line is the status text, perfdata follows a ``|``; later lines are long output,
and after a ``|`` in them the rest is more perfdata.

- Never a shell: ``argv`` goes to exec as is, so ``;``, ``$()`` or ``*`` are just text.
- The child gets a minimal environment (PATH, HOME, locale) plus ``env`` and
  ``secret_env``, not the bot's own, which holds the Slack tokens and database DSN.
- It runs in a session of its own, so when the item times out the runner's cancellation
  kills the whole process group and reaps the plugin: nothing is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import shlex
import shutil
import signal
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..clients.http import resolve_path, shorten
from ..errors import PermanentProbeError
from ..probe import Evidence, Observation, ProbeConfig, ProbeContext, ProbeType, Value, register
from ..secret_names import is_secret_env_name
from ..secrets import SecretRef
from ..status import Status

#: Nagios 4 cuts plugin output at the same size.
OUTPUT_LIMIT = 64 * 1024
STDERR_LIMIT = 4 * 1024
_STATUS_TEXT_LIMIT = 4 * 1024
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXIT_STATUS = {0: Status.PASS, 1: Status.WARN, 2: Status.FAIL, 3: Status.ERROR}
_EXIT_NAMES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


class CommandConfig(ProbeConfig):
    type: Literal["command"] = "command"
    #: The program and its arguments; a bare name is looked up on PATH, a relative path
    #: resolves against the checklist's folder.
    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, SecretRef] = Field(default_factory=dict)
    #: Working directory, relative to the checklist's folder (which is the default).
    cwd: str | None = None

    @field_validator("argv")
    @classmethod
    def _program_named(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the first element names the program and must not be empty")
        return value

    @field_validator("env")
    @classmethod
    def _plain_env(cls, value: dict[str, str]) -> dict[str, str]:
        secret_like = [name for name in value if is_secret_env_name(name)]
        if secret_like:
            raise ValueError(
                f"{', '.join(secret_like)} looks like a secret and must not be written inline; "
                "move it to secret_env: {NAME: {env: VARIABLE}}"
            )
        return value

    @model_validator(mode="after")
    def _env_names(self) -> CommandConfig:
        names = [*self.env, *self.secret_env]
        bad = [name for name in names if not _ENV_NAME.match(name)]
        if bad:
            raise ValueError(f"not a valid environment variable name: {', '.join(bad)}")
        twice = sorted(set(self.env) & set(self.secret_env))
        if twice:
            raise ValueError(f"{', '.join(twice)} is in both env and secret_env")
        return self


@dataclass(frozen=True)
class PerfDatum:
    label: str
    #: None where the plugin wrote ``U`` (could not determine the value).
    value: int | float | None
    uom: str = ""
    #: Threshold ranges as written (``10``, ``10:``, ``~:10``, ``@10:20``).
    warn: str | None = None
    crit: str | None = None
    min: int | float | None = None
    max: int | float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "uom": self.uom,
            "warn": self.warn,
            "crit": self.crit,
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True)
class PluginOutput:
    text: str
    long_text: str
    perfdata: tuple[PerfDatum, ...]
    #: Perfdata items that did not parse; reported, not fatal (as in Nagios).
    malformed: tuple[str, ...] = ()


_NUMBER = r"[-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(rf"^({_NUMBER}|U)([a-zA-Z%]*)$")
#: min and max should carry the value's UOM or none; tolerate it when they do.
_LIMIT = re.compile(rf"^({_NUMBER})[a-zA-Z%]*$")


def parse_output(output: str) -> PluginOutput:
    """Split plugin output into status text, long output and perfdata."""
    lines = output.splitlines()
    first = lines[0] if lines else ""
    text, _, perf = first.partition("|")
    long_text, _, more_perf = "\n".join(lines[1:]).partition("|")
    data, malformed = parse_perfdata(f"{perf}\n{more_perf}")
    return PluginOutput(text.strip(), long_text.strip(), tuple(data), tuple(malformed))


def parse_perfdata(text: str) -> tuple[list[PerfDatum], list[str]]:
    """``'label'=value[UOM];[warn];[crit];[min];[max]`` items separated by whitespace."""
    data: list[PerfDatum] = []
    malformed: list[str] = []
    i, end = 0, len(text)
    while i < end:
        if text[i].isspace():
            i += 1
            continue
        start = i
        if text[i] == "'":
            label, i = _quoted_label(text, i)
        else:
            while i < end and text[i] != "=" and not text[i].isspace():
                i += 1
            label = text[start:i]
        if not label or i >= end or text[i] != "=":
            while i < end and not text[i].isspace():
                i += 1
            malformed.append(text[start:i])
            continue
        fields_start = i + 1
        i = fields_start
        while i < end and not text[i].isspace():
            i += 1
        datum = _datum(label, text[fields_start:i])
        if datum is None:
            malformed.append(text[start:i])
        else:
            data.append(datum)
    return data, malformed


def _quoted_label(text: str, start: int) -> tuple[str, int]:
    """Read ``'…'`` from ``start``; ``''`` inside is a literal quote. ('' , end) if unclosed."""
    label: list[str] = []
    i = start + 1
    while i < len(text):
        if text[i] == "'":
            if text[i + 1 : i + 2] == "'":
                label.append("'")
                i += 2
                continue
            return "".join(label), i + 1
        label.append(text[i])
        i += 1
    return "", len(text)


def _datum(label: str, fields_text: str) -> PerfDatum | None:
    fields = [*fields_text.split(";"), "", "", "", ""][:5]
    match = _VALUE.match(fields[0])
    if match is None:
        return None
    value = None if match.group(1) == "U" else _number(match.group(1))
    limits = [_LIMIT.match(f) for f in fields[3:5]]
    return PerfDatum(
        label=label,
        value=value,
        uom=match.group(2),
        warn=fields[1] or None,
        crit=fields[2] or None,
        min=_number(limits[0].group(1)) if limits[0] else None,
        max=_number(limits[1].group(1)) if limits[1] else None,
    )


def _number(text: str) -> int | float:
    text = text.replace(",", ".")  # some plugins print the locale's decimal comma
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


async def _gather(config: CommandConfig, context: ProbeContext) -> Observation:
    env = _child_env(config)
    cwd = resolve_path(config.cwd, context.base_dir) if config.cwd else context.base_dir
    if not cwd.is_dir():
        raise PermanentProbeError(f"working directory {cwd} does not exist")
    program = _find_program(config.argv[0], env["PATH"], context.base_dir)
    try:
        process = await asyncio.create_subprocess_exec(
            program,
            *config.argv[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise PermanentProbeError(_exec_error(program, exc)) from None
    assert process.stdout is not None
    assert process.stderr is not None
    sweeper = asyncio.create_task(_sweep_after_exit(process))
    try:
        async with asyncio.TaskGroup() as group:
            stdout_task = group.create_task(_read_capped(process.stdout, OUTPUT_LIMIT))
            stderr_task = group.create_task(_read_capped(process.stderr, STDERR_LIMIT))
        exit_code = await process.wait()  # the pipes are closed: this is the reaping
    except BaseException:  # cancelled at the item's timeout, or a read failed
        _kill_group(process)
        await _reaped(process)
        raise
    finally:
        sweeper.cancel()
    (stdout, truncated), (stderr, _) = stdout_task.result(), stderr_task.result()
    return _observation(
        config,
        exit_code,
        stdout.decode(errors="replace"),
        stderr.decode(errors="replace"),
        truncated=truncated,
        now=context.now(),
    )


def _observation(
    config: CommandConfig,
    exit_code: int,
    stdout: str,
    stderr: str,
    *,
    truncated: bool,
    now: datetime,
) -> Observation:
    parsed = parse_output(stdout)
    status = _EXIT_STATUS.get(exit_code, Status.ERROR)
    text = parsed.text[:_STATUS_TEXT_LIMIT]
    if exit_code < 0:
        message = f"killed by signal {_signal_name(-exit_code)}"
    elif exit_code not in _EXIT_STATUS:
        message = f"exit code {exit_code}, not a plugin status (0-3)"
    else:
        message = text or f"{_EXIT_NAMES[exit_code]} (no output)"
    if status == Status.ERROR and text and message != text:
        message += f": {text}"
    if status == Status.ERROR and stderr.strip():
        message += f"; stderr: {shorten(stderr.strip(), 300)}"
    if truncated:
        message += f" (output cut at {OUTPUT_LIMIT // 1024} KiB)"
    if parsed.malformed:
        message += f" (ignored malformed perfdata: {shorten(' '.join(parsed.malformed), 200)})"
    values = {
        "EXIT_CODE": exit_code,
        "OUTPUT": text,
        "LONG_OUTPUT": parsed.long_text,
        "PERF": {d.label: d.value for d in parsed.perfdata},
        "PERFDATA": {d.label: d.as_dict() for d in parsed.perfdata},
    }
    evidence = Evidence(shlex.join(config.argv), now)
    return Observation(values=values, evidence=evidence, status=status, message=message)


def _child_env(config: CommandConfig) -> dict[str, str]:
    env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
    env.setdefault("PATH", _DEFAULT_PATH)
    env.update(config.env)
    for name, ref in config.secret_env.items():
        env[name] = ref.resolve()
    return env


def _find_program(name: str, search_path: str, base_dir: Path) -> str:
    """Check the program before exec, to say precisely what is wrong with it."""
    if "/" not in name:
        found = shutil.which(name, path=search_path)
        if found is None:
            raise PermanentProbeError(f"command not found: no executable {name!r} on PATH ({search_path})")
        return found
    path = resolve_path(name, base_dir)
    if not path.exists():
        raise PermanentProbeError(f"command not found: {path} does not exist")
    if path.is_dir():
        raise PermanentProbeError(f"command {path} is a directory")
    if not os.access(path, os.X_OK):
        raise PermanentProbeError(f"command {path} is not executable (chmod +x it)")
    return str(path)


def _exec_error(program: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):  # the file was there: its #! interpreter is not
        return f"cannot run {program}: its interpreter (the #! line) was not found"
    if exc.errno == errno.ENOEXEC:
        return f"cannot run {program}: not a program this system can run (scripts need a #! line)"
    return f"cannot run {program}: {exc.strerror or exc}"


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    """Keep the first ``limit`` bytes; drain the rest so the plugin never blocks writing."""
    kept: list[bytes] = []
    size = 0
    while chunk := await stream.read(65536):
        if size < limit:
            kept.append(chunk[: limit - size])
        size += len(chunk)
    return b"".join(kept), size > limit


# Up to Python 3.11, Process.wait() returns only once the output pipes are closed too, so
# it cannot tell us that the plugin exited while something it started still holds them.
# ``returncode`` is set as soon as the plugin itself is reaped: poll that, with backoff.


async def _reaped(process: asyncio.subprocess.Process) -> None:
    delay = 0.005
    while process.returncode is None:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)


async def _sweep_after_exit(process: asyncio.subprocess.Process) -> None:
    """Once the plugin exits, kill what it left behind: those would hold our pipes open
    (and go on running unwatched)."""
    await _reaped(process)
    _kill_group(process)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    # The pid is the group id (start_new_session). ESRCH: nothing is left in the group;
    # EPERM: the id now belongs to someone else's processes, not ours to kill.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


COMMAND = register(
    ProbeType(
        name="command",
        summary="Runs a monitoring-plugins (Nagios) compatible check; exit code and perfdata.",
        config_model=CommandConfig,
        gather=_gather,
        values=(
            Value("EXIT_CODE", "the plugin's exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)"),
            Value("OUTPUT", "the status text: first output line without perfdata"),
            Value("LONG_OUTPUT", "the further output lines without perfdata"),
            Value("PERF", "perfdata values by label (null where unknown)", structured=True),
            Value("PERFDATA", "perfdata by label: value, uom, warn, crit, min, max", structured=True),
        ),
        default_conditions=(),
        example={
            "type": "command",
            "argv": ["/usr/lib/nagios/plugins/check_http", "-H", "erp.example.com", "-S"],
        },
    )
)
