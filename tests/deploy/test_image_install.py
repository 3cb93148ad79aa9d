"""The image's install steps, replayed for real: the builder's ``pip wheel`` (from PyPI,
within requirements.lock), the final stage's offline ``pip install`` of those wheels into a
fresh virtualenv, then the container's own ENTRYPOINT and CMD with its ENV: ``golive
serve`` answers /healthz, the Dockerfile's HEALTHCHECK passes, and SIGTERM stops it with
exit code 0. No container engine runs here, so tests/deploy/image_replay.py stands in for
one (see its docstring for what it does and does not replay)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import free_port

from .dockerfile_model import ROOT, parse
from .image_replay import IMAGE_ONLY, Replay, build

STARTUP_SECONDS = 60


@pytest.fixture(scope="module")
def replay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Replay:
    # The Dockerfile's pip cache mount, kept between test runs like BuildKit keeps it
    # between builds (pytest's cache folder; a fresh one when the cache plugin is off).
    cache = getattr(request.config, "cache", None)
    caches = cache.mkdir("image-replay") if cache is not None else tmp_path_factory.mktemp("caches")
    return build(parse(), tmp_path_factory.mktemp("image"), caches)


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as file:
        version: str = tomllib.load(file)["project"]["version"]
    return version


def test_the_build_steps_ran_and_only_image_bookkeeping_was_skipped(replay: Replay) -> None:
    assert any(line.startswith("python -m pip wheel") for line in replay.log)
    assert any(line.startswith("python -m pip install") for line in replay.log)
    assert "golive --version" in replay.log
    assert {line.split()[0] for line in replay.skipped} <= set(IMAGE_ONLY)
    builder_wheels = replay.roots[0].host("/wheels")
    assert [p.name for p in builder_wheels.glob("golive-*.whl")] == [f"golive-{_version()}-py3-none-any.whl"]
    # The final stage keeps no wheels: they were bind-mounted, not copied.
    assert not replay.final.host("/wheels").exists()


def test_installed_versions_are_the_locked_ones(replay: Replay) -> None:
    frozen = subprocess.run(
        [replay.executable("python"), "-m", "pip", "list", "--format=freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        env=replay.environment(replay.final),
        timeout=60,
    ).stdout
    installed = _pins(frozen)
    locked = _pins((ROOT / "requirements.lock").read_text(encoding="utf-8"))
    unlocked = sorted(set(installed) - set(locked) - {"golive", "pip", "setuptools", "wheel"})
    assert not unlocked, f"installed but not in requirements.lock: {unlocked}"
    mismatched = {name: (v, locked[name]) for name, v in installed.items() if locked.get(name, v) != v}
    assert not mismatched, f"installed (left) differs from requirements.lock (right): {mismatched}"
    assert installed["golive"] == _version()
    assert {"slack-bolt", "sqlalchemy", "kubernetes", "matplotlib", "psycopg", "alembic"} <= set(installed)
    # Test tools stay out of the image even though the lock pins them.
    assert not {"pytest", "mypy", "ruff", "hypothesis"} & set(installed)


def test_the_bill_of_materials_lists_what_the_image_installed(replay: Replay) -> None:
    """The SBOM at the label's path is valid CycloneDX and names, with their versions,
    exactly the distributions the image's install step put there: what a scanner reads
    is what runs."""
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from cyclonedx.validation import make_schemabased_validator

    text = replay.final.host(replay.dockerfile.final.labels()["golive.sbom"]).read_text(encoding="utf-8")
    problem = make_schemabased_validator(OutputFormat.JSON, SchemaVersion.V1_6).validate_str(text)
    assert problem is None, problem
    sbom = json.loads(text)
    assert (sbom["metadata"]["component"]["name"], sbom["metadata"]["component"]["version"]) == (
        "golive",
        _version(),
    )
    listed = {c["name"]: c["version"] for c in sbom["components"]}
    assert all(c["purl"] == f"pkg:pypi/{c['name']}@{c['version']}" for c in sbom["components"])
    frozen = subprocess.run(
        [replay.executable("python"), "-m", "pip", "list", "--format=freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        env=replay.environment(replay.final),
        timeout=60,
    ).stdout
    installed = {n: v for n, v in _pins(frozen).items() if n not in {"golive", "pip", "setuptools", "wheel"}}
    assert _pins("".join(f"{n}=={v}\n" for n, v in listed.items())) == installed


def _pins(text: str) -> dict[str, str]:
    """``name==version`` lines (pip freeze, uv's lock) by normalised name (PEP 503)."""
    pins = {}
    for line in text.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split("==", 1)
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_golive_version(replay: Replay) -> None:
    done = subprocess.run(
        [replay.executable("golive"), "--version"],
        capture_output=True,
        text=True,
        env=replay.environment(replay.final),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"golive {_version()}"


@pytest.fixture
def served(replay: Replay) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The image's ENTRYPOINT + CMD with its ENV, on a free loopback port, no Slack token."""
    final = replay.final
    port = free_port()
    argv = replay.dockerfile.final.exec_form("ENTRYPOINT") + replay.dockerfile.final.exec_form("CMD")
    process = subprocess.Popen(
        replay.command(final, argv),
        cwd=final.host(final.workdir),
        env=replay.environment(final, PORT=str(port), HOST="127.0.0.1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _wait_for_health(process: subprocess.Popen[str], port: int) -> int:
    deadline = time.monotonic() + STARTUP_SECONDS
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"golive serve exited {process.returncode} before answering:\n{output}")
        try:
            with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                status: int = response.status
                return status
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"/healthz did not answer within {STARTUP_SECONDS}s")


def test_serve_answers_healthz_passes_the_healthcheck_and_stops_on_sigterm(
    replay: Replay, served: tuple[subprocess.Popen[str], int]
) -> None:
    process, port = served
    assert _wait_for_health(process, port) == 200

    health = replay.dockerfile.final.last("HEALTHCHECK")
    assert health is not None
    check = subprocess.run(
        replay.command(replay.final, list(health.value[1:])),
        env=replay.environment(replay.final, PORT=str(port)),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, f"the Dockerfile's HEALTHCHECK failed: {check.stderr}"

    process.send_signal(signal.SIGTERM)
    returncode = process.wait(timeout=30)
    output = process.stdout.read() if process.stdout else ""
    assert returncode == 0, output

    # What it wrote is on the volume: the SQLite database of GOLIVE_DB_URL.
    (volume,) = replay.dockerfile.final.volumes()
    database = Path(replay.final.host_value(replay.final.env["GOLIVE_DB_URL"]).removeprefix("sqlite:///"))
    assert database.is_file()
    assert database.is_relative_to(replay.final.host(volume))


def test_a_stopped_healthcheck_target_fails_the_healthcheck(replay: Replay) -> None:
    health = replay.dockerfile.final.last("HEALTHCHECK")
    assert health is not None
    check = subprocess.run(
        replay.command(replay.final, list(health.value[1:])),
        env=replay.environment(replay.final, PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert check.returncode != 0
