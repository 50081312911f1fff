"""What a run would spend, before it spends it: ``ragcost estimate`` and
``--ragcost-max-usd``.

Collection (in :mod:`pytest_ragcost.preflight`, the pytest edge) finds the selected
scenarios with the marker's own parsing and turns each into a :class:`Planned`: its
scenario name, the marker's ``requests`` and ``warmup``, and, when the test hands
``ragcost.requests()`` a sequence defined at module level (``ragcost.requests(QUESTIONS)``),
those items themselves. Nothing of the pipeline runs.

:func:`estimate` prices each planned request from what earlier runs measured, in this
order:

1. the item's own figures in ``ragcost.items.json`` (the per-item baselines), matched by
   the item's id when the items are known;
2. the scenario's per-request mean: the per-item baselines' mean, else ragcost.yaml's
   ``stat: mean`` baselines, else the scenario's latest run in the history;
3. an item never measured whose text is known: its text counted offline with the
   scenario's tokenizer, plus what the scenario's measured items spend beyond their own
   text (prompt template, retrieved context, the answer), priced with the price table;
   its times are the measured items' mean;
4. otherwise the request is unknown, and every total says how many are.

Dollars come from the price table (:mod:`pytest_ragcost.prices`, with ragcost.yaml's
``prices:`` overrides) when the scenario's tokens were counted for one model the table
knows; otherwise from the dollars measured.
"""

from __future__ import annotations

import ast
import inspect
import math
import textwrap
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .budget.items import ItemStore
    from .budget.schema import Budget
    from .config import Settings
    from .history import LatestRun
    from .prices import PriceTable

#: the per-request figures an estimate adds up (times in ms, summed into seconds/minutes)
FIGURES = ("tokens_total", "cost_usd", "cpu_ms", "gpu_ms", "wall_ms")
#: item fields whose text goes into a prompt, in order of preference
TEXT_FIELDS = ("question", "query", "text", "prompt", "input")

How = Literal["measured", "counted", "unknown"]


class EstimateError(ValueError):
    """A file the estimate reads is broken; the message names it and the fix."""


@dataclass(frozen=True)
class Planned:
    """One selected scenario as collection sees it, before anything runs."""

    scenario: str
    nodeid: str
    #: the marker's ``requests``
    requests: int | None = None
    warmup: int = 0
    #: the items handed to ``ragcost.requests()`` when the test names a module-level
    #: sequence there (None: not known before the test runs)
    items: tuple[Any, ...] | None = None
    #: a literal ``n=`` of that call
    n: int | None = None
    #: a load level's fixed request count (marker ``load={'requests': N}``)
    load_requests: int | None = None


@dataclass(frozen=True)
class Sources:
    """What earlier runs left behind: the per-item baselines, ragcost.yaml, the history's
    latest run per scenario, and the price table."""

    items: ItemStore | None = None
    budget: Budget | None = None
    latest: Mapping[str, LatestRun] = field(default_factory=dict)
    prices: PriceTable | None = None
    #: why the history could not be read (said, never fatal)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScenarioEstimate:
    """One scenario's spend. Sums cover the requests whose figures are known; ``unknown``
    counts the others (None: not even the number of requests is known)."""

    scenario: str
    nodeid: str
    #: measured requests the run would make (None: unknown)
    requests: int | None
    requests_from: str
    warmup: int
    measured: int
    counted: int
    unknown: int | None
    tokens_total: float | None
    cost_usd: float | None
    cpu_s: float | None
    gpu_s: float | None
    wall_min: float | None
    #: where the figures came from, e.g. ``ragcost.items.json``, ``history``
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: the unknown requests priced at this scenario's known mean (None when there is none)
    cost_usd_unknown_at_mean: float | None = None


