"""Choose and probe the meters once per pytest run, and turn snapshots into labelled figures.

Backends are imported only when asked for, so ``--ragcost`` off costs nothing and a
missing optional package (``nvidia-ml-py``) only makes one meter unavailable.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..run import EnergyKind
from .base import EnergyMeter, Unavailable
from .estimate import EstimateModel
from .window import WALL_ONLY, CpuProbe, Figures, Plan, Probe

# weakest last: a total that includes an estimate is an estimate
_KIND_RANK: dict[str, int] = {"measured": 0, "attributed": 1, "estimated": 2, "unavailable": 3}


_ESTIMATED = {"energy_cpu_j": "estimated", "energy_j": "estimated"}


def weakest(kinds: Sequence[str]) -> EnergyKind:
    """The label of a sum of figures with these labels."""
    worst = max(kinds, key=lambda k: _KIND_RANK[k], default="unavailable")
    return worst  # type: ignore[return-value]


def workers_in_parallel() -> int:
    """How many pytest-xdist workers share this machine (1 when not under xdist)."""
    try:
        return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1


@dataclass
class MeterSet:
    """The meters of one run. ``process`` False means wall time only."""

    process: bool
    energy: list[EnergyMeter] = field(default_factory=list)
    estimate: EstimateModel | None = None
    unavailable: list[Unavailable] = field(default_factory=list)
    shared_machine: bool = False
    #: getrusage around each request (CPU time, peak RSS, context switches, page faults),
    #: when the process meter is on and the platform has it
    rusage: CpuProbe | None = None
    #: the system probes of ``--ragcost-system`` (disk I/O bytes, peak RSS growth,
    #: network calls per endpoint), read around every stage,
    #: request and load level
    system: tuple[Probe, ...] = ()
    _plans: dict[str, Plan] = field(default_factory=dict, repr=False, compare=False)

    def plan(self, kind: str) -> Plan:
        """The window of a ``stage`` (clocks and energy), a ``request`` or a load ``level``
        (clocks, getrusage and energy), or a ``benchmark`` (CPU time and energy always)."""
        found = self._plans.get(kind)
        if found is None:
            found = self._plans[kind] = self._build_plan(kind)
        return found

    def _build_plan(self, kind: str) -> Plan:
        probes: tuple[Probe, ...] = (EnergyProbe(self),) if self.energy else ()
        if kind != "benchmark":
            probes += self.system
        derived: tuple[Probe, ...] = ()
        if not self.energy and self.estimate is not None:
            derived = (EstimateProbe(self.estimate),)
        cpu = self.process or kind == "benchmark"
        rusage = None
        if kind in ("request", "level") and self.process:
            rusage = self.rusage
        if not cpu and not probes and not derived:
            return WALL_ONLY
        return Plan(cpu=cpu, probes=probes, cpu_probe=rusage, derived=derived)

    def kind_of(self, meter: EnergyMeter) -> EnergyKind:
        # machine-wide counters see every worker's work when xdist runs several at once
        if self.shared_machine and meter.kind == "measured":
            return "attributed"
        return meter.kind

    def snap(self) -> list[Any]:
        out: list[Any] = []
        for meter in self.energy:
            try:
                out.append(meter.snapshot())
            except Exception as exc:
                self._failed(meter, exc)
                out.append(None)
        return out

    def _failed(self, meter: EnergyMeter, exc: Exception) -> None:
        reason = f"read failed during the run: {type(exc).__name__}: {exc}"
        if not any(u.name == meter.name for u in self.unavailable):
            self.unavailable.append(Unavailable(meter.name, reason))

    def figures(
        self, before: list[Any], after: list[Any], cpu_ms: float | None
    ) -> tuple[dict[str, float], dict[str, str]]:
        """Energy figures of one window and each figure's label."""
        if not self.energy:  # the common case on CI: no counters, at most the CPU-time model
            if self.estimate is None or cpu_ms is None:
                return {}, {}
            joules = cpu_ms * self.estimate.joules_per_cpu_ms
            return {"energy_cpu_j": joules, "energy_j": joules}, dict(_ESTIMATED)
        metrics: dict[str, float] = {}
        sources: dict[str, str] = {}
        for meter, b, a in zip(self.energy, before, after, strict=True):
            if b is None or a is None:
                continue  # this window has no reading from that meter; never a made-up zero
            try:
                delta = meter.delta(b, a)
            except Exception as exc:
                self._failed(meter, exc)
                continue
            kind = self.kind_of(meter)
            for domain, joules in delta.joules.items():
                key = f"energy_{domain}_j"
                metrics[key] = metrics.get(key, 0.0) + joules
                sources[key] = kind
            for name, value in delta.extra.items():
                metrics[name] = value
                sources[name] = kind
        if self.estimate is not None and "energy_cpu_j" not in metrics and cpu_ms is not None:
            metrics["energy_cpu_j"] = self.estimate.energy_cpu_j(cpu_ms)
            sources["energy_cpu_j"] = "estimated"
        parts = [k for k in ("energy_cpu_j", "energy_dram_j", "energy_gpu_j") if k in metrics]
        if parts:
            metrics["energy_j"] = sum(metrics[k] for k in parts)
            sources["energy_j"] = weakest([sources[k] for k in parts])
        return metrics, sources

    def describe(self) -> dict[str, Any]:
        """The JSON ``meters`` block: what ran, with what label, and what could not, and why."""
        used: list[dict[str, Any]] = [
            {"name": "process" if self.process else "wall", "kind": "timer"}
        ]
        for meter in self.energy:
            used.append(
                {
                    "name": meter.name,
                    "kind": self.kind_of(meter),
                    "domains": list(meter.domains),
                    **meter.describe(),
                }
            )
        if self.estimate is not None:
            used.append(
                {"name": "estimate", "kind": "estimated", "domains": ["cpu"],
                 **self.estimate.describe()}
            )
        for probe in self.system:
            used.append({"name": probe.name, "kind": "socket" if probe.name == "network" else
                         "kernel", "metrics": list(probe.metrics)})
        return {
            "used": used,
            "unavailable": [{"name": u.name, "reason": u.reason} for u in self.unavailable],
            "xdist_workers": workers_in_parallel(),
        }

    def energy_label(self) -> str:
        """One line for the header: which energy figures this run produces and how."""
        kinds = [f"{m.name} ({self.kind_of(m)})" for m in self.energy]
        if self.estimate is not None:
            kinds.append(
                f"estimate (estimated: cpu time x {self.estimate.watts_per_thread:g} W/thread)"
            )
        return ", ".join(kinds) if kinds else "none (no energy figures)"

    def system_label(self) -> str:
        """What ``--ragcost-system`` measures here, for the header."""
        return ", ".join(p.label or p.name for p in self.system)

    def close(self) -> None:
        for meter in self.energy:
            with contextlib.suppress(Exception):  # closing must never fail a run
                meter.close()
        for probe in self.system:
            with contextlib.suppress(Exception):
                probe.close()


