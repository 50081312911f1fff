"""The sentences of verdicts: written here, and only here, from a verdict's reason codes
and figures (:mod:`pytest_ragcost.compare.rules` decides; this module explains).

``sentence(verdict)`` is what a failed test, the terminal, the Markdown, the HTML and the
JSON's ``message`` field say about a verdict, e.g.
``generate.tokens_context: 3414 vs baseline 3104 (+310, +10.0%) over tolerance 5% (n=30)``.
``short(verdict)`` is its first clause, for a table cell.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..run import HIGHER_IS_BETTER, Verdict, metric_class, split_key
from ..run.model import BetweenRun, Finding, LookFigures
from ..run.reasons import REASONS
from .fmt import bound, interval, num, pct, shown, signed, within_range

__all__ = ["describe_noise", "hints", "second_look_text", "sentence", "short"]

UPDATE_HINT = "run `pytest --ragcost --ragcost-update` to lock in the saving"
_MORE_REQUESTS = "run more requests to tell noise from a regression"
_MORE_RUNS = (
    "whole runs shift more than this run's own noise: more runs of this commit in the "
    "history, or a same-job A/B, tell noise from a regression"
)
_NOISE_TOO_LARGE = "noise too large to tell; more requests narrow the interval"
_RESETUP = "re-run `--ragcost-update` on this setup"

_ODD_NAMES: Mapping[str, str] = {
    "current": "the current value",
    "current_se": "its standard error",
    "baseline": "the baseline",
    "baseline_se": "the baseline's se",
    "budget": "the budget",
}


def describe_noise(noise: BetweenRun) -> str:
    """How a verdict names the between-run noise it used."""
    if noise.source == "prior":
        return (
            f"between-run noise {noise.sd * 100:.3g}% (prior: {noise.runs} earlier run(s) "
            "here, too few to estimate it)"
        )
    return (
        f"between-run noise {noise.sd * 100:.3g}% (from {noise.runs} earlier runs here, "
        f"with the {noise.prior_cv * 100:g}% prior)"
    )


def _metric(v: Verdict) -> str:
    try:
        return split_key(v.key)[1]
    except ValueError:
        return v.key


def _higher_better(v: Verdict) -> bool:
    metric = _metric(v)
    return metric in HIGHER_IS_BETTER or metric_class(metric) == "quality" or v.basis == "samples"


def _label(v: Verdict) -> str:
    return v.key if v.stat == "mean" else f"{v.key} ({v.stat})"


def _unit(v: Verdict) -> str:
    return " req/s" if _metric(v) == "throughput_rps" else ""


def _counts(v: Verdict) -> str:
    if v.basis == "items" and v.items is not None and v.items.shared:
        return f"(paired over {v.n} of {v.items.of} {v.items.side} items)" if (
            metric_class(_metric(v)) in ("noisy", "unknown")
        ) else f"(n={v.n})"
    if v.basis == "rounds" and v.rounds is not None:
        items = v.items.shared if v.items is not None else 0
        return f"({v.rounds} rounds x {items} items, paired)"
    noisy = metric_class(_metric(v)) in ("noisy", "unknown")
    if noisy and v.baseline is not None and v.baseline_n is not None and v.basis == "run":
        return f"(n={v.n}, baseline n={v.baseline_n})"
    return f"(n={v.n})"


def _head(v: Verdict) -> str:
    head = f"{_label(v)}: {_shown_num(v.current)}{_unit(v)}"
    if v.baseline is not None and v.current is not None:
        change = v.current - v.baseline
        head += (f" vs baseline {num(v.baseline)}{_unit(v)} "
                 f"({signed(change)}, {pct(change, v.baseline)})")
    return head


def _shown_num(x: float | None) -> str:
    return "n/a" if x is None else num(x)


def _ci(v: Verdict) -> str:
    if v.interval is None or v.confidence is None:
        return ""
    low, high = v.interval
    text = (f"{v.confidence * 100:g}% CI of change "
            f"{interval(low, high, v.key, v.baseline if v.baseline is not None else 0.0)}")
    if v.noise is not None:
        text += f" incl. {describe_noise(v.noise)}"
    return text


def _few(v: Verdict, reason: str) -> str:
    if reason in ("max_not_evidence",):
        return (f"the {v.stat} of a noisy metric is one request, not evidence; "
                "gate p95 instead or cap it with a budget")
    from ..compare.rules import min_requests

    need = min_requests(v.stat) or 0
    ran = min((n for n in (v.n, v.baseline_n if v.basis == "run" else None) if n is not None),
              default=0)
    return f"its {v.stat} needs at least {need} requests to be gated on evidence ({ran} ran)"


def _clause(v: Verdict, f: Finding) -> tuple[str, str | None]:
    """One finding's clause and its hint."""
    tol = v.tolerance or ""
    higher = _higher_better(v)
    ci = _ci(v)
    more = _MORE_RUNS if (v.noise is not None and _noise_dominates(v)) else _MORE_REQUESTS
    worse = "fell by more than" if higher else "above"
    r = f.reason
    if r == "over_tolerance":
        word = f"fell by more than tolerance {tol}" if higher else f"over tolerance {tol}"
        return (f"{word}, {ci}" if ci else word), None
    if r == "fell":
        word = (f"rose by more than tolerance {tol}" if higher
                else f"fell by more than tolerance {tol}")
        hint = "run with --ragcost-update to raise the baseline" if higher else UPDATE_HINT
        return (f"{word}, {ci}" if ci else word), hint
    if r == "within_tolerance":
        return (f"within tolerance {tol}, {ci}" if ci else f"within tolerance {tol}"), None
    if r == "one_request_over":
        return f"{worse} tolerance {tol} but one request gives no estimate of the noise", more
    if r == "one_request_fell":
        return f"fell by more than tolerance {tol} (one request, no noise estimate)", None
    if r == "one_request_within":
        return f"within tolerance {tol} (one request)", None
    if r in ("too_few_requests", "max_not_evidence"):
        return f"{worse} tolerance {tol} but {_few(v, r)}, {ci}", more
    if r == "within_noise":
        return (f"{worse} tolerance {tol} but within the noise, {ci}",
                more if more is _MORE_RUNS else _NOISE_TOO_LARGE)
    if r == "below_noise_floor":
        level = "99.5%"
        what = "runs" if v.noise is not None else "requests"
        return (f"{worse} tolerance {tol}, {ci}, but a rise this size is within the noise of "
                f"so few {what} ({level} bound below no change)"), more
    if r == "source_unavailable":
        which = "current run" if v.source == "unavailable" else "baseline"
        return f"not comparable: no measurement in the {which} (source 'unavailable')", _RESETUP
    if r == "source_changed":
        return (f"not comparable: {v.source} now vs {v.baseline_source} in the baseline",
                _RESETUP)
    if r == "other_environment":
        return "not comparable: measured on another machine or meter than the baseline", _RESETUP
    return _budget_clause(v, f, more)