@dataclass(frozen=True)
class Estimate:
    scenarios: tuple[ScenarioEstimate, ...]
    notes: tuple[str, ...] = ()

    def total(self, name: str) -> float | None:
        values = [getattr(s, name) for s in self.scenarios if getattr(s, name) is not None]
        return sum(values) if values else None

    @property
    def requests(self) -> int:
        return sum((s.requests or 0) + s.warmup for s in self.scenarios)

    @property
    def unknown(self) -> int:
        """Requests of unknown cost (a scenario whose request count is unknown adds 0
        here and 1 to :attr:`unknown_scenarios`)."""
        return sum(s.unknown or 0 for s in self.scenarios)

    @property
    def unknown_scenarios(self) -> int:
        """Scenarios whose number of requests is unknown."""
        return sum(1 for s in self.scenarios if s.unknown is None)

    @property
    def complete(self) -> bool:
        return self.unknown == 0 and self.unknown_scenarios == 0

    def cost_usd_extrapolated(self) -> float | None:
        """The dollars if every unknown request cost its scenario's known mean (None
        when some cannot be extrapolated)."""
        total = self.total("cost_usd") or 0.0
        for s in self.scenarios:
            if s.unknown is None:
                return None
            if s.unknown:
                if s.cost_usd_unknown_at_mean is None:
                    return None
                total += s.cost_usd_unknown_at_mean
        return total


# -- what collection can see of a test's items ---------------------------------------------


@dataclass(frozen=True)
class CallSite:
    """The ``ragcost.requests(...)`` call of a test, as its source shows it."""

    items: tuple[Any, ...] | None
    n: int | None


def call_site(function: Callable[..., Any]) -> CallSite:
    """Read the test's one ``ragcost.requests(ITEMS, n=...)`` call from its source: the
    items when ITEMS names a module-level list or tuple (no ``id=``: the ids are then the
    items' content hashes), and a literal ``n``. Nothing is called."""
    unknown = CallSite(None, None)
    try:
        source = textwrap.dedent(inspect.getsource(function))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError, ValueError):
        return unknown
    calls = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        and node.func.attr == "requests" and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "ragcost"
    ]
    if len(calls) != 1:
        return unknown
    call = calls[0]
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    n_node = keywords.get("n", call.args[1] if len(call.args) > 1 else None)
    n = (
        n_node.value if isinstance(n_node, ast.Constant) and isinstance(n_node.value, int)
        and not isinstance(n_node.value, bool) and n_node.value >= 1 else None
    )
    if "id" in keywords or len(call.args) > 2 or not call.args:
        return CallSite(None, n)
    params = set(inspect.signature(function).parameters)
    value = _global(call.args[0], getattr(function, "__globals__", {}), params)
    if isinstance(value, list | tuple):
        return CallSite(tuple(value), n)
    return CallSite(None, n)


def _global(node: ast.expr, namespace: Mapping[str, Any], params: set[str]) -> Any:
    """The value of ``NAME`` or ``module.NAME`` in the test's module (None otherwise)."""
    if isinstance(node, ast.Name):
        if node.id in params:
            return None  # a fixture or a parameter: known only when the test runs
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _global(node.value, namespace, params)
        if isinstance(owner, types.ModuleType):
            return getattr(owner, node.attr, None)
    return None


def text_of(item: Any) -> str | None:
    """The text an item puts into a prompt: a string item, the first string of a tuple
    or list, else a ``question``/``query``/``text``/``prompt``/``input`` field."""
    if isinstance(item, str):
        return item
    if isinstance(item, list | tuple):
        for part in item:
            if isinstance(part, str):
                return part
        return None
    for name in TEXT_FIELDS:
        value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
        if isinstance(value, str):
            return value
    return None


# -- reading the sources --------------------------------------------------------------------