class EnergyProbe(Probe):
    """The energy meters of a run as one probe: counter snapshots at both ends, and the
    CPU-time estimate from the window's CPU time."""

    def __init__(self, meters: MeterSet) -> None:
        self._meters = meters

    def read(self) -> object:
        return self._meters.snap() if self._meters.energy else None

    def figures(self, before: Any, after: Any, out: Figures) -> None:
        metrics, sources = self._meters.figures(before or [], after or [], out.cpu_ms)
        out.metrics.update(metrics)
        out.sources.update(sources)


class EstimateProbe(Probe):
    """Energy from the window's CPU time alone (no counter to read): the common case on CI."""

    def __init__(self, estimate: EstimateModel) -> None:
        self._joules_per_cpu_ms = estimate.joules_per_cpu_ms

    def read(self) -> object:
        return None

    def figures(self, before: object, after: object, out: Figures) -> None:
        cpu_ms = out.metrics.get("cpu_ms")
        if cpu_ms is None:
            return
        joules = cpu_ms * self._joules_per_cpu_ms
        out.metrics["energy_cpu_j"] = joules
        out.metrics["energy_j"] = joules
        out.sources.update(_ESTIMATED)


Prober = Callable[[], "EnergyMeter | Unavailable"]


def _backend(name: str) -> Any:
    # by module name, not `from . import x`: the package attribute can outlive a module
    # that sys.modules dropped (pytester does that between in-process runs)
    return importlib.import_module(f"{__package__}.{name}")


