"""Does this Python environment hold what the example needs? Checked before any test runs.

Every line of ``requirements.txt`` is checked three ways: the distribution is installed,
its version is inside the range written there, and the module it provides can be found.
What fails is reported in one message with the command that fixes it, instead of a
traceback per test (a pymilvus without milvus-lite imports fine, then fails every test
that opens the index).

Only the standard library and ``packaging`` (a dependency of pytest) are imported here,
so the check runs in exactly the broken environments it has to diagnose.
``python -m ragpipe.environment --import`` also imports every module, for CI.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

EXAMPLE_DIR = Path(__file__).resolve().parent.parent
REQUIREMENTS = EXAMPLE_DIR / "requirements.txt"
# the tested lock of the repository, shared with the test suite's environment
CONSTRAINTS = EXAMPLE_DIR.parent.parent / "constraints.txt"

# Where the module a distribution provides is not named after it.
_MODULES = {
    "fpdf2": "fpdf",
    "llama-cpp-python": "llama_cpp",
}


@dataclass(frozen=True)
class Problem:
    """One requirement the environment does not meet."""

    requirement: str  # as written in requirements.txt, e.g. "milvus-lite>=2.5"
    found: str  # "not installed", "version 2.5.1", "module milvus_lite not found", ...


def module_name(distribution: str) -> str:
    """The top-level module a distribution of the example provides."""
    key = distribution.lower().replace("_", "-")
    return _MODULES.get(key, key.replace("-", "_"))


def read_requirements(path: Path = REQUIREMENTS) -> list[Requirement]:
    """The requirements in a pip requirements file (comments and pip options skipped)."""
    found: list[Requirement] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            found.append(Requirement(line))
        except InvalidRequirement as exc:
            raise ValueError(f"{path}:{number}: not a requirement: {line!r} ({exc})") from exc
    return found


def problems(requirements: Sequence[Requirement] | None = None) -> list[Problem]:
    """What the current environment lacks, one entry per unmet requirement."""
    found: list[Problem] = []
    for req in read_requirements() if requirements is None else requirements:
        if req.marker is not None and not req.marker.evaluate():
            continue
        wanted = str(req)
        try:
            installed = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            found.append(Problem(wanted, "not installed"))
            continue
        try:
            in_range = req.specifier.contains(Version(installed), prereleases=True)
        except InvalidVersion:
            in_range = False
        if not in_range:
            found.append(Problem(wanted, f"version {installed} is installed"))
            continue
        module = module_name(req.name)
        if importlib.util.find_spec(module) is None:
            found.append(Problem(wanted, f"installed, but its module {module} is not found"))
    return found


def import_failures(requirements: Sequence[Requirement] | None = None) -> list[Problem]:
    """Modules that are found but fail to import (a broken build, a missing shared library)."""
    failed: list[Problem] = []
    for req in read_requirements() if requirements is None else requirements:
        if req.marker is not None and not req.marker.evaluate():
            continue
        module = module_name(req.name)
        try:
            importlib.import_module(module)
        except Exception as exc:  # anything at all: it is reported, with its type
            failed.append(Problem(str(req), f"import {module} failed: {type(exc).__name__}: {exc}"))
    return failed


def fix_command(cwd: Path | None = None) -> str:
    """The command that installs the tested environment, with paths as seen from ``cwd``."""
    here = Path.cwd() if cwd is None else cwd

    def shown(path: Path) -> str:
        try:
            return os.path.relpath(path, here)
        except ValueError:  # another drive on Windows
            return str(path)

    command = f"python -m pip install -r {shown(REQUIREMENTS)}"
    if CONSTRAINTS.is_file():  # not where the example was copied out of the repository
        command += f" -c {shown(CONSTRAINTS)}"
    return command


def describe(unmet: Sequence[Problem], cwd: Path | None = None) -> str:
    """One message for everything that is missing or wrong, ending with the fix."""
    width = max(len(p.requirement) for p in unmet)
    lines = [
        f"the RAG example cannot run in this environment ({sys.executable}): "
        f"{len(unmet)} of its requirements {'is' if len(unmet) == 1 else 'are'} not met",
    ]
    lines += [f"  {p.requirement:<{width}}  {p.found}" for p in unmet]
    lines.append(f"fix: {fix_command(cwd)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Check the environment; with ``--import``, import every module too. Exit 1 if unmet."""
    args = sys.argv[1:] if argv is None else list(argv)
    unmet = problems()
    if not unmet and "--import" in args:
        unmet = import_failures()
    if unmet:
        print(f"ERROR: {describe(unmet)}", file=sys.stderr)
        return 1
    count = len(read_requirements())
    print(f"the RAG example's {count} requirements are met ({sys.executable})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
