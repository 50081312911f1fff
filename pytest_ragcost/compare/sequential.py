"""When a same-job A/B may stop measuring: planned looks and the error each look spends.

A fixed A/B judges once, after all its rounds, with the rule's levels (a two-sided 90%
interval, and the one-sided 99.5% noise test). A sequential A/B judges after every second
round and stops as soon as the verdicts cannot change the outcome. Looking many times at
the same levels would fail unchanged code more often than the fixed design, so each look
judges at stricter levels: the error the fixed design allows is spread over the planned
looks (group-sequential alpha spending), and each look's interval is widened to the share
it spends.

The spending function is Lan and DeMets' Pocock-type ``alpha * ln(1 + (e - 1) * t)`` at
information fraction ``t = rounds / max_rounds``. Why Pocock rather than O'Brien-Fleming:
the noise test has a one-sided error of only 0.5%, and O'Brien-Fleming spends next to
nothing of it early (about 1e-6 at a third of the rounds), which asks a Student t with 3
degrees of freedom for a multiplier near 100: even a tripled cost could not stop before
half the rounds. Pocock spends evenly, so a clear change stops at round 4, and the last
look still keeps an interval about as narrow as the fixed design's 6 rounds (the planned
12 rounds make up for the smaller share).

Each look's share is used as is, without the correlation between looks that exact
group-sequential boundaries exploit: by the union bound, the chance that unchanged code
fails at some look is at most the sum of the shares, which is the fixed design's error.
That is conservative (the true rate is lower) and needs no numerical integration, and it
stays valid with the Student t intervals of few rounds, where the normal theory behind
exact boundaries does not hold.

The same shares bound the other way: stopping early on a PASS needs the whole interval
inside the tolerance at that look's level, so a real rise at the tolerance is waved
through early at most as often as the fixed design would pass it.

Looks come only after even rounds: rounds alternate which side goes first, and an even
count cancels whatever edge going first gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..run.model import Verdict
from .rules import Rule

__all__ = [
    "DEFAULT_MAX_ROUNDS",
    "MIN_ROUNDS",
    "Look",
    "decided",
    "look_rule",
    "looks",
    "spent",
]

#: The cap of a sequential A/B. At the last look its interval is about as narrow as the
#: fixed design's 6 rounds at full error (t(11) at the last share over sqrt(12) against
#: t(5) at 95% over sqrt(6): 0.88 against 0.82 round standard deviations), so a change the
#: fixed design could tell is told by the cap, while a clear one stops at round 2 or 4. It
#: costs at most twice the fixed design's rounds, and only when the evidence stays unclear.
DEFAULT_MAX_ROUNDS = 12
#: the first look: two rounds are the fewest with a spread (and each side went first once)
MIN_ROUNDS = 2
#: looks come after every second round, so each side has gone first equally often
LOOK_EVERY = 2


@dataclass(frozen=True)
class Look:
    """One planned look at the rounds measured so far."""

    #: rounds measured when this look judges
    rounds: int
    #: the share of the rule's error (interval and noise test) this look spends, in (0, 1]
    share: float
    #: the largest number of rounds: the last look is at the cap
    max_rounds: int

    @property
    def last(self) -> bool:
        return self.rounds >= self.max_rounds


def spent(fraction: float) -> float:
    """The Pocock-type spending function's share of the total error spent by information
    fraction ``fraction`` (0 -> 0, 1 -> 1)."""
    f = min(max(fraction, 0.0), 1.0)
    return math.log1p((math.e - 1.0) * f)


def looks(max_rounds: int = DEFAULT_MAX_ROUNDS) -> tuple[Look, ...]:
    """The planned looks up to ``max_rounds``: after every second round from
    :data:`MIN_ROUNDS`, and at ``max_rounds`` itself; their shares add up to 1."""
    if max_rounds < MIN_ROUNDS:
        msg = f"a sequential A/B needs at least {MIN_ROUNDS} rounds, got {max_rounds}"
        raise ValueError(msg)
    at = list(range(MIN_ROUNDS, max_rounds + 1, LOOK_EVERY))
    if at[-1] != max_rounds:
        at.append(max_rounds)
    out: list[Look] = []
    before = 0.0
    for rounds in at:
        now = spent(rounds / max_rounds)
        out.append(Look(rounds, now - before, max_rounds))
        before = now
    return tuple(out)


def look_rule(rule: Rule, look: Look) -> Rule:
    """``rule`` at the stricter levels of ``look``: the interval's one-sided error
    ``(1 - confidence) / 2`` and the noise test's ``1 - noise_confidence`` each scaled by
    the look's share. The verdict is still :func:`~pytest_ragcost.compare.rules.judge`'s."""
    tail = (1.0 - rule.confidence) / 2.0 * look.share
    noise = (None if rule.noise_confidence is None
             else 1.0 - (1.0 - rule.noise_confidence) * look.share)
    return replace(rule, confidence=1.0 - 2.0 * tail, noise_confidence=noise)


def decided(verdict: Verdict, rule: Rule) -> bool:
    """Would more rounds leave this verdict as it is?

    FAIL and WARN are reached on evidence at the look's level; a PASS only when its whole
    interval lies inside the tolerance (or past it the good way). INCONCLUSIVE, and a PASS
    whose interval still reaches past the tolerance, want more rounds. NEW, INCOMPARABLE
    and STALE are not matters of noise: more rounds would not change them.
    """
    if verdict.status == "INCONCLUSIVE":
        return False
    if verdict.status != "PASS" or verdict.interval is None or verdict.improved:
        return True
    if verdict.baseline is None:
        return True
    allowed = rule.tolerance.absolute(verdict.baseline)
    low, high = verdict.interval
    return low >= -allowed if rule.higher_is_better else high <= allowed