def _probe_rapl(root: Path) -> EnergyMeter | Unavailable:
    found: EnergyMeter | Unavailable = _backend("rapl").probe(root=root)
    return found


def _probe_nvml() -> EnergyMeter | Unavailable:
    found: EnergyMeter | Unavailable = _backend("nvml").probe()
    return found


def build(
    names: Sequence[str],
    *,
    watts_per_thread: float,
    watts_source: str,
    powercap_root: Path = Path("/sys/class/powercap"),
    probers: dict[str, Prober] | None = None,
    system: bool = False,
    proc_io: Path | None = None,
) -> MeterSet:
    """Probe the named meters (``auto`` means every one that works here), and with
    ``system`` the system probes (``--ragcost-system``: disk I/O bytes from ``proc_io``,
    and the socket hook for network calls, installed until :meth:`MeterSet.close`).

    Probing never raises: a meter that cannot run is listed as unavailable with a reason.
    """
    probers = probers or {
        "rapl": lambda: _probe_rapl(powercap_root),
        "nvml": _probe_nvml,
    }
    wanted = set(names)
    system_probes: list[Probe] = []
    system_unavailable: list[Unavailable] = []
    if system:
        from .disk import PROC_IO, disk_probe

        found_disk = disk_probe(proc_io or PROC_IO)
        if isinstance(found_disk, Unavailable):
            system_unavailable.append(found_disk)
        else:
            system_probes.append(found_disk)
        from .memory import memory_probe

        found_memory = memory_probe()
        if isinstance(found_memory, Unavailable):
            system_unavailable.append(found_memory)
        else:
            system_probes.append(found_memory)
        from .network import NetworkProbe

        system_probes.append(NetworkProbe())  # wraps the socket calls until close()
    if "none" in wanted:
        return MeterSet(
            process=False,
            unavailable=[
                Unavailable("energy", "--ragcost-meter=none: no meters were asked for"),
                *system_unavailable,
            ],
            system=tuple(system_probes),
        )
    auto = "auto" in wanted
    meters = MeterSet(
        process=auto or "process" in wanted or "estimate" in wanted,
        shared_machine=workers_in_parallel() > 1,
        unavailable=system_unavailable,
        system=tuple(system_probes),
    )
    if meters.process:
        from .process import rusage_probe

        found_rusage = rusage_probe()
        if isinstance(found_rusage, Unavailable):
            meters.unavailable.append(found_rusage)
        else:
            meters.rusage = found_rusage
    for name in ("rapl", "nvml"):
        if not (auto or name in wanted):
            continue
        try:
            found = probers[name]()
        except Exception as exc:
            found = Unavailable(name, f"probe failed: {type(exc).__name__}: {exc}")
        if isinstance(found, Unavailable):
            meters.unavailable.append(found)
        else:
            meters.energy.append(found)
    has_cpu_energy = any("cpu" in m.domains for m in meters.energy)
    if (auto and not has_cpu_energy) or "estimate" in wanted:
        if has_cpu_energy:
            meters.unavailable.append(
                Unavailable("estimate", "not used: a measured CPU energy meter is available")
            )
        else:
            meters.estimate = EstimateModel(watts_per_thread, watts_source)
    return meters