def _noise_dominates(v: Verdict) -> bool:
    return bool(v.figures.get("noise_dominates", 0.0))


def _budget_clause(v: Verdict, f: Finding, more: str) -> tuple[str, str | None]:
    if v.budget is None:
        return REASONS.get(f.reason, f.reason), None
    b = v.budget
    unit = _unit(v)
    r = f.reason
    if _higher_better(v):
        if r == "within_budget":
            return f"at or above the floor {num(b)}{unit}", None
        if r == "over_budget":
            return f"below the floor {num(b)}{unit}", None
        return f"below the floor {num(b)}{unit} but within the noise", _NOISE_TOO_LARGE
    c = v.current if v.current is not None else b
    over = f"over budget {num(b)} ({signed(c - b)}, {pct(c - b, b)})"
    level = f"{(v.confidence or 0.90) * 100:g}%"
    if r == "within_budget":
        return f"within budget {num(b)}", None
    if r == "over_budget":
        if f.bound is not None:
            return f"{over}, {level} CI lower end {bound(f.bound, v.key)}", None
        return over, None
    if r == "over_budget_one_request":
        return f"{over} but one request gives no estimate of the noise", more
    if r == "over_budget_too_few":
        return f"{over} but {_few(v, 'too_few_requests')}", more
    if r == "over_budget_within_noise":
        low = f", {level} CI lower end {bound(f.bound, v.key)}" if f.bound is not None else ""
        return f"{over} but within the noise{low}", _NOISE_TOO_LARGE
    return REASONS.get(r, r), None


