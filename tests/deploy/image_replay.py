"""Replay the Dockerfile's build on this machine, without a container engine.

Each stage gets a directory standing in for its root filesystem, and a fresh virtualenv
(no system site-packages) stands in for the base image's Python. The stages' own
instructions are then carried out in order: WORKDIR, COPY from the build context (after
``.dockerignore``) or from an earlier stage, RUN bind mounts from an earlier stage, and
the RUN commands themselves, with the stage's ENV and absolute paths moved into the stage
directory. A RUN cache mount (``type=cache``) is a folder that outlives the replay, as a
BuildKit cache outlives a build. Commands that only make sense inside an image (creating the system user) are
named in :data:`IMAGE_ONLY` and skipped; any other command fails the replay, so a new
build step cannot slip past it unreplayed.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .dockerfile_model import ROOT, Dockerfile, DockerIgnore, Instruction, Stage

#: Commands the replay skips, and why.
IMAGE_ONLY = {
    "groupadd": "the image's /etc/group",
    "useradd": "the image's /etc/passwd",
    "install": "creates the volume directory owned by the runtime user (needs root and that user)",
}
#: Host variables a replayed command must not inherit: they would configure pip or golive
#: from this machine instead of from the Dockerfile.
_HOST_ONLY = re.compile(r"^(PIP_(?!CERT$).*|SLACK_.*|GOLIVE_.*|PORT|HOST|VIRTUAL_ENV|PYTHON(PATH|HOME))$")
_SQLITE = "sqlite:///"
_SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass
class StageRoot:
    stage: Stage
    root: Path
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)

    def host(self, path: str) -> Path:
        """Where a path of this stage's filesystem lives on this machine."""
        absolute = path if path.startswith("/") else posixpath.join(self.workdir, path)
        return self.root / posixpath.normpath(absolute).lstrip("/")

    def host_value(self, value: str) -> str:
        """An ENV value or argument with its absolute path moved into the stage directory."""
        if value.startswith("/"):
            return str(self.host(value))
        if value.startswith(_SQLITE + "/"):
            return _SQLITE + str(self.host(value.removeprefix(_SQLITE)))
        if value.startswith("--") and "=/" in value:
            option, path = value.split("=", 1)
            return f"{option}={self.host(path)}"
        return value


@dataclass
class Replay:
    dockerfile: Dockerfile
    venv: Path
    roots: dict[int, StageRoot]
    log: list[str]
    skipped: list[str]
    caches: Path

    @property
    def final(self) -> StageRoot:
        return self.roots[self.dockerfile.final.index]

    def executable(self, name: str) -> str:
        """``python`` and console scripts resolve to the virtualenv, as to the image's Python."""
        if name in ("python", "python3"):
            return str(self.venv / "bin" / "python")
        candidate = self.venv / "bin" / name
        if candidate.exists():
            return str(candidate)
        raise AssertionError(f"{name!r} is neither Python nor a console script of the installed packages")

    def environment(self, stage: StageRoot, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not _HOST_ONLY.match(k)}
        # A RUN sees the stage's ARGs as environment variables, and its ENV.
        # Until a USER instruction, commands run as root, whose HOME is /root.
        defaults = {"HOME": "/root"}
        variables = {**defaults, **stage.stage.args, **stage.env}
        env.update({k: stage.host_value(v) for k, v in variables.items()})
        # The image's PATH, with the virtualenv standing in for /usr/local/bin.
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), *_SYSTEM_PATH])
        # This machine's pip configuration (extra indexes, find-links) is not the image's.
        env["PIP_CONFIG_FILE"] = os.devnull
        env.update(extra)
        return env

    def command(self, stage: StageRoot, argv: list[str]) -> list[str]:
        return [self.executable(argv[0]), *(stage.host_value(a) for a in argv[1:])]


