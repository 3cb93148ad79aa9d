"""The Dockerfile, parsed with BuildKit's own parser: what the image is built from, who it
runs as, what it may write, and that nothing it needs is left out of the build context.
(tests/deploy/test_image_install.py replays its install steps for real.)"""

from __future__ import annotations

import posixpath
import re
import tomllib

import pytest

from .dockerfile_model import DOCKERFILE, ROOT, Dockerfile, DockerIgnore, Instruction, parse

#: Compilers and build tools: the final image has none (wheels only).
BUILD_TOOLS = re.compile(
    r"^(gcc|g\+\+|cc|c\+\+|clang|make|cmake|build-essential|python3?-dev|libc6?-dev|"
    r"autoconf|automake|libtool|pkg-config|rustc|cargo|gfortran|.*-dev)(=.*)?$"
)
PACKAGE_INSTALLERS = {"apt-get", "apt", "aptitude", "dpkg", "apk", "yum", "dnf", "microdnf"}
URL = re.compile(r"^(https?|ftp|git)://|^git@|\.git(#|$)")
EXACT_TAG = re.compile(r"^[^:@/]+(/[^:@/]+)*:(?P<tag>\d+\.\d+\.\d+)(?P<variant>-[a-z0-9.-]+)?$")


@pytest.fixture(scope="module")
def image() -> Dockerfile:
    return parse(DOCKERFILE)


def _project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def _pip(argv: list[str]) -> list[str] | None:
    """The arguments after ``pip`` when argv runs pip (``python -m pip …`` or ``pip …``)."""
    if argv[:3] in (["python", "-m", "pip"], ["python3", "-m", "pip"]):
        return argv[3:]
    if argv and posixpath.basename(argv[0]) in ("pip", "pip3"):
        return argv[1:]
    return None


def _option(args: list[str], *names: str) -> list[str]:
    """Every value of an option, as ``-c X``, ``--constraint X`` or ``--constraint=X``."""
    values = []
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                values.append(args[index + 1])
            elif name.startswith("--") and arg.startswith(name + "="):
                values.append(arg[len(name) + 1 :])
    return values


def test_two_stages_from_the_same_exactly_pinned_slim_python(image: Dockerfile) -> None:
    assert len(image.stages) == 2
    assert image.stages[0].name == "builder"
    bases = image.external_bases()
    assert len(bases) == 2 and len(set(bases)) == 1, bases
    for base in bases:
        match = EXACT_TAG.match(base)
        assert match, f"{base}: pin an exact version tag (x.y.z), not latest or a bare major"
        assert "@" not in base
        # The interpreter is the one pyproject.toml and mypy target.
        requires = str(_project()["requires-python"])
        assert match["tag"].startswith(requires.removeprefix(">=") + "."), (base, requires)
        assert "slim" in (match["variant"] or ""), f"{base}: use a slim variant"
    # Renovate and friends bump FROM lines; the base.name label must follow.
    assert image.final.labels()["org.opencontainers.image.base.name"].endswith("/" + bases[-1])


def test_final_stage_runs_as_a_numeric_non_root_user(image: Dockerfile) -> None:
    user = image.final.last("USER")
    assert user is not None, "the final stage has no USER: it would run as root"
    uid, _, gid = user.value[0].partition(":")
    assert uid.isdigit() and int(uid) != 0, f"USER {user.value[0]}: numeric uid (runAsNonRoot checks it)"
    assert gid.isdigit() and int(gid) != 0, f"USER {user.value[0]}: numeric, non-root gid"


def test_nothing_is_fetched_by_url(image: Dockerfile) -> None:
    for stage in image.stages:
        for instruction in stage.all("ADD"):
            sources = instruction.value[:-1]
            assert not any(URL.search(s) for s in sources), f"line {instruction.line}: ADD of a URL"
        for _, argv in stage.commands():
            assert not {"curl", "wget"} & {posixpath.basename(a) for a in argv[:1]}, argv