def load_sources(settings: Settings, history: bool = True) -> Sources:
    """Read the per-item baselines and ragcost.yaml beside them, the history's latest run
    of each scenario and the price table. A broken baseline file raises
    :class:`EstimateError`; an unreadable history is a note."""
    from .budget import BudgetError
    from .budget import load as load_budget
    from .budget.items import ItemStoreError, items_path, load_items
    from .prices import PriceTable

    path = settings.config_path
    budget = None
    items = None
    if path is not None and (path.exists() or path.is_symlink()):
        try:
            budget = load_budget(path)
        except BudgetError as exc:
            raise EstimateError(str(exc)) from None
    if path is not None:
        try:
            items = load_items(items_path(path))
        except ItemStoreError as exc:
            raise EstimateError(str(exc)) from None
    try:
        prices = PriceTable(budget.prices if budget is not None else None)
    except ValueError as exc:
        raise EstimateError(str(exc)) from None
    return Sources(items=items, budget=budget, prices=prices)


def with_history(sources: Sources, settings: Settings, scenarios: Sequence[str]) -> Sources:
    """``sources`` with the history's latest run of each scenario (a store that cannot be
    read is a note: the estimate goes on without it)."""
    from dataclasses import replace

    if settings.history is None or not scenarios:
        return sources
    if (
        not settings.history.startswith(("postgresql://", "postgres://"))
        and not Path(settings.history).is_file()
    ):
        return sources  # no history yet; opening it would create an empty store
    from .history import HistoryError, open_store
    from .redact import redact_text, secrets_in

    try:
        store = open_store(settings.history, Path(settings.history), project=settings.project)
    except HistoryError as exc:
        text = redact_text(str(exc), secrets_in(settings.history))
        return replace(sources, notes=(*sources.notes, f"history not read: {text}"))
    try:
        latest = store.latest(settings.project, scenarios)
    except Exception as exc:
        text = redact_text(f"{type(exc).__name__}: {exc}", secrets_in(settings.history))
        return replace(sources, notes=(*sources.notes, f"history not read: {text}"))
    finally:
        store.close()
    return replace(sources, latest=latest)


# -- the estimate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Means:
    """A scenario's per-request figures where no item's own are known."""

    values: Mapping[str, float]
    sources: Mapping[str, str]
    count: int | None
    count_from: str | None


def _means(name: str, sources: Sources) -> _Means:
    values: dict[str, float] = {}
    origin: dict[str, str] = {}
    count: int | None = None
    count_from: str | None = None
    stored = sources.items.get(name) if sources.items is not None else None
    if stored is not None and stored.metrics:
        for key in FIGURES:
            found = [m[key] for m in stored.metrics.values() if key in m]
            if found:
                values[key] = sum(found) / len(found)
                origin[key] = "ragcost.items.json"
        count, count_from = len(stored.metrics), "ragcost.items.json"
    scenario = sources.budget.scenarios.get(name) if sources.budget is not None else None
    if scenario is not None:
        for key in FIGURES:
            entry = scenario.entries.get(key)
            if (
                key not in values and entry is not None and entry.baseline is not None
                and entry.stat == "mean"
            ):
                values[key] = entry.baseline
                origin[key] = "ragcost.yaml"
        if count is None:
            ns = [e.n for e in scenario.entries.values() if e.n is not None]
            if ns:
                count, count_from = max(ns), "ragcost.yaml"
    latest = sources.latest.get(name)
    if latest is not None:
        for key in FIGURES:
            if key not in values and key in latest.means:
                values[key] = latest.means[key]
                origin[key] = "history"
        if count is None and latest.requests:
            count, count_from = latest.requests, "history"
    return _Means(values, origin, count, count_from)


class _Pricer:
    """Prices a request's tokens for the scenario's one model, when the table knows it."""

    def __init__(self, model: str | None, table: PriceTable | None) -> None:
        self.model = model
        self.table = table
        self.version: str | None = None
        self.problem: str | None = None

    def price(self, prompt: float, completion: float, cached: float = 0.0) -> float | None:
        if self.model is None or self.table is None or self.problem is not None:
            return None
        from .prices import UnknownModelPriceError

        try:
            price = self.table.price_of(
                self.model, (round(prompt), round(completion))
                if not cached else _usage(prompt, completion, cached)
            )
        except (UnknownModelPriceError, ValueError) as exc:
            self.problem = str(exc)
            return None
        self.version = price.table_version
        return price.usd


