"""The CycloneDX bill of materials of what the image ships: golive and its locked runtime
dependencies, without the test tools that share requirements.lock.

    .venv/bin/python tools/sbom.py          # write sbom.cdx.json (the Dockerfile ships it)
    .venv/bin/python tools/sbom.py --check  # regenerate, validate, fail if sbom.cdx.json differs

The runtime set is golive's own requirements, with the extras they ask for, followed
through the installed distributions' metadata (markers evaluated for the image's Python
3.11 on Linux); each gets the version requirements.lock pins. cyclonedx-py writes the
document reproducibly (no timestamp, no random serial number), so the committed file
changes only when a dependency does, and the document is validated against the
CycloneDX 1.6 JSON schema before it is written.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation import make_schemabased_validator
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
SBOM = ROOT / "sbom.cdx.json"
SPEC = SchemaVersion.V1_6
#: The image's interpreter (Dockerfile: python:3.11-slim), whatever runs this script.
TARGET = {"python_version": "3.11", "platform_system": "Linux", "sys_platform": "linux", "os_name": "posix"}


def locked() -> dict[str, str]:
    """Name → version for every ``name==version`` line of requirements.lock."""
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        name, equals, version = line.partition("==")
        if equals and not line.startswith((" ", "#")):
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _applies(marker: Marker | None, extras: set[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({**TARGET, "extra": extra}) for extra in extras | {""})


def runtime(pins: dict[str, str]) -> dict[str, str]:
    """golive's runtime dependencies, transitively, with their locked versions."""
    wanted: dict[str, set[str]] = {"golive": set()}
    walked: dict[str, set[str]] = {}
    todo = ["golive"]
    while todo:
        name = todo.pop()
        if name in walked and wanted[name] <= walked[name]:
            continue  # walked already with these extras
        walked[name] = set(wanted[name])
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            install = "pip install -c requirements.lock -e '.[test]'"
            raise SystemExit(f"{name} is not installed here: {install}") from None
        for text in requires:
            requirement = Requirement(text)
            if not _applies(requirement.marker, wanted[name]):
                continue
            dependency = canonicalize_name(requirement.name)
            wanted.setdefault(dependency, set()).update(requirement.extras)
            todo.append(dependency)
    del wanted["golive"]
    missing = sorted(set(wanted) - set(pins))
    if missing:
        raise SystemExit(f"runtime dependencies missing from requirements.lock: {', '.join(missing)}")
    return {name: pins[name] for name in sorted(wanted)}


def generate() -> str:
    """The SBOM as cyclonedx-py writes it, validated."""
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "runtime.txt"
        requirements.write_text("".join(f"{n}=={v}\n" for n, v in runtime(locked()).items()))
        output = Path(folder) / "sbom.cdx.json"
        # Fixed arguments, no shell: the interpreter running this script and its cyclonedx-py.
        subprocess.run(  # noqa: S603
            [
                # Requirements have no dependency graph; cyclonedx-py warns about that.
                sys.executable,
                "-W",
                "ignore::UserWarning",
                "-m",
                "cyclonedx_py",
                "requirements",
                "--pyproject",
                str(ROOT / "pyproject.toml"),
                "--sv",
                SPEC.to_version(),
                "--of",
                "JSON",
                "--output-reproducible",
                "-o",
                str(output),
                str(requirements),
            ],
            check=True,
        )
        text = output.read_text(encoding="utf-8")
    problem = make_schemabased_validator(OutputFormat.JSON, SPEC).validate_str(text)
    if problem is not None:
        raise SystemExit(f"the SBOM is not valid CycloneDX {SPEC.to_version()}: {problem}")
    return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if sbom.cdx.json is not current")
    document = generate()
    if not parser.parse_args().check:
        SBOM.write_text(document, encoding="utf-8")
        print(f"wrote {SBOM.relative_to(ROOT)}")
    elif not SBOM.exists() or SBOM.read_text(encoding="utf-8") != document:
        raise SystemExit(f"{SBOM.relative_to(ROOT)} is not current: run .venv/bin/python tools/sbom.py")
    else:
        print(f"{SBOM.relative_to(ROOT)} is current and valid CycloneDX {SPEC.to_version()}")


if __name__ == "__main__":
    main()
