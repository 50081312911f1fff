"""Where a project's history is, found the way pytest finds its configuration, for
commands that run outside pytest (``ragcost history``).

The rootdir is the nearest directory, from the current one up, holding pytest's
configuration (``pytest.ini``, ``.pytest.ini``, ``pyproject.toml`` with
``[tool.pytest.ini_options]``, ``tox.ini`` with ``[pytest]``, ``setup.cfg`` with
``[tool:pytest]``), else the current directory. Its ``ragcost_history`` and
``ragcost_project`` keys are read as the plugin reads them.
"""

from __future__ import annotations

import configparser
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..config import SettingsError, default_project, history_location, project_name


@dataclass(frozen=True)
class Located:
    """A project's history: its store (``None`` when its ini turns the history off), the
    project's name, and where they were read."""

    store: str | None
    project: str
    rootdir: Path
    ini: Path | None


def _ini_values(path: Path) -> dict[str, str] | None:
    """The pytest options in ``path``, or None when it holds no pytest configuration."""
    try:
        if path.name == "pyproject.toml":
            with path.open("rb") as fh:
                data = tomllib.load(fh)
            table = data.get("tool", {}).get("pytest", {}).get("ini_options")
            if not isinstance(table, dict):
                return None
            return {str(k): str(v) for k, v in table.items()}
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
    except (OSError, ValueError, configparser.Error, tomllib.TOMLDecodeError):
        return None
    section = {"setup.cfg": "tool:pytest"}.get(path.name, "pytest")
    if not parser.has_section(section):
        return None if path.name in ("tox.ini", "setup.cfg") else {}
    return dict(parser.items(section))


def locate(start: Path) -> Located:
    """The history and project of the pytest project that ``start`` lies in."""
    start = start.resolve()
    for directory in (start, *start.parents):
        for name in ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
            path = directory / name
            if not path.is_file():
                continue
            values = _ini_values(path)
            if values is not None:
                return _from(directory, path, values)
    return _from(start, None, {})


def _from(rootdir: Path, ini: Path | None, values: dict[str, str]) -> Located:
    where = f"ragcost_project in {ini}"
    raw_project = values.get("ragcost_project", "").strip()
    try:
        project = project_name(raw_project, where) if raw_project else default_project(rootdir)
    except SettingsError:
        project = default_project(rootdir)
    raw = values.get("ragcost_history", "").strip()
    store: str | None
    try:
        store = history_location(raw, f"ragcost_history in {ini}", rootdir)
    except SettingsError:
        store = raw  # opening it says what is wrong with it
    return Located(store, project, rootdir, ini)