def _usage(prompt: float, completion: float, cached: float) -> Any:
    from .prices import TokenUsage

    p = max(0, round(prompt))
    return TokenUsage(p, max(0, round(completion)), min(p, max(0, round(cached))))


def _planned_count(plan: Planned, cap: int | None, means: _Means) -> tuple[int | None, str]:
    """How many measured requests the run makes, and what says so."""
    limits = [(v, w) for v, w in ((plan.n, "ragcost.requests(n=)"),
                                  (plan.requests, "marker"),
                                  (plan.load_requests, "marker load")) if v is not None]
    limit: tuple[int, str] | None = limits[0] if limits else None
    if cap is not None and (limit is None or cap < limit[0]):
        limit = (cap, "--ragcost-requests")
    if plan.items is not None:
        if limit is None or len(plan.items) <= limit[0]:
            return len(plan.items), "the test's items"
        return limit
    if limit is not None:
        return limit
    if means.count is not None:
        return means.count, f"as measured ({means.count_from})"
    return None, "unknown"


def estimate(
    planned: Sequence[Planned],
    sources: Sources,
    *,
    cap: int | None = None,
    metering: bool = True,
    count_tokens: Callable[[str, str | None], int] | None = None,
) -> Estimate:
    """What running ``planned`` would spend. ``cap`` is ``--ragcost-requests``;
    ``metering`` says whether warm-up requests run (they run only under ``--ragcost``);
    ``count_tokens(text, model)`` counts an unmeasured item's text (default: the
    plugin's offline counter)."""
    if count_tokens is None:
        from .record.tokens import default_counter

        counter = default_counter()

        def count_tokens(text: str, model: str | None) -> int:
            return counter.count(text, model).tokens

    counted_by = count_tokens
    return Estimate(
        tuple(_scenario(p, sources, cap, metering, counted_by) for p in planned),
        sources.notes,
    )


def _scenario(
    plan: Planned,
    sources: Sources,
    cap: int | None,
    metering: bool,
    count_tokens: Callable[[str, str | None], int],
) -> ScenarioEstimate:
    means = _means(plan.scenario, sources)
    latest = sources.latest.get(plan.scenario)
    # one model for every counted token, or no re-pricing (a stage without a model is
    # not priced by the run either)
    model: str | None = None
    if latest is not None and len(latest.models) == 1:
        model = latest.models[0] or None
    pricer = _Pricer(model, sources.prices)
    used: dict[str, None] = {}
    notes: list[str] = []
    count, count_from = _planned_count(plan, cap, means)
    warmup = plan.warmup if metering else 0
    if count is None:
        notes.append("never measured and its number of requests is not known before it "
                     "runs: run it once, e.g. with --ragcost-requests=2")
        return ScenarioEstimate(plan.scenario, plan.nodeid, None, count_from, warmup,
                                0, 0, None, None, None, None, None, None, (), tuple(notes))
    stored = sources.items.get(plan.scenario) if sources.items is not None else None
    per_item = dict(stored.metrics) if stored is not None else {}
    rows: list[tuple[How, Mapping[str, float]]] = []
    keyed = _keyed(plan.items) if plan.items and per_item else None
    if keyed is not None:
        # warm-up requests take the first items again (cycling), then the measured ones run
        warm = [keyed[i % len(keyed)] for i in range(warmup)]
        overhead = _overhead(keyed[:count], per_item, count_tokens, model)
        for item_id, item in [*warm, *keyed[:count]]:
            rows.append(_item_row(item_id, item, per_item, means, overhead, pricer,
                                  count_tokens, model, used))
    else:
        rows = [_mean_row(means, used) for _ in range(warmup + count)]
        if per_item and count > len(per_item):
            extra = count - len(per_item)
            rows = rows[: warmup + len(per_item)] + [("unknown", {})] * extra
            notes.append(f"{extra} of its {count} requests go beyond the {len(per_item)} "
                         "items ever measured, and its items are not known before it runs")
    if pricer.problem is not None:
        notes.append(f"dollars as measured: {pricer.problem}")
    elif pricer.version is not None:
        used[f"prices {pricer.version}"] = None
    return _sum(plan, count, count_from, warmup, rows, tuple(used), tuple(notes))


