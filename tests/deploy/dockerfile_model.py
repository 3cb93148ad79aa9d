"""The repository's Dockerfile and .dockerignore as a builder reads them.

The Dockerfile goes through the ``dockerfile`` package, which wraps BuildKit's own Go
parser (line continuations, JSON and shell forms, flags such as ``--mount``), so the
tests see the instructions a build runs, not lines a regular expression happens to match.
On top of it this module adds what the parser leaves to the builder: stages, ``ARG``/``ENV``
evaluation with ``${VAR}`` substitution, splitting ``RUN`` scripts into commands, and
``.dockerignore`` matching with moby's rules (the last matching pattern wins, a pattern
that matches a parent directory matches everything below it).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import dockerfile  # type: ignore[import-untyped,import-not-found,unused-ignore]

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})


@dataclass(frozen=True)
class Instruction:
    cmd: str
    flags: tuple[str, ...]
    value: tuple[str, ...]
    json: bool
    line: int

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value``, None when the flag is absent."""
        prefix = f"--{name}="
        found = [f[len(prefix) :] for f in self.flags if f.startswith(prefix)]
        return found[-1] if found else None

    def mounts(self) -> list[dict[str, str]]:
        """``RUN --mount=type=bind,from=builder,source=/a,target=/b`` as dicts."""
        result = []
        for flag in self.flags:
            if flag.startswith("--mount="):
                pairs = (part.split("=", 1) for part in flag[len("--mount=") :].split(","))
                result.append({key: value for key, value in pairs})
        return result


@dataclass
class Stage:
    index: int
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)
    #: ARG values visible in the stage: global ARGs it redeclares, and its own.
    args: dict[str, str] = field(default_factory=dict)

    def all(self, cmd: str) -> list[Instruction]:
        return [i for i in self.instructions if i.cmd == cmd]

    def last(self, cmd: str) -> Instruction | None:
        found = self.all(cmd)
        return found[-1] if found else None

    def env(self) -> dict[str, str]:
        """ENV after the stage's last instruction (the base image's own ENV aside)."""
        env: dict[str, str] = {}
        for instruction in self.all("ENV"):
            env.update(_pairs(instruction, {**self.args, **env}))
        return env

    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for instruction in self.all("LABEL"):
            labels.update(_pairs(instruction, {**self.args, **self.env()}))
        return labels

    def workdir(self) -> str:
        current = "/"
        for instruction in self.all("WORKDIR"):
            current = posixpath.join(current, instruction.value[0])
        return current

    def volumes(self) -> list[str]:
        return [v for i in self.all("VOLUME") for v in i.value]

    def commands(self) -> list[tuple[Instruction, list[str]]]:
        """Every command of every RUN, as (its RUN, argv)."""
        found = []
        for instruction in self.all("RUN"):
            argvs = [list(instruction.value)] if instruction.json else split_commands(instruction.value[0])
            found += [(instruction, argv) for argv in argvs]
        return found

    def exec_form(self, cmd: str) -> list[str]:
        """ENTRYPOINT or CMD, which must be in JSON (exec) form."""
        instruction = self.last(cmd)
        if instruction is None:
            return []
        if not instruction.json:
            raise ValueError(f"Dockerfile line {instruction.line}: {cmd} is not in exec (JSON) form")
        return list(instruction.value)


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, reference: str) -> Stage:
        """A stage by name or index, as ``COPY --from`` and ``--mount from`` name them."""
        for stage in self.stages:
            if reference in (stage.name, str(stage.index)):
                return stage
        raise KeyError(f"no stage {reference!r}")

    def external_bases(self) -> list[str]:
        """Base images pulled from a registry (not earlier stages)."""
        names = {s.name for s in self.stages if s.name}
        return [s.base for s in self.stages if s.base not in names]


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for command in dockerfile.parse_file(str(path)):
        instruction = Instruction(
            command.cmd.upper(), tuple(command.flags), tuple(command.value), command.json, command.start_line
        )
        if instruction.cmd == "FROM":
            value = instruction.value
            name = value[2] if len(value) == 3 and value[1].upper() == "AS" else None
            stages.append(Stage(len(stages), substitute(value[0], global_args), name))
        elif not stages:
            if instruction.cmd != "ARG":
                raise ValueError(f"Dockerfile line {instruction.line}: only ARG may come before FROM")
            global_args.update(_arg(instruction.value[0], global_args))
        else:
            stage = stages[-1]
            if instruction.cmd == "ARG":
                name, _, default = instruction.value[0].partition("=")
                if default or name not in global_args:
                    stage.args.update(_arg(instruction.value[0], stage.args))
                else:  # a global ARG redeclared without a default takes the global value
                    stage.args[name] = global_args[name]
            stage.instructions.append(instruction)
    if not stages:
        raise ValueError("the Dockerfile has no FROM")
    return Dockerfile(global_args, stages)


