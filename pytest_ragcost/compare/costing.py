"""``cost_usd``: dollars per request from the tokens each stage recorded and the model it named.

A stage is priced when the test named its model (``st.tokens(model=...)`` or provider
usage that carries one) and recorded prompt or completion tokens. A model with no
known price leaves the request without a ``cost_usd`` (never a silent zero) and says
which model, and how to price it, in the run's notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from ..run import RequestRecord, ScenarioRun, StageRecord

if TYPE_CHECKING:
    from ..prices import ModelRates


def add_costs(
    run: ScenarioRun, overrides: Mapping[str, ModelRates] | None = None
) -> tuple[ScenarioRun, dict[str, str], set[str]]:
    """The run with ``cost_usd`` on priced stages and requests, notes per unpriced model,
    and the price-table versions used (also each request's ``cost_usd`` source). Pricing a
    priced run again gives the same figures."""
    from ..prices import PriceTable, TokenUsage, UnknownModelPriceError

    if not any(st.model for req in run.requests for st in req.stages):
        return run, {}, set()
    table = PriceTable(overrides or {})
    notes: dict[str, str] = {}
    versions: set[str] = set()
    requests: list[RequestRecord] = []
    for req in run.requests:
        stages: list[StageRecord] = []
        total = 0.0
        used: set[str] = set()
        complete = True
        priced_any = False
        for st in req.stages:
            prompt = int(st.metrics.get("tokens_prompt", 0))
            completion = int(st.metrics.get("tokens_completion", 0))
            if st.model is None or not (prompt or completion):
                stages.append(st)
                continue
            cached = min(prompt, int(st.metrics.get("tokens_cached_prompt", 0)))
            try:
                price = table.price_of(st.model, TokenUsage(prompt, completion, cached))
            except (UnknownModelPriceError, ValueError) as exc:
                notes[st.model] = str(exc)
                complete = False
                stages.append(st)
                continue
            versions.add(price.table_version)
            used.add(price.table_version)
            priced_any = True
            total += price.usd
            stages.append(
                replace(
                    st,
                    metrics={**st.metrics, "cost_usd": price.usd},
                    sources={**st.sources, "cost_usd": price.table_version},
                )
            )
        if priced_any and complete:
            req = replace(
                req,
                metrics={**req.metrics, "cost_usd": total},
                # the price table's version is the figure's source: a baseline priced with
                # another table is not comparable (a price change must not fail CI)
                sources={**req.sources, "cost_usd": "; ".join(sorted(used))},
                stages=tuple(stages),
            )
        else:
            req = replace(req, stages=tuple(stages))
        requests.append(req)
    return replace(run, requests=tuple(requests)), notes, versions