def test_no_compilers_or_build_tools_in_the_final_stage(image: Dockerfile) -> None:
    for _, argv in image.final.commands():
        if argv and posixpath.basename(argv[0]) in PACKAGE_INSTALLERS:
            tools = [a for a in argv[1:] if BUILD_TOOLS.match(a)]
            assert not tools, f"{' '.join(argv)}: installs build tools into the final image"
    # No package manager at all is needed in either stage: every dependency is a wheel.
    for stage in image.stages:
        used = {posixpath.basename(argv[0]) for _, argv in stage.commands() if argv}
        assert not used & PACKAGE_INSTALLERS, f"stage {stage.index}: {used & PACKAGE_INSTALLERS}"


def test_builder_makes_wheels_and_final_installs_only_them_within_the_lock(image: Dockerfile) -> None:
    builder, final = image.stages
    (wheel,) = [args for _, argv in builder.commands() if (args := _pip(argv)) and args[0] == "wheel"]
    assert _option(wheel, "-c", "--constraint") == ["requirements.lock"]
    (wheel_run,) = [run for run, argv in builder.commands() if _pip(argv) == wheel]
    # pip's cache: a BuildKit cache mount, or none at all; never a layer.
    cached = [m for m in wheel_run.mounts() if m.get("type") == "cache"]
    assert "--no-cache-dir" in wheel or [m["target"] for m in cached] == ["/root/.cache/pip"]
    (wheel_dir,) = _option(wheel, "-w", "--wheel-dir")
    copies = [i for i in builder.all("COPY") if "requirements.lock" in i.value[:-1]]
    assert copies, "the builder does not copy requirements.lock"

    installs = [
        (run, args) for run, argv in final.commands() if (args := _pip(argv)) and args[0] == "install"
    ]
    assert len(installs) == 1, installs
    run, install = installs[0]
    assert {"--no-cache-dir", "--no-index"} <= set(install)
    assert _option(install, "--find-links", "-f") == [wheel_dir]
    (lock,) = _option(install, "-c", "--constraint")
    assert posixpath.basename(lock) == "requirements.lock"
    lock_copy = [i for i in final.all("COPY") if i.value == ("requirements.lock", lock)]
    assert lock_copy and lock_copy[0].line < run.line, "the lock is copied before the install"
    # The wheels come in through a bind mount from the builder: no layer keeps them.
    (mount,) = run.mounts()
    assert mount == {"type": "bind", "from": builder.name, "source": wheel_dir, "target": wheel_dir}
    assert not [i for i in final.all("COPY") if i.flag("from")], "final copies nothing from the builder"
    assert install[-1] == "golive"


def test_healthcheck_asks_healthz_with_python(image: Dockerfile) -> None:
    health = image.final.last("HEALTHCHECK")
    assert health is not None, "no HEALTHCHECK"
    assert health.json and health.value[0] == "CMD", "HEALTHCHECK CMD in exec form"
    argv = list(health.value[1:])
    assert argv[:2] == ["python", "-c"], "Python asks, not curl (the slim image has none)"
    assert "/healthz" in argv[2]
    assert {health.flag(f) for f in ("interval", "timeout", "start-period", "retries")} - {None}


def test_entrypoint_is_golive_serve_in_exec_form(image: Dockerfile) -> None:
    assert image.final.exec_form("ENTRYPOINT") == ["golive"]
    assert image.final.exec_form("CMD") == ["serve"]
    stop = image.final.last("STOPSIGNAL")
    assert stop is None or stop.value == ("SIGTERM",), "golive serve stops cleanly on SIGTERM"


def test_writable_paths_are_all_under_the_declared_volume(image: Dockerfile) -> None:
    final = image.final
    (volume,) = final.volumes()
    env = final.env()

    def under_volume(path: str) -> bool:
        return posixpath.normpath(path) == volume or posixpath.normpath(path).startswith(volume + "/")

    for name in ("HOME", "TMPDIR", "MPLCONFIGDIR", "GOLIVE_CHARTS_DIR"):
        assert under_volume(env[name]), f"{name}={env[name]} is outside the volume {volume}"
    database = env["GOLIVE_DB_URL"]
    assert database.startswith("sqlite:///") and under_volume(database.removeprefix("sqlite:///"))
    assert under_volume(final.workdir()), "relative paths (golive.db, golive-out) land in the volume"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1", "no __pycache__ writes on a read-only root"
    # The volume is created, owned by the runtime user, before it is declared.
    user = final.last("USER")
    assert user is not None
    uid, _, gid = user.value[0].partition(":")
    creating = [
        argv for _, argv in final.commands() if argv[:2] == ["install", "--directory"] and argv[-1] == volume
    ]
    assert creating and f"--owner={uid}" in creating[0] and f"--group={gid}" in creating[0]


