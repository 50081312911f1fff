"""The ``ragcost`` marker: its signature, its checks, and what it resolves to for a test."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

MARKER_HELP = (
    "ragcost(scenario=None, requests=None, warmup=0, load=None): a metered RAG scenario. "
    "scenario: its name in ragcost.yaml (default: the test's node id); requests: how many "
    "measured requests ragcost.requests() yields (--ragcost-requests lowers it); warmup: "
    "requests run first and not counted; load: a load level for ragcost.load(), e.g. "
    "{'users': 4} or {'rate': 2.0, 'duration_s': 30}."
)
VALID = ("scenario", "requests", "warmup", "load")


class MarkerError(ValueError):
    """A ``@pytest.mark.ragcost(...)`` with arguments we cannot use."""


class _Mark(Protocol):
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]


class _Item(Protocol):
    nodeid: str

    def get_closest_marker(self, name: str) -> _Mark | None: ...


@dataclass(frozen=True)
class ScenarioSpec:
    scenario: str
    requests: int | None
    warmup: int
    load: Mapping[str, Any] | None = None


def parse(
    mark: _Mark | None, nodeid: str, params: Mapping[str, Any] | None = None
) -> ScenarioSpec:
    """Validate the marker of one test and resolve its defaults.

    ``scenario`` may name parametrize arguments in braces, e.g. ``"sweep-k{top_k}"``.
    """
    if mark is None:
        return ScenarioSpec(nodeid, None, 0)
    where = f"{nodeid}: @pytest.mark.ragcost"
    if mark.args:
        msg = (
            f"{where} takes keyword arguments only (got {len(mark.args)} positional); "
            f"valid: {', '.join(VALID)}, e.g. @pytest.mark.ragcost(scenario='qa-typical')"
        )
        raise MarkerError(msg)
    unknown = sorted(set(mark.kwargs) - set(VALID))
    if unknown:
        msg = f"{where} got unknown argument {unknown[0]!r}; valid arguments: {', '.join(VALID)}"
        raise MarkerError(msg)
    scenario = mark.kwargs.get("scenario", nodeid)
    if not isinstance(scenario, str) or not scenario.strip():
        msg = f"{where}: scenario must be a non-empty string (got {scenario!r})"
        raise MarkerError(msg)
    if "{" in scenario:
        try:
            scenario = scenario.format(**(params or {}))
        except (KeyError, IndexError, ValueError) as exc:
            msg = (
                f"{where}: scenario {scenario!r} names {exc} which is not a parameter of this "
                f"test (parameters: {', '.join(sorted(params or {})) or 'none'})"
            )
            raise MarkerError(msg) from None
    requests = mark.kwargs.get("requests")
    if requests is not None and (
        isinstance(requests, bool) or not isinstance(requests, int) or requests < 1
    ):
        msg = f"{where}: requests must be a whole number >= 1 (got {requests!r})"
        raise MarkerError(msg)
    warmup = mark.kwargs.get("warmup", 0)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        msg = f"{where}: warmup must be a whole number >= 0 (got {warmup!r})"
        raise MarkerError(msg)
    load = mark.kwargs.get("load")
    if load is not None:
        from .load.spec import KEYS, LoadSpecError
        from .load.spec import parse as parse_load

        if not isinstance(load, Mapping):
            msg = (
                f"{where}: load must be a dict such as {{'users': 4}} or {{'rate': 2.0}} "
                f"(got {type(load).__name__}); keys: {', '.join(KEYS)}"
            )
            raise MarkerError(msg)
        try:
            # parametrized levels: a value may name a parameter, e.g. {"users": "{users}"}
            resolved = {k: _param(v, params) for k, v in load.items()}
            parse_load(resolved, f"{where}: load")
        except LoadSpecError as exc:
            raise MarkerError(str(exc)) from None
        load = resolved
    return ScenarioSpec(scenario, requests, warmup, load)


def _param(value: Any, params: Mapping[str, Any] | None) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        name = value[1:-1]
        if params and name in params:
            return params[name]
    return value


def params_of(item: object) -> dict[str, Any]:
    """The parametrize arguments of a test item (empty when it has none)."""
    callspec = getattr(item, "callspec", None)
    return dict(getattr(callspec, "params", {}) or {})


def check_items(items: Iterable[Any]) -> None:
    """Check every marked test at collection, so a bad marker stops the run before it starts.

    Two tests may not claim the same scenario: their numbers would overwrite each other.
    """
    seen: dict[str, str] = {}
    for item in items:
        mark = item.get_closest_marker("ragcost")
        if mark is None:
            continue
        spec = parse(mark, item.nodeid, params_of(item))
        if spec.scenario in seen:
            msg = (
                f"scenario {spec.scenario!r} is claimed by two tests: {seen[spec.scenario]} and "
                f"{item.nodeid}; give each test its own scenario name "
                "(for parametrized tests, leave scenario unset to use the node id)"
            )
            raise MarkerError(msg)
        seen[spec.scenario] = item.nodeid