def _keyed(items: Sequence[Any]) -> list[tuple[str, Any]] | None:
    """Each item with the id a run gives it (None when an item has no stable id)."""
    from .record.item_id import ItemIdError, ItemIds

    ids = ItemIds()
    try:
        return [(ids.next(item)[0], item) for item in items]
    except ItemIdError:
        return None


def _mean_row(means: _Means, used: dict[str, None]) -> tuple[How, Mapping[str, float]]:
    if "tokens_total" not in means.values and "cost_usd" not in means.values:
        return "unknown", {}
    for src in means.sources.values():
        used[src] = None
    return "measured", means.values


def _overhead(
    keyed: Sequence[tuple[str, Any]],
    per_item: Mapping[str, Mapping[str, float]],
    count_tokens: Callable[[str, str | None], int],
    model: str | None,
) -> dict[str, float] | None:
    """What a measured item spends beyond its own text, on average: prompt tokens,
    completion tokens, times (None when no item with a known text was measured)."""
    rows: list[dict[str, float]] = []
    for item_id, item in keyed:
        figures = per_item.get(item_id)
        text = text_of(item)
        if figures is None or text is None or "tokens_total" not in figures:
            continue
        own = float(count_tokens(text, model))
        row = {"tokens_total": figures["tokens_total"] - own}
        if "tokens_prompt" in figures:
            row["tokens_prompt"] = figures["tokens_prompt"] - own
        for key in ("tokens_completion", "cpu_ms", "gpu_ms", "wall_ms"):
            if key in figures:
                row[key] = figures[key]
        if "cost_usd" in figures and figures["tokens_total"] > 0:
            row["usd_per_token"] = figures["cost_usd"] / figures["tokens_total"]
        rows.append(row)
    if not rows:
        return None
    keys = {k for r in rows for k in r}
    return {k: sum(r[k] for r in rows if k in r) / sum(1 for r in rows if k in r) for k in keys}


def _item_row(
    item_id: str,
    item: Any,
    per_item: Mapping[str, Mapping[str, float]],
    means: _Means,
    overhead: Mapping[str, float] | None,
    pricer: _Pricer,
    count_tokens: Callable[[str, str | None], int],
    model: str | None,
    used: dict[str, None],
) -> tuple[How, Mapping[str, float]]:
    figures = per_item.get(item_id)
    if figures is not None:
        used["ragcost.items.json"] = None
        row = {k: figures[k] for k in FIGURES if k in figures}
        if "tokens_prompt" in figures and "tokens_completion" in figures:
            usd = pricer.price(figures["tokens_prompt"], figures["tokens_completion"],
                               figures.get("tokens_cached_prompt", 0.0))
            if usd is not None:
                row["cost_usd"] = usd
        for key, value in means.values.items():  # a figure the item lacks: the mean
            if key not in row:
                row[key] = value
                used[means.sources[key]] = None
        return "measured", row
    text = text_of(item)
    if text is None or overhead is None or "tokens_total" not in overhead:
        return "unknown", {}
    own = float(count_tokens(text, model))
    row = {"tokens_total": own + overhead["tokens_total"]}
    usd = None
    if "tokens_prompt" in overhead and "tokens_completion" in overhead:
        usd = pricer.price(own + overhead["tokens_prompt"], overhead["tokens_completion"])
    if usd is None and "usd_per_token" in overhead:
        usd = overhead["usd_per_token"] * row["tokens_total"]
    if usd is not None:
        row["cost_usd"] = usd
    for key in ("cpu_ms", "gpu_ms", "wall_ms"):
        if key in overhead:
            row[key] = overhead[key]
    used["offline token count"] = None
    return "counted", row