def test_the_image_serves_the_bundled_checklist_on_the_exposed_port(image: Dockerfile) -> None:
    final = image.final
    env = final.env()
    (expose,) = final.all("EXPOSE")
    assert expose.value == (env["PORT"],)
    copied = {i.value[-1]: i.value[0] for i in final.all("COPY") if not i.flag("from")}
    assert copied[env["GOLIVE_CHECKLIST"]] == "checklists/valeo-neuroerp-1.1.0.yaml"


def test_oci_labels(image: Dockerfile) -> None:
    labels = image.final.labels()
    assert labels["org.opencontainers.image.title"] == "golive"
    assert labels["org.opencontainers.image.version"] == _project()["version"]
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.description"]
    assert "org.opencontainers.image.revision" in labels
    # OCI's namespace for OCI's keys; golive's own under its name.
    assert all(key.startswith(("org.opencontainers.image.", "golive.")) for key in labels)


def test_the_bill_of_materials_is_shipped_where_its_label_says(image: Dockerfile) -> None:
    final = image.final
    path = final.labels()["golive.sbom"]
    copied = {i.value[-1]: i.value[0] for i in final.all("COPY") if not i.flag("from")}
    assert path == "/usr/share/golive/sbom.cdx.json"
    assert copied[path] == "sbom.cdx.json"
    install = next(i for i in final.all("RUN") if "pip install" in " ".join(i.value))
    sbom_copy = next(i for i in final.all("COPY") if i.value[-1] == path)
    assert sbom_copy.line > install.line, "copied after the install it describes"


def _context_sources(image: Dockerfile) -> list[tuple[Instruction, str]]:
    """(COPY, source) for every file or folder copied from the build context."""
    copies = [i for stage in image.stages for i in stage.all("COPY") if not i.flag("from")]
    return [(i, source) for i in copies for source in i.value[:-1]]


def test_dockerignore_lets_in_what_the_build_copies_and_nothing_else(image: Dockerfile) -> None:
    ignore = DockerIgnore.load()
    sent = ignore.sent(ROOT)
    copied = {src.rstrip("/") for _, src in _context_sources(image)}
    for source in copied:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: not in the repository"
        files = [str(p.relative_to(ROOT)) for p in path.rglob("*") if p.is_file()] or [source]
        wanted = [f for f in files if "__pycache__" not in f and not f.endswith((".pyc", ".pyo"))]
        missing = [f for f in wanted if f not in sent]
        assert not missing, f".dockerignore keeps out files COPY {source} needs: {missing[:5]}"
    outside = [f for f in sent if not any(f == c or f.startswith(c + "/") for c in copied)]
    assert not outside, f"sent to the builder but never copied: {outside[:10]}"
    for private in (".git/HEAD", ".venv/pyvenv.cfg", "golive.db", "tests/conftest.py"):
        assert ignore.excluded(private), private


@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        ("*", "a/b/c.py", True),
        ("*\n!a/", "a/b/c.py", False),
        ("*\n!a/\n**/__pycache__", "a/b/__pycache__/c.pyc", True),
        ("*\n!a/b.txt", "a/b.txt", False),
        ("*\n!a/b.txt", "a/c.txt", True),
        ("**/*.py[cod]", "x/y/z.pyc", True),
        ("**/*.py[cod]", "x/y/z.py", False),
        ("docs\n!docs/keep.md", "docs/keep.md", False),
    ],
)
def test_dockerignore_matching_follows_moby(pattern: str, path: str, excluded: bool) -> None:
    assert DockerIgnore(pattern).excluded(path) is excluded
