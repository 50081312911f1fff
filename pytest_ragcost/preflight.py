"""The pytest side of the pre-flight estimate: the selected scenarios as collection sees
them, ``--ragcost-max-usd`` checked once collection is done, and the in-process
collection behind ``ragcost estimate``. The pricing itself is
:mod:`pytest_ragcost.estimate`, a plain library.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from .config import Settings, in_shard
from .estimate import (
    Estimate,
    EstimateError,
    Planned,
    call_site,
    estimate,
    load_sources,
    to_json,
)
from .estimate import over_cap as _over_cap
from .estimate import with_history as _with_history
from .keys import COLLECTOR, SETTINGS_KEY, get_session
from .marker import MarkerError, check_items, params_of, parse


def planned(items: Sequence[pytest.Item]) -> list[Planned]:
    """The scenarios these test items would run: every test with the ``ragcost`` marker
    or the ``ragcost`` fixture, as the marker's own parsing resolves it."""
    out: list[Planned] = []
    for item in items:
        mark: Any = item.get_closest_marker("ragcost")
        if mark is None and "ragcost" not in getattr(item, "fixturenames", ()):
            continue
        spec = parse(mark, item.nodeid, params_of(item))
        function = getattr(item, "function", None)
        site = call_site(function) if function is not None else None
        load_requests = spec.load.get("requests") if spec.load else None
        out.append(Planned(
            scenario=spec.scenario,
            nodeid=item.nodeid,
            requests=spec.requests,
            warmup=spec.warmup,
            items=site.items if site is not None else None,
            n=site.n if site is not None else None,
            load_requests=load_requests if isinstance(load_requests, int) else None,
        ))
    return out


def estimate_items(items: Sequence[pytest.Item], settings: Settings) -> Estimate:
    """What running these items would spend (raises :class:`EstimateError` for a broken
    baseline file)."""
    plan = planned(items)
    sources = _with_history(load_sources(settings), settings, [p.scenario for p in plan])
    return estimate(plan, sources, cap=settings.requests, metering=settings.enabled)


def check_cap(session: pytest.Session) -> None:
    """``--ragcost-max-usd``: refuse to start a run whose estimate is over the cap, or
    cannot be known, as a usage error (exit 4)."""
    config = session.config
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.max_usd is None:
        return
    if config.pluginmanager.has_plugin(COLLECTOR) or config.option.collectonly:
        return
    try:
        est = estimate_items(session.items, settings)
    except (EstimateError, MarkerError) as exc:
        raise pytest.UsageError(f"pytest-ragcost: --ragcost-max-usd: {exc}") from None
    _refuse_over(config, to_json(est)["total"], settings.max_usd)


def _refuse_over(config: pytest.Config, total: Mapping[str, Any], cap_usd: float) -> None:
    problem = _over_cap(total, cap_usd)
    if problem is not None:
        running = get_session(config)
        if running is not None:
            running.refuse()
        raise pytest.UsageError(f"pytest-ragcost: {problem}")


#: how long the controller of a pytest-xdist run waits for the estimate's collection
XDIST_COLLECT_TIMEOUT_S = 600.0


def check_cap_distributed(config: pytest.Config) -> None:
    """``--ragcost-max-usd`` under pytest-xdist: the controller collects nothing itself,
    so it runs ``ragcost estimate`` over the same arguments without workers (one
    collect-only process) before any worker starts."""
    import json
    import subprocess
    import sys

    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.max_usd is None:
        return
    command = [sys.executable, "-m", "pytest_ragcost.cli", "estimate", "--json", "--",
               *config.invocation_params.args, "-n", "0"]
    try:
        done = subprocess.run(command, cwd=config.invocation_params.dir, capture_output=True,
                              text=True, timeout=XDIST_COLLECT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        msg = f"pytest-ragcost: --ragcost-max-usd: the estimate could not be made ({exc})"
        raise pytest.UsageError(msg) from None
    try:
        total = json.loads(done.stdout)["total"]
    except (ValueError, KeyError, TypeError):
        said = (done.stderr or done.stdout).strip().removeprefix("ragcost: ")
        msg = f"pytest-ragcost: --ragcost-max-usd: {said or 'the estimate failed'}"
        raise pytest.UsageError(msg) from None
    _refuse_over(config, total, settings.max_usd)


class _Collector:
    """Registered for ``ragcost estimate``'s collect-only session: keeps the items."""

    def __init__(self) -> None:
        # pluggy registers a plugin under its ``__name__``: the plugin looks for this one
        self.__name__ = COLLECTOR
        self.items: list[pytest.Item] = []
        self.settings: Settings | None = None

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.items = list(session.items)
        self.settings = session.config.stash.get(SETTINGS_KEY, None)


@dataclass(frozen=True)
class Collected:
    """What ``pytest --collect-only ARGS`` found, and pytest's own output."""

    exit_code: int
    output: str
    items: tuple[Any, ...] = ()
    settings: Settings | None = None


def collect(args: Sequence[str]) -> tuple[Collected, Estimate | None, str | None]:
    """Collect ``args`` as pytest would (in this process, nothing run) and estimate it.
    Returns what collection found, the estimate (None when collection failed), and the
    problem that stopped the estimate, if any."""
    collector = _Collector()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = int(pytest.main(["--collect-only", "-q", *args], plugins=[collector]))
        except SystemExit as exc:  # argparse inside pytest: a bad pytest argument
            code = exc.code if isinstance(exc.code, int) else 4
    found = Collected(code, out.getvalue(), tuple(collector.items), collector.settings)
    if code not in (0, 5) or collector.settings is None:
        return found, None, None
    items = collector.items
    if collector.settings.shard is not None:
        # the metering session slices a run (--ragcost-shard); here none runs
        mine = in_shard([item.nodeid for item in items], collector.settings.shard)
        items = [item for item, kept in zip(items, mine, strict=True) if kept]
    try:
        check_items(items)
        est = estimate_items(items, collector.settings)
    except (EstimateError, MarkerError) as exc:
        return found, None, str(exc)
    return found, est, None