def _sum(
    plan: Planned,
    count: int,
    count_from: str,
    warmup: int,
    rows: Sequence[tuple[How, Mapping[str, float]]],
    used: tuple[str, ...],
    notes: tuple[str, ...],
) -> ScenarioEstimate:
    known = [r for how, r in rows if how != "unknown"]

    def total(key: str, scale: float = 1.0) -> float | None:
        values = [r[key] for r in known if key in r and math.isfinite(r[key])]
        return sum(values) / scale if values else None

    unknown = sum(1 for how, _ in rows if how == "unknown")
    cost = total("cost_usd")
    priced = sum(1 for r in known if "cost_usd" in r)
    at_mean = cost / priced * unknown if cost is not None and priced else None
    return ScenarioEstimate(
        scenario=plan.scenario,
        nodeid=plan.nodeid,
        requests=count,
        requests_from=count_from,
        warmup=warmup,
        measured=sum(1 for how, _ in rows if how == "measured"),
        counted=sum(1 for how, _ in rows if how == "counted"),
        unknown=unknown,
        tokens_total=total("tokens_total"),
        cost_usd=cost,
        cpu_s=total("cpu_ms", 1000.0),
        gpu_s=total("gpu_ms", 1000.0),
        wall_min=total("wall_ms", 60_000.0),
        sources=used,
        notes=notes,
        cost_usd_unknown_at_mean=at_mean if unknown else None,
    )


# -- the cap ----------------------------------------------------------------------------------


def over_cap(total: Mapping[str, Any], cap_usd: float) -> str | None:
    """Why a run may not start under ``--ragcost-max-usd`` (None: it may), from the
    ``total`` of an estimate's JSON (:func:`to_json`). Requests of unknown cost refuse it
    too: a cap that lets through what it cannot price is no cap."""
    known = float(total.get("cost_usd") or 0.0)
    if known > cap_usd:
        return (f"the run is estimated at {money(known)}, over --ragcost-max-usd="
                f"{money(cap_usd)} ({total.get('requests')} requests, "
                f"{_whole(total.get('tokens_total'))} tokens); run fewer requests "
                "(--ragcost-requests=N, -k) or raise the cap; `ragcost estimate` shows the "
                "scenarios")
    if not total.get("complete"):
        parts = []
        if total.get("unknown_requests"):
            parts.append(f"{total['unknown_requests']} request(s) of unknown cost")
        if total.get("unknown_scenarios"):
            parts.append(f"{total['unknown_scenarios']} scenario(s) whose number of "
                         "requests is unknown")
        extrapolated = total.get("cost_usd_extrapolated")
        guess = (f"; at their scenarios' measured mean the run would cost about "
                 f"{money(float(extrapolated))}" if extrapolated is not None else "")
        return (f"the run's estimate is incomplete: {money(known)} known, plus "
                f"{' and '.join(parts)} (never measured){guess}; --ragcost-max-usd="
                f"{money(cap_usd)} cannot be checked. Measure them once without the cap "
                "(e.g. pytest --ragcost --ragcost-update), or run without --ragcost-max-usd")
    return None


def money(value: float) -> str:
    """Dollars as a person reads them: ``$12.50``, ``$0.0000812`` (three significant
    digits below a cent, never an exponent)."""
    if not math.isfinite(value) or value == 0:
        return f"${value:g}"
    if abs(value) >= 0.01:
        return f"${value:,.2f}"
    digits = 2 - math.floor(math.log10(abs(value)))
    return "$" + f"{value:.{digits}f}".rstrip("0").rstrip(".")