def hints(v: Verdict) -> list[str]:
    """What the user can do, one hint per kind (for findings that are not plain PASS)."""
    out: dict[str, None] = {}
    for f in v.findings:
        _, hint = _clause(v, f)
        if hint is not None and (f.status != "PASS" or f.improved):
            out.setdefault(_for_rounds(v, hint), None)
    return list(out)


def _for_rounds(v: Verdict, text: str) -> str:
    if v.basis != "rounds":
        return text
    return text.replace("more requests narrow", "more rounds narrow").replace(
        "run more requests", "run more rounds (--ragcost-ab-rounds)"
    )


def sentence(v: Verdict) -> str:
    """The whole explanation of one verdict, one line."""
    text = _special(v)
    if text is None:
        text = _compared(v)
    if v.status == "WARN":
        text += " [severity: warn]"
    return text + second_look_text(v)


def _look(v: Verdict, look: LookFigures) -> str:
    text = _shown_num(look.current)
    if look.current is not None and v.baseline is not None:
        text += f" ({pct(look.current - v.baseline, v.baseline)})"
    if look.interval is not None:
        text += f", change [{signed(look.interval[0])}, {signed(look.interval[1])}]"
    return text + (f", n={look.n}" if look.n is not None else "")


def second_look_text(v: Verdict) -> str:
    """``; confirmed by a second look (...)`` or ``; cleared by ...``: what measuring the
    scenario again found, empty when it was not measured again."""
    look = v.second_look
    if look is None:
        return ""
    if look.result == "skipped" or look.second is None:
        return f"; not measured again: {look.why or 'no second measurement'}"
    took = f"measured again in {look.seconds:.1f} s"
    if look.result == "confirmed":
        return f"; confirmed by a second look: {_look(v, look.second)} ({took})"
    return (f"; cleared by a second look ({took}): the first measured {_look(v, look.first)} "
            f"and failed; the second did not")


def short(v: Verdict) -> str:
    """The deciding clause alone (a table cell; ``sentence`` has the rest)."""
    special = _special(v)
    if special is not None:
        first = special.split("; ")[0]
        return first if len(first) <= 120 else first[:117] + "..."
    worst_f = next((f for f in v.findings if f.reason == v.reason), None)
    if worst_f is None:
        return v.reason
    return _for_rounds(v, _clause(v, worst_f)[0].split(", 9")[0])


def _compared(v: Verdict) -> str:
    clauses = [_for_rounds(v, _clause(v, f)[0]) for f in v.findings]
    text = f"{_head(v)} {'; '.join(clauses)} {_counts(v)}"
    if v.items is not None and v.basis in ("items", "rounds") and (
        metric_class(_metric(v)) in ("exact", "derived")
    ):
        text += f" [{v.items.shared} of {v.items.of} {v.items.side} items]"
        moved = moved_items(v)
        if moved and v.status != "INCOMPARABLE":
            text += f": {moved}"
    found = hints(v)
    if found:
        text += ": " + "; ".join(found)
    if "detectable" in v.figures:
        text += f"; {power_note(v)}"
    return text


def moved_items(v: Verdict) -> str:
    """``item 'label': key 261 → 524; ...``, largest rise first."""
    if v.items is None:
        return ""
    parts = [f"item {m.label!r}: {v.key} {num(m.baseline)} → {num(m.current)}"
             for m in v.items.moved]
    rest = v.items.moved_count - len(v.items.moved)
    if rest > 0:
        parts.append(f"{rest} more item(s) moved")
    return "; ".join(parts)


