"""The command probe runs real plugin scripts, through loader and runner."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from golive.checks.errors import ChecklistError
from golive.checks.families.command import CommandConfig
from golive.checks.loader import loads
from golive.checks.probe import probe_type
from golive.checks.status import Status

from .support import checklist_yaml, item, run, write_plugin

STATUS_PLUGIN = """
import sys
print("DISK OK - free space: / 42% | '/ free'=42%;20;10;0;100 time=0.5s;1;2")
sys.exit(int(sys.argv[1]))
"""


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (0, Status.PASS),
        (1, Status.WARN),
        (2, Status.FAIL),
        (3, Status.ERROR),
        (4, Status.ERROR),
        (255, Status.ERROR),
    ],
)
async def test_exit_code_decides_the_status(tmp_path: Path, code: int, status: Status) -> None:
    plugin = write_plugin(tmp_path, "check_disk", STATUS_PLUGIN)
    # A passing condition never makes the plugin's own verdict better.
    result = (await run(tmp_path, item("disk", [str(plugin), str(code)], conditions=["[PERF].time < 1"])))[
        "disk"
    ]
    assert result.status == status, result.message
    assert result.observed["EXIT_CODE"] == code
    assert result.observed["OUTPUT"] == "DISK OK - free space: / 42%"
    if code <= 3:
        assert result.message == "DISK OK - free space: / 42%"
    else:
        assert result.message == (f"exit code {code}, not a plugin status (0-3): DISK OK - free space: / 42%")


async def test_perfdata_feeds_conditions(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path, "check_disk", STATUS_PLUGIN)
    results = await run(
        tmp_path,
        item("fast", [str(plugin), "0"], conditions=["[PERF].time < 1", "[PERF]./ free >= 20"]),
        item("strict", [str(plugin), "0"], conditions=["[PERF].time < 0.1"]),
    )
    assert results["fast"].status == Status.PASS, results["fast"].message
    assert results["strict"].status == Status.FAIL
    assert "[PERF].time = 0.5, limit < 0.1" in results["strict"].message
    assert results["fast"].observed["PERFDATA"]["/ free"] == {
        "value": 42,
        "uom": "%",
        "warn": "20",
        "crit": "10",
        "min": 0,
        "max": 100,
    }
    json.dumps(dict(results["fast"].observed))  # stored as JSON


async def test_long_output_and_perfdata_on_later_lines(tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path,
        "check_services",
        """
        print("SERVICES OK - 3 up | 'api latency'=0.123s;0.5;1;0; 'it''s'=5;;;;")
        print("api: up")
        print("db: up | db_conns=12;80;90;0;100")
        print("'cache hits'=99.5%;;;0;100 queue=U")
        """,
    )
    result = (await run(tmp_path, item("svc", [str(plugin)], conditions=["[PERF].api latency < 0.2"])))["svc"]
    assert result.status == Status.PASS, result.message
    observed = result.observed
    assert observed["OUTPUT"] == "SERVICES OK - 3 up"
    assert observed["LONG_OUTPUT"] == "api: up\ndb: up"
    assert observed["PERF"] == {
        "api latency": 0.123,
        "it's": 5,
        "db_conns": 12,
        "cache hits": 99.5,
        "queue": None,
    }
    assert observed["PERFDATA"]["api latency"] == {
        "value": 0.123,
        "uom": "s",
        "warn": "0.5",
        "crit": "1",
        "min": 0,
        "max": None,
    }


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan waits for init to reap it; it no longer runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_hanging_plugin_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    plugin = write_plugin(
        tmp_path,
        "check_hangs",
        f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(60)
        """,
    )
    quick = write_plugin(tmp_path, "check_quick", "print('OK')")
    started = time.perf_counter()
    results = await run(
        tmp_path,
        item("hangs", [str(plugin)], timeout="1s"),
        item("quick", [str(quick)]),
    )
    assert time.perf_counter() - started < 4
    assert results["hangs"].status == Status.ERROR
    assert results["hangs"].message == "timed out after 1s"
    assert results["quick"].status == Status.PASS
    plugin_pid, child_pid = map(int, pids.read_text().split())
    with pytest.raises(ProcessLookupError):  # killed and reaped: not even a zombie
        os.kill(plugin_pid, 0)
    deadline = time.monotonic() + 2
    while _running(child_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(child_pid), "the plugin's own child survived the timeout"


async def test_children_left_behind_do_not_hold_up_the_result(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    plugin = write_plugin(
        tmp_path,
        "check_forks",
        f"""
        import subprocess, sys
        # The child inherits our stdout, so the output pipe stays open after we exit.
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pids)!r}, "w").write(str(child.pid))
        print("OK - started a helper | helpers=1")
        """,
    )
    started = time.perf_counter()
    result = (await run(tmp_path, item("forks", [str(plugin)], timeout="5s")))["forks"]
    assert time.perf_counter() - started < 2.5
    assert result.status == Status.PASS, result.message
    assert result.observed["PERF"] == {"helpers": 1}
    child_pid = int(pids.read_text())
    deadline = time.monotonic() + 2
    while _running(child_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _running(child_pid), "the helper the plugin left behind is still running"


async def test_argv_is_passed_literally_never_through_a_shell(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    write_plugin(
        tmp_path / "plugins",
        "check_args",
        """
        import json, os, sys
        open("seen.json", "w").write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}))
        print("OK")
        """,
    )
    tricky = [
        "$(touch pwned)",
        "; touch pwned2",
        "`touch pwned3`",
        "*",
        "a b",
        "|",
        "&&",
        "$HOME",
        "~",
        "> out",
    ]
    result = (await run(tmp_path, item("args", ["./plugins/check_args", *tricky], probe={"cwd": "work"})))[
        "args"
    ]
    assert result.status == Status.PASS, result.message
    seen = json.loads((tmp_path / "work" / "seen.json").read_text())
    assert seen == {"argv": tricky, "cwd": str(tmp_path / "work")}
    assert not [p.name for p in tmp_path.rglob("*") if p.name.startswith(("pwned", "out"))]


async def test_environment_is_minimal_and_secrets_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "plugin-secret-8b3f1c"
    monkeypatch.setenv("GOLIVE_TEST_PLUGIN_SECRET", secret)
    monkeypatch.setenv("GOLIVE_TEST_BOT_ONLY", "not for plugins")
    snapshot = tmp_path / "env.json"
    plugin = write_plugin(
        tmp_path,
        "check_env",
        f"""
        import json, os
        open({str(snapshot)!r}, "w").write(json.dumps(dict(os.environ)))
        print(f"OK password={{os.environ['CHECK_PASSWORD']}} | ok=1")
        """,
    )
    probe = {
        "env": {"PLAIN": "plain value"},
        "secret_env": {"CHECK_PASSWORD": {"env": "GOLIVE_TEST_PLUGIN_SECRET"}},
    }
    result = (await run(tmp_path, item("env", [str(plugin)], probe=probe)))["env"]
    assert result.status == Status.PASS, result.message
    env = json.loads(snapshot.read_text())
    assert env["CHECK_PASSWORD"] == secret  # the plugin got the secret ...
    assert env["PLAIN"] == "plain value"
    assert "GOLIVE_TEST_BOT_ONLY" not in env  # ... but not the bot's environment
    assert "PATH" in env
    # ... and nothing that leaves the probe shows it.
    assert result.observed["OUTPUT"] == "OK password=[REDACTED]"
    assert secret not in json.dumps([dict(result.observed), result.message, str(result.evidence)])


async def test_program_is_found_on_the_path_given_in_env(tmp_path: Path) -> None:
    write_plugin(tmp_path / "bin", "check_on_path", "print('PATH OK')")
    probe = {"env": {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}}
    result = (await run(tmp_path, item("path", ["check_on_path"], probe=probe)))["path"]
    assert result.status == Status.PASS, result.message
    assert result.message == "PATH OK"


async def test_programs_that_cannot_run_are_errors_saying_why(tmp_path: Path) -> None:
    not_executable = write_plugin(tmp_path, "check_noexec", "print('OK')", executable=False)
    no_shebang = tmp_path / "check_noshebang"
    no_shebang.write_text("echo OK\n")
    no_shebang.chmod(0o755)
    bad_interpreter = tmp_path / "check_badinterp"
    bad_interpreter.write_text("#!/nonexistent/python3\nprint('OK')\n")
    bad_interpreter.chmod(0o755)
    results = await run(
        tmp_path,
        item("missing", ["./plugins/check_missing"]),
        item("not-on-path", ["golive-no-such-plugin"]),
        item("noexec", [str(not_executable)]),
        item("noshebang", [str(no_shebang)]),
        item("badinterp", [str(bad_interpreter)]),
        item("nodir", [str(not_executable)], probe={"cwd": "no-such-dir"}),
    )
    assert all(r.status == Status.ERROR for r in results.values())
    messages = {item_id: r.message for item_id, r in results.items()}
    assert messages["missing"] == (f"command not found: {tmp_path}/plugins/check_missing does not exist")
    assert messages["not-on-path"].startswith(
        "command not found: no executable 'golive-no-such-plugin' on PATH"
    )
    assert messages["noexec"] == f"command {not_executable} is not executable (chmod +x it)"
    assert messages["noshebang"] == (
        f"cannot run {no_shebang}: not a program this system can run (scripts need a #! line)"
    )
    assert messages["badinterp"] == (
        f"cannot run {bad_interpreter}: its interpreter (the #! line) was not found"
    )
    assert messages["nodir"] == f"working directory {tmp_path / 'no-such-dir'} does not exist"


async def test_unknown_with_stderr_and_death_by_signal(tmp_path: Path) -> None:
    unknown = write_plugin(
        tmp_path, "check_unknown", "import sys\nsys.stderr.write('boom: no db\\n')\nsys.exit(3)"
    )
    killed = write_plugin(
        tmp_path,
        "check_killed",
        """
        import os, signal, sys
        print("dying")
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGTERM)
        """,
    )
    results = await run(tmp_path, item("unknown", [str(unknown)]), item("killed", [str(killed)]))
    assert results["unknown"].status == Status.ERROR
    assert results["unknown"].message == "UNKNOWN (no output); stderr: boom: no db"
    assert results["killed"].status == Status.ERROR
    assert results["killed"].message == "killed by signal SIGTERM: dying"
    assert results["killed"].observed["EXIT_CODE"] == -15


async def test_output_is_capped(tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path, "check_chatty", "import sys\nsys.stdout.write('OK big\\n' + 'x' * 300_000)"
    )
    result = (await run(tmp_path, item("chatty", [str(plugin)])))["chatty"]
    assert result.status == Status.PASS
    assert result.message == "OK big (output cut at 64 KiB)"
    assert len(result.observed["LONG_OUTPUT"]) == 64 * 1024 - len("OK big\n")


@pytest.mark.parametrize(
    ("probe", "field", "fragment"),
    [
        ({"argv": []}, "probe.argv", "at least 1"),
        ({"argv": [""]}, "probe.argv", "names the program"),
        ({"argv": ["x"], "env": {"DB_PASSWORD": "hunter2"}}, "probe.env", "secret_env"),
        ({"argv": ["x"], "secret_env": {"T": "literal"}}, "probe.secret_env.T", "inline secrets"),
        ({"argv": ["x"], "env": {"1BAD": "v"}}, "probe", "not a valid environment variable"),
        ({"argv": "check_x -H host"}, "probe.argv", "list"),
    ],
)
def test_invalid_configs_are_named_at_load(probe: dict[str, object], field: str, fragment: str) -> None:
    text = checklist_yaml({"id": "plugin", "title": "Plugin", "probe": {"type": "command", **probe}})
    with pytest.raises(ChecklistError) as caught:
        loads(text, env={})
    found = [(p.where, p.field) for p in caught.value.problems]
    assert found == [("item plugin", field)]
    assert fragment in caught.value.problems[0].message


def test_the_registered_example_is_valid() -> None:
    kind = probe_type("command")
    config = kind.config_model.model_validate(kind.example)
    assert isinstance(config, CommandConfig)
    assert config.argv[0].endswith("check_http")
