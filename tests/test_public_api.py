"""The package root is the public API: every name in ``__all__`` imports and is the
object its module defines, none loads before it is used, and the README, the docs and
the examples import from the root only."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_ragcost

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", pytest_ragcost.__all__)
def test_every_public_name_imports_from_the_root(name: str) -> None:
    value = getattr(pytest_ragcost, name)
    assert value is not None
    if name == "__version__":
        return
    module = importlib.import_module(pytest_ragcost._EXPORTS[name])
    assert value is getattr(module, pytest_ragcost._RENAMED.get(name, name))
    namespace: dict[str, object] = {}
    exec(f"from pytest_ragcost import {name}", namespace)
    assert namespace[name] is value


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Recorders'"):
        pytest_ragcost.Recorders  # noqa: B018 - the look-up is the test
    with pytest.raises(ImportError):
        exec("from pytest_ragcost import Recorders", {})


def test_all_names_every_export_once_and_dir_lists_them() -> None:
    assert sorted(pytest_ragcost.__all__) == sorted(["__version__", *pytest_ragcost._EXPORTS])
    assert len(set(pytest_ragcost.__all__)) == len(pytest_ragcost.__all__)
    assert set(pytest_ragcost.__all__) <= set(dir(pytest_ragcost))


def test_importing_the_plugin_loads_none_of_them() -> None:
    # the option table (config) is the plugin's own; the run's records (run.model) and
    # everything else load on first use
    needed = {"pytest_ragcost.config"}
    modules = sorted(set(pytest_ragcost._EXPORTS.values()) - needed)
    probe = (
        "import sys, pytest_ragcost, pytest_ragcost.plugin\n"
        f"print([m for m in {modules!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


#: ``from pytest_ragcost.x import``, ``import pytest_ragcost.x``, or a dotted name in prose
_SUBMODULE = re.compile(r"pytest_ragcost\.[a-z][a-z_]*")


def _user_facing_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for pattern in ("*.py", "*.md"):
        files += sorted(p for p in (ROOT / "examples").rglob(pattern)
                        if ".cache" not in p.parts and "site-packages" not in p.parts)
    return files


def test_the_docs_and_examples_import_from_the_root_only() -> None:
    found = []
    for path in _user_facing_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{number}: {m}" for m in _SUBMODULE.findall(line)]
    assert found == []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    docs = readme + "".join(p.read_text(encoding="utf-8") for p in _user_facing_files())
    assert "from pytest_ragcost import" in docs