def _special(v: Verdict) -> str | None:
    """The sentence of a verdict that is not a comparison of two numbers, else None."""
    r = v.reason
    label = _label(v)
    if r == "recorded":
        return v.note or ""
    if r == "no_baseline":
        return (f"{label}: {_shown_num(v.current)}{_unit(v)} (n={v.n}), no baseline yet; "
                "run `pytest --ragcost --ragcost-update` to record one")
    if r == "not_produced":
        return (f"{shown(v.scenario)} {label}: in ragcost.yaml but no test produced it; "
                "remove the entry or restore its test")
    if r == "vanished":
        stage, _ = split_key(v.key) if "." in v.key else (None, v.key)
        why = f"stage {stage!r} did not run" if stage is not None else (
            "the figure was not recorded")
        return (f"{v.key}: the scenario ran but produced no {v.key} ({why}); rename or "
                "remove the entry in ragcost.yaml, or restore what produced it")
    if r == "no_load_level":
        return (f"{shown(v.scenario)} {v.key}: in ragcost.yaml but this scenario ran no load "
                "level; throughput_rps is measured by ragcost.load()")
    if r == "scenario_not_run":
        return (f"scenario {shown(v.scenario)!r} is in {v.note or 'ragcost.yaml'} but no test "
                "produced it; remove it or fix the marker's scenario name")
    if r == "request_count":
        return (f"{v.key}: the baseline covers {v.baseline_n} requests, this run {v.n}; exact "
                f"metrics compare the same requests: run with --ragcost-requests="
                f"{v.baseline_n} or re-bless at this count")
    if r == "no_overlap":
        side = v.items.side if v.items is not None else "baseline"
        of = v.items.of if v.items is not None else 0
        mine = int(v.figures.get("current_items", 0))
        return (f"{v.key}: none of this run's {mine} items is among the {of} items of the "
                f"{side}; run the items the {side} has, or re-bless with --ragcost-update")
    if r == "no_item_ids":
        return (f"{v.key}: requests carry no item ids on one side (an older pytest-ragcost); "
                "nothing to pair")
    if r == "nothing_to_pair":
        return (f"{v.key}: no item has a positive value on both sides in any round; "
                "nothing to pair")
    if r == "unpriced":
        return f"{v.key}: cannot be priced: {v.note or ''}"
    if r == "unscored":
        if v.key == "quality":
            return f"quality could not be scored: {v.note or ''}"
        return f"{v.key}: could not be scored: {v.note or ''}"
    if r in ("not_finite", "too_large", "baseline_near_zero"):
        return f"{_head(v)} cannot be compared: {_odd(v)} {_counts(v)}"
    if r == "arithmetic":
        return (f"{_head(v)} cannot be compared: the numbers are too far apart to compute an "
                f"interval ({v.note}); re-bless the baseline with --ragcost-update {_counts(v)}")
    if v.basis == "samples":
        return _quality(v)
    return None


def _odd(v: Verdict) -> str:
    which = v.note or "current"
    value = {"current": v.current, "baseline": v.baseline, "budget": v.budget}.get(which)
    name = _ODD_NAMES.get(which, which)
    if v.reason == "baseline_near_zero":
        return (f"the baseline ({num(v.baseline or 0.0)}) is too close to zero for a change to "
                "be measured against it (write 0 or at least 1e-12)")
    if v.reason == "not_finite":
        return f"{name} is {value if value is not None else 'not finite'} (not a finite number)"
    from ..compare.rules import MAX_MAGNITUDE

    shown_value = f" ({num(value)})" if value is not None else ""
    return f"{name}{shown_value} is beyond {MAX_MAGNITUDE:g}"


