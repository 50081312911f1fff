"""What a load level is: closed loop (N users) or open loop (an arrival rate), and its bounds."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Arrival = Literal["poisson", "uniform"]
ARRIVALS: tuple[Arrival, ...] = ("poisson", "uniform")
#: the keys of the marker's ``load={...}`` and the keywords of ``ragcost.load()``
KEYS = ("users", "rate", "requests", "duration_s", "timeout_s", "arrival", "workers", "seed")
#: driver threads of an open-loop level when ``workers`` is not given
DEFAULT_OPEN_WORKERS = 32
#: the most driver threads one level starts (each is an OS thread with its own stack)
MAX_THREADS = 1024
#: the most requests an open loop bounded only by ``duration_s`` may plan
MAX_ARRIVALS = 1_000_000


class LoadSpecError(ValueError):
    """A load level that cannot be driven; ``str()`` says what to write instead."""


@dataclass(frozen=True)
class LoadSpec:
    """One load level.

    ``users``: closed loop, that many concurrent users, each issuing its next request as
    soon as the previous one returns (no think time). ``rate``: open loop, requests arrive
    at that many per second (Poisson or evenly spaced) whatever the pipeline's state, and
    each request's latency counts from its intended start, so a backlog shows as wait
    (coordinated omission cannot hide it). ``workers`` caps an open loop's requests in
    flight; arrivals beyond it wait in the driver's backlog, and that wait is counted.

    Bounds: ``requests`` and/or ``duration_s`` (arrivals stop at the first bound reached);
    never more driver threads start than requests are asked for.
    ``timeout_s``: a request slower than this (from its intended start) counts in
    ``timeouts``, and a call still running ``timeout_s`` after it started is abandoned:
    recorded as a timeout and an error, while the driver goes on (a Python call cannot be
    interrupted, so it finishes in the background, on a thread of its own).
    """

    users: int | None = None
    rate: float | None = None
    requests: int | None = None
    duration_s: float | None = None
    timeout_s: float | None = None
    arrival: Arrival = "poisson"
    workers: int | None = None
    seed: int = 0

    @property
    def mode(self) -> Literal["closed", "open"]:
        return "closed" if self.users is not None else "open"

    @property
    def level(self) -> str:
        """A short label: ``u4`` (4 users) or ``r2.5`` (2.5 requests per second)."""
        if self.users is not None:
            return f"u{self.users}"
        return f"r{self.rate:g}"

    @property
    def threads(self) -> int:
        if self.users is not None:
            return self.users
        return self.workers or DEFAULT_OPEN_WORKERS

    def threads_for(self, limit: int | None, where: str = "ragcost.load()") -> int:
        """Driver threads to start for at most ``limit`` requests (``None``: only
        ``duration_s`` bounds them); a usage error when that is more than
        :data:`MAX_THREADS` or an open loop would plan more than :data:`MAX_ARRIVALS`."""
        wanted = self.threads if limit is None else min(self.threads, limit)
        if wanted > MAX_THREADS:
            given = f"users={self.users}" if self.users is not None else f"workers={self.workers}"
            msg = (
                f"{where}: {given} would start {wanted:,} driver threads; at most "
                f"{MAX_THREADS:,} are allowed. Lower it, or bound the level with requests=N "
                "(no more threads start than requests)"
            )
            raise LoadSpecError(msg)
        if self.rate is not None and limit is None and self.duration_s is not None:
            planned = self.rate * self.duration_s
            if planned > MAX_ARRIVALS:
                msg = (
                    f"{where}: rate={self.rate:g} for duration_s={self.duration_s:g} plans "
                    f"{planned:,.0f} requests; at most {MAX_ARRIVALS:,} are allowed. Lower "
                    "the rate or the duration, or give requests=N"
                )
                raise LoadSpecError(msg)
        return max(wanted, 1)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in KEYS if getattr(self, k) is not None}


def _whole(name: str, value: object, minimum: int, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{where}: {name} must be a whole number >= {minimum} (got {value!r})"
        raise LoadSpecError(msg)
    return value


def _positive(name: str, value: object, where: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        msg = f"{where}: {name} must be a number > 0 (got {value!r})"
        raise LoadSpecError(msg)
    return float(value)


def parse(values: Mapping[str, Any], where: str = "load") -> LoadSpec:
    """Check a load level given as a mapping (the marker's ``load={...}`` merged with the
    keywords of ``ragcost.load()``) and build it. ``where`` prefixes every message."""
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        msg = f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(KEYS)}"
        raise LoadSpecError(msg)
    users = _whole("users", values.get("users"), 1, where)
    rate = _positive("rate", values.get("rate"), where)
    if (users is None) == (rate is None):
        msg = (
            f"{where}: give exactly one of users=N (closed loop: N concurrent users) or "
            f"rate=R (open loop: R requests per second)"
            + (f" (got users={users!r} and rate={rate!r})" if users is not None else "")
        )
        raise LoadSpecError(msg)
    arrival = values.get("arrival", "poisson")
    if arrival not in ARRIVALS:
        msg = f"{where}: arrival must be one of {', '.join(ARRIVALS)} (got {arrival!r})"
        raise LoadSpecError(msg)
    workers = _whole("workers", values.get("workers"), 1, where)
    if workers is not None and users is not None:
        msg = (
            f"{where}: workers caps an open loop's requests in flight; a closed loop has "
            f"exactly users={users} in flight (drop workers, or use rate=...)"
        )
        raise LoadSpecError(msg)
    seed = values.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        msg = f"{where}: seed must be a whole number (got {seed!r})"
        raise LoadSpecError(msg)
    return LoadSpec(
        users=users,
        rate=rate,
        requests=_whole("requests", values.get("requests"), 1, where),
        duration_s=_positive("duration_s", values.get("duration_s"), where),
        timeout_s=_positive("timeout_s", values.get("timeout_s"), where),
        arrival=arrival,
        workers=workers,
        seed=seed,
    )