def substitute(text: str, variables: dict[str, str]) -> str:
    """``${NAME}`` and ``$NAME`` as the builder expands them in FROM, ENV and LABEL."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise KeyError(f"${name} is not an ARG or ENV in scope")
        return variables[name]

    return _VARIABLE.sub(value, text)


def word(text: str, variables: dict[str, str]) -> str:
    """One ENV/LABEL value: quotes removed, variables substituted."""
    parts = shlex.split(text)
    if len(parts) != 1:
        raise ValueError(f"{text!r} is not one word")
    return substitute(parts[0], variables)


def _arg(text: str, variables: dict[str, str]) -> dict[str, str]:
    name, _, default = text.partition("=")
    return {name: word(default, variables) if default else ""}


def _pairs(instruction: Instruction, variables: dict[str, str]) -> dict[str, str]:
    value = instruction.value
    if len(value) % 2:
        raise ValueError(f"Dockerfile line {instruction.line}: {instruction.cmd} needs key=value pairs")
    pairs: dict[str, str] = {}
    for key, raw in zip(value[::2], value[1::2], strict=True):
        pairs[key] = word(raw, {**variables, **pairs})
    return pairs


def split_commands(script: str) -> list[list[str]]:
    """A RUN script's simple commands, split at ``&&``, ``||``, ``;`` and pipes."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in _SEPARATORS:
            commands.append([])
        elif set(token) <= set("&|;<>()"):
            raise ValueError(f"RUN {script!r}: shell syntax {token!r} is not supported here")
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


# --- .dockerignore -------------------------------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclude: bool
    text: str


class DockerIgnore:
    """moby/patternmatcher: ``MatchesOrParentMatches``, the last matching pattern decides."""

    def __init__(self, text: str) -> None:
        self.patterns: list[_Pattern] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclude = not line.startswith("!")
            pattern = posixpath.normpath(line.lstrip("!").strip()).lstrip("/")
            self.patterns.append(_Pattern(re.compile(_translate(pattern)), exclude, line))

    @classmethod
    def load(cls, path: Path = DOCKERIGNORE) -> DockerIgnore:
        return cls(path.read_text(encoding="utf-8") if path.exists() else "")

    def excluded(self, relative: str) -> bool:
        path = posixpath.normpath(relative).lstrip("/")
        parts = path.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for pattern in self.patterns:
            if any(pattern.regex.fullmatch(candidate) for candidate in candidates):
                excluded = pattern.exclude
        return excluded

    def sent(self, context: Path) -> list[str]:
        """Every file of the context the builder receives, relative and sorted."""
        return sorted(
            str(p.relative_to(context))
            for p in context.rglob("*")
            if p.is_file() and not self.excluded(str(p.relative_to(context)))
        )


def _translate(pattern: str) -> str:
    regex, index = "", 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            regex += "(?:.*/)?"
            index += 3
            continue
        if pattern.startswith("**", index):
            regex += ".*"
            index += 2
            continue
        if char == "*":
            regex += "[^/]*"
        elif char == "?":
            regex += "[^/]"
        elif char == "[":
            end = pattern.index("]", index)
            regex += "[" + pattern[index + 1 : end].replace("\\", "\\\\") + "]"
            index = end
        else:
            regex += re.escape(char)
        index += 1
    return regex