def build(
    dockerfile: Dockerfile, workspace: Path, caches: Path, context: Path = ROOT, timeout: float = 600
) -> Replay:
    """Replay every stage in ``workspace``; cache mounts live below ``caches``."""
    venv = workspace / "venv"
    subprocess.run([_base_python(), "-m", "venv", str(venv)], check=True, timeout=120)
    replay = Replay(dockerfile, venv, {}, [], [], caches)
    ignore = DockerIgnore.load(context / ".dockerignore")
    for stage in dockerfile.stages:
        current = StageRoot(stage, workspace / "stages" / str(stage.index))
        current.root.mkdir(parents=True)
        replay.roots[stage.index] = current
        for instruction in stage.instructions:
            if instruction.cmd == "ENV":
                current.env = stage_env_until(stage, instruction)
            elif instruction.cmd == "WORKDIR":
                current.workdir = posixpath.join(current.workdir, instruction.value[0])
                current.host(current.workdir).mkdir(parents=True, exist_ok=True)
            elif instruction.cmd == "COPY":
                _copy(replay, current, instruction, context, ignore)
            elif instruction.cmd == "VOLUME":
                for volume in instruction.value:
                    current.host(volume).mkdir(parents=True, exist_ok=True)
            elif instruction.cmd == "RUN":
                _run(replay, current, instruction, timeout)
            elif instruction.cmd == "ADD":
                raise AssertionError(f"Dockerfile line {instruction.line}: ADD is not replayed; use COPY")
    return replay


def stage_env_until(stage: Stage, last: Instruction) -> dict[str, str]:
    """The stage's ENV as of ``last`` (later ENV instructions not yet in force)."""
    until = stage.instructions[: stage.instructions.index(last) + 1]
    partial = Stage(stage.index, stage.base, stage.name, until, stage.args)
    return partial.env()


def _base_python() -> str:
    """The interpreter behind this virtualenv, so the new one shares nothing with it."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base) if base.exists() else sys.executable


def _copy(
    replay: Replay, stage: StageRoot, instruction: Instruction, context: Path, ignore: DockerIgnore
) -> None:
    *sources, destination = instruction.value
    origin = instruction.flag("from")
    target = stage.host(destination)
    into_folder = destination.endswith("/") or len(sources) > 1
    for source in sources:
        if origin is not None:
            path = replay.roots[replay.dockerfile.stage(origin).index].host(source)
        else:
            if any(ch in source for ch in "*?["):
                raise AssertionError(f"Dockerfile line {instruction.line}: wildcards are not replayed")
            path = context / source
            relative = posixpath.normpath(source)
            if path.is_file() and ignore.excluded(relative):
                raise AssertionError(f"COPY {source}: .dockerignore keeps it out of the build context")
        if path.is_dir():
            root = path

            def excluded(folder: str, names: list[str], root: Path = root) -> set[str]:
                if origin is not None:
                    return set()
                base = Path(folder).relative_to(context)
                return {n for n in names if ignore.excluded(str(base / n))}

            shutil.copytree(path, target, dirs_exist_ok=True, ignore=excluded)
        else:
            destination_file = target / path.name if into_folder else target
            destination_file.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination_file)
    replay.log.append(f"COPY {' '.join(instruction.value)}")


def _run(replay: Replay, stage: StageRoot, instruction: Instruction, timeout: float) -> None:
    links = []
    for mount in instruction.mounts():
        if mount.get("type") == "cache":
            source = replay.caches / (mount.get("id") or mount["target"]).strip("/").replace("/", "_")
            source.mkdir(parents=True, exist_ok=True)
        elif mount.get("type") == "bind" and "from" in mount:
            source = replay.roots[replay.dockerfile.stage(mount["from"]).index].host(mount.get("source", "/"))
        else:
            raise AssertionError(f"Dockerfile line {instruction.line}: mount {mount} is not replayed")
        link = stage.host(mount["target"])
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source, target_is_directory=source.is_dir())
        links.append(link)
    try:
        for run, argv in stage.stage.commands():
            if run is not instruction:
                continue
            if argv[0] in IMAGE_ONLY:
                replay.skipped.append(" ".join(argv))
                continue
            command = replay.command(stage, argv)
            replay.log.append(" ".join(argv))
            done = subprocess.run(
                command,
                cwd=stage.host(stage.workdir),
                env=replay.environment(stage),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if done.returncode != 0:
                raise AssertionError(
                    f"Dockerfile line {instruction.line}: {' '.join(argv)} exited {done.returncode}\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
                )
    finally:
        for link in links:
            link.unlink()
