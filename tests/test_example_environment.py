"""The RAG example in a broken environment: one message naming what is missing or wrong,
with the command that fixes it, before any test runs (not an error per test).

The broken environment is real: a new virtual environment whose site-packages holds
links to everything of the current one except the package the test takes away (or a
package replaced by another version). The example's own conftest then runs in it, as
``python -m pytest examples/rag --ragcost`` would.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rag"
NEEDS = ("llama_cpp", "pymilvus", "milvus_lite", "sentence_transformers", "pypdf", "fpdf")
missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.skipif(not EXAMPLE.is_dir(), reason="examples/ is not in this tree (an sdist)"),
    pytest.mark.skipif(
        bool(missing),
        reason=f"needs {', '.join(missing)}: pip install -r examples/rag/requirements.txt",
    ),
]


def site_packages(venv_dir: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": venv_dir, "platbase": venv_dir}))


def environment_without(
    root: Path, hidden: tuple[str, ...], replace: dict[str, str] | None = None
) -> Path:
    """A venv seeing the current site-packages minus ``hidden`` entries; its python.

    ``hidden`` are name prefixes of site-packages entries (module folders and their
    ``.dist-info``); ``replace`` maps a distribution name to a version to fake in its place.
    """
    target = root / "venv"
    venv.create(target, with_pip=False)
    site = site_packages(target)
    here = Path(sysconfig.get_path("purelib"))
    for entry in here.iterdir():
        if not entry.name.lower().startswith(hidden):
            (site / entry.name).symlink_to(entry)
    for name, version in (replace or {}).items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
    return target / "bin" / "python"


def copy_example(root: Path) -> Path:
    """The example's code and requirements (not its cache) where they are in the
    repository, next to the repository's lock; the example's directory."""
    repo = root / "repo"
    target = repo / "examples" / "rag"
    shutil.copytree(
        EXAMPLE,
        target,
        ignore=shutil.ignore_patterns(".cache", "__pycache__", "data", "*.db"),
    )
    shutil.copy2(EXAMPLE.parent.parent / "constraints.txt", repo / "constraints.txt")
    return target


def run_example(python: Path, cwd: Path, example: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            str(example.relative_to(cwd)),
            "--ragcost",
            "--ragcost-requests=5",
            "-p",
            "no:randomly",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_missing_package_stops_the_run_with_one_message_and_the_fix(tmp_path: Path) -> None:
    example = copy_example(tmp_path)
    python = environment_without(tmp_path, hidden=("milvus_lite",))
    result = run_example(python, example.parent.parent, example)  # from the repository root
    out = result.stdout + result.stderr
    assert result.returncode == 4, out
    lines = out.splitlines()
    assert [line for line in lines if line.startswith("ERROR")] == lines[:1], out
    assert lines[0] == (
        f"ERROR: the RAG example cannot run in this environment ({python}): "
        "1 of its requirements is not met"
    ), out
    assert lines[1].split() == ["milvus-lite>=2.5", "not", "installed"], out
    assert lines[2] == (
        "fix: python -m pip install -r examples/rag/requirements.txt -c constraints.txt"
    )
    assert "Traceback" not in out
    assert "collected" not in out  # stopped before collection, so no test ran or errored


def test_a_wrong_version_is_named_with_the_version_found(tmp_path: Path) -> None:
    example = copy_example(tmp_path)
    python = environment_without(
        tmp_path, hidden=("pymilvus", "milvus_lite"), replace={"pymilvus": "2.4.9"}
    )
    result = run_example(python, example, example)  # run from inside the example
    out = result.stdout + result.stderr
    assert result.returncode == 4, out
    assert "2 of its requirements are not met" in out
    words = [line.split() for line in out.splitlines()]
    assert ["pymilvus>=2.6", "version", "2.4.9", "is", "installed"] in words, out
    assert ["milvus-lite>=2.5", "not", "installed"] in words, out
    assert "fix: python -m pip install -r requirements.txt -c ../../constraints.txt" in out
    assert "Traceback" not in out


def test_the_ci_check_imports_every_module_and_names_one_that_fails(tmp_path: Path) -> None:
    python = environment_without(
        tmp_path, hidden=("milvus_lite",), replace={"milvus-lite": "3.2.2"}
    )
    broken = site_packages(python.parent.parent) / "milvus_lite"
    broken.mkdir()
    (broken / "__init__.py").write_text(
        'raise ImportError("libmilvus_lite.so: cannot open shared object file")\n', "utf-8"
    )
    quick = subprocess.run(
        [str(python), "-m", "ragpipe.environment"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert quick.returncode == 0, quick.stderr  # installed, in range, found: only an import tells
    full = subprocess.run(
        [str(python), "-m", "ragpipe.environment", "--import"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert full.returncode == 1, full.stdout + full.stderr
    assert (
        "milvus-lite>=2.5 import milvus_lite failed: "
        "ImportError: libmilvus_lite.so: cannot open shared object file"
    ) in [" ".join(line.split()) for line in full.stderr.splitlines()], full.stderr
    assert "fix: python -m pip install -r requirements.txt -c ../../constraints.txt" in full.stderr


def test_the_tested_environment_meets_every_requirement() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ragpipe.environment"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("the RAG example's "), result.stdout
    assert " requirements are met " in result.stdout