def _quality(v: Verdict) -> str:
    """A quality metric's verdict: paired per-sample scores against their baselines."""
    r = v.reason
    extra = ""
    only_c = int(v.figures.get("only_current", 0))
    only_b = int(v.figures.get("only_baseline", 0))
    if only_c:
        extra += f"; {only_c} sample(s) not in the baseline (not gated)"
    if only_b:
        extra += f"; {only_b} baseline sample(s) not produced this run"
    notes = f"; {v.note}" if v.note else ""
    if r == "judge_changed":
        return (f"{v.key}: the baseline was judged by {v.baseline_source!r}, this run by "
                f"{v.source!r}; re-bless with --ragcost-update to compare again")
    if r == "judge_misses":
        return (f"{v.key}: {int(v.figures.get('misses', 0))} sample(s) changed since the judge "
                f"record and have no recorded judgement ({v.note}); re-record with a live "
                "judge, or set on_judge_miss: skip")
    if r == "quality_unknown":
        return (f"{v.key}: quality unknown for {int(v.figures.get('unknown', 0))} sample(s) "
                f"({v.note})")
    if r == "no_sample_baseline":
        mean = "n/a" if v.current is None else f"{v.current:.4f}"
        return (f"{v.key}: no per-sample baseline yet (current mean {mean}, n={v.n}); run "
                f"--ragcost-update to record one{notes}")
    if r == "no_paired_samples":
        return f"{v.key}: no sample pairs with a baseline score (n=0){extra}{notes}"
    b = v.baseline if v.baseline is not None else 0.0
    c = v.current if v.current is not None else 0.0
    d = c - b
    allowed = float(v.figures.get("allowed", 0.0))
    head = (f"{v.key}: baseline {b:.4f}, current {c:.4f} "
            f"(change {d:+.4f}, {_qpct(d, b)}), ")
    level = f"{(1.0 - (1.0 - (v.confidence or 0.9)) / 2.0) * 100:g}%"
    if v.interval is None:
        bound_text = "no confidence bound with n=1; "
    else:
        upper = v.interval[1]
        upper = within_range(upper, v.key, b)
        bound_text = f"{level} upper bound on change {upper:+.4f} ({_qpct(upper, b)}), "
    tail = f"allowed drop {v.tolerance} = {allowed:.4f}, n={v.n}{extra}"
    why = {
        "over_tolerance": f"dropped more than allowed at {level} confidence",
        "within_noise": "the mean dropped more than allowed but the evidence is too noisy to tell",
        "one_request_over": "the mean dropped more than allowed but the evidence is too noisy "
        "to tell",
    }.get(r, "within the allowed drop")
    text = f"{head}{bound_text}{tail}: {why}"
    if "detectable" in v.figures:
        text += f"; {power_note(v)}"
    if v.budget is not None and any(f.reason == "over_budget" for f in v.findings):
        mean_all = v.figures.get("mean", c)
        text = f"{v.key}: mean {mean_all:.4f} is below its floor {v.budget:g}; {text}"
    return text + notes


def _qpct(x: float, of: float) -> str:
    return f"{x / abs(of) * 100:+.2f}%" if of else "n/a"


def power_note(v: Verdict) -> str:
    """What an under-powered gate can see: the smallest worsening it catches with 80%
    power at this n, and the n at which it would catch the change its tolerance allows
    (the figures of :func:`pytest_ragcost.compare.power.power_figures`)."""
    mde = v.figures["detectable"]
    relative = (v.tolerance or "").endswith("%") and bool(v.baseline)
    if v.basis == "samples":
        size = f"{mde / abs(v.baseline or 1.0) * 100:.1f}%" if relative else f"{mde:.4f}"
        text = (
            f"gate under-powered: n={v.n} detects drops of {size} or more (sd of per-sample "
            f"changes {v.figures.get('sd_change', 0.0):.4f}, allowed drop {v.tolerance}); "
        )
        noun, change = "samples", "drop"
    else:
        size = f"{mde / abs(v.baseline or 1.0) * 100:.1f}%" if relative else num(mde)
        change = "fall" if _higher_better(v) else "rise"
        noun = "items" if v.basis == "items" else "requests"
        text = (f"gate under-powered: n={v.n} detects {change}s of {size} or more "
                f"(allowed {change} {v.tolerance}); ")
    need = v.figures.get("needed_n")
    if need is not None:
        return text + f"about {int(need):,} {noun} would detect the allowed {change}"
    if v.noise is not None and v.basis != "samples":
        return (text + f"no number of {noun} would: the {describe_noise(v.noise)} alone "
                "hides it")
    return text + f"more {noun} tighten it"