def _whole(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.0f}"


# -- rendering --------------------------------------------------------------------------------


def _cell(value: float | None, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "usd":
        return money(value)
    if kind == "tokens":
        return f"{value:,.0f}"
    return f"{value:.3g}"


def text(est: Estimate) -> str:
    """The terminal table: one row per scenario and a total."""
    from .report.fmt import shown

    head = ("scenario", "requests", "unknown", "tokens_total", "cost_usd", "cpu_s", "gpu_s",
            "wall_min", "from")
    rows: list[tuple[str, ...]] = []
    for s in est.scenarios:
        rows.append((
            shown(s.scenario),
            "?" if s.requests is None else f"{s.requests}" + (f"+{s.warmup}w" if s.warmup
                                                             else ""),
            "all" if s.unknown is None else str(s.unknown),
            _cell(s.tokens_total, "tokens"), _cell(s.cost_usd, "usd"),
            _cell(s.cpu_s, "s"), _cell(s.gpu_s, "s"), _cell(s.wall_min, "min"),
            ", ".join(s.sources) or "-",
        ))
    unknown = str(est.unknown) + (f" (+{est.unknown_scenarios} scenario(s))"
                                  if est.unknown_scenarios else "")
    rows.append(("total", str(est.requests), unknown,
                 _cell(est.total("tokens_total"), "tokens"), _cell(est.total("cost_usd"), "usd"),
                 _cell(est.total("cpu_s"), "s"), _cell(est.total("gpu_s"), "s"),
                 _cell(est.total("wall_min"), "min"), ""))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [head, tuple("-" * w for w in widths), *rows]]
    for s in est.scenarios:
        for note in s.notes:
            lines.append(f"note: {shown(s.scenario)}: {note}")
    for note in est.notes:
        lines.append(f"note: {note}")
    if not est.complete:
        extrapolated = est.cost_usd_extrapolated()
        lines.append(
            f"unknown: {est.unknown} request(s)"
            + (f" and {est.unknown_scenarios} scenario(s)" if est.unknown_scenarios else "")
            + " never measured: the totals leave them out"
            + ("" if extrapolated is None else
               f" (at their scenarios' mean: {_cell(extrapolated, 'usd')} in all)")
        )
    return "\n".join(lines) + "\n"


ESTIMATE_SCHEMA_VERSION = 1


def to_json(est: Estimate) -> dict[str, Any]:
    """The document ``ragcost estimate --json`` prints (docs/cli.md lists its fields)."""

    def scenario(s: ScenarioEstimate) -> dict[str, Any]:
        return {
            "scenario": s.scenario, "nodeid": s.nodeid, "requests": s.requests,
            "requests_from": s.requests_from, "warmup_requests": s.warmup,
            "measured_requests": s.measured, "counted_requests": s.counted,
            "unknown_requests": s.unknown, "tokens_total": s.tokens_total,
            "cost_usd": s.cost_usd, "cpu_s": s.cpu_s, "gpu_s": s.gpu_s,
            "wall_min": s.wall_min, "sources": list(s.sources), "notes": list(s.notes),
        }

    return {
        "schema_version": ESTIMATE_SCHEMA_VERSION,
        "scenarios": [scenario(s) for s in est.scenarios],
        "total": {
            "requests": est.requests,
            "unknown_requests": est.unknown,
            "unknown_scenarios": est.unknown_scenarios,
            "complete": est.complete,
            "tokens_total": est.total("tokens_total"),
            "cost_usd": est.total("cost_usd"),
            "cost_usd_extrapolated": est.cost_usd_extrapolated(),
            "cpu_s": est.total("cpu_s"),
            "gpu_s": est.total("gpu_s"),
            "wall_min": est.total("wall_min"),
        },
        "notes": list(est.notes),
    }
