"""CPU package and DRAM energy from Intel/AMD RAPL, read from Linux powercap sysfs.

The kernel exposes every RAPL energy counter as a file of integer microjoules::

    /sys/class/powercap/intel-rapl:0/name                  package-0
    /sys/class/powercap/intel-rapl:0/energy_uj             123456789
    /sys/class/powercap/intel-rapl:0/max_energy_range_uj   262143328850
    /sys/class/powercap/intel-rapl:0:0/name                dram

``/sys/class/powercap`` holds one symlink per control type (``intel-rapl``,
``intel-rapl-mmio``, ``intel-rapl-tpmi``) and per zone; the same zones are also
reachable nested under their control type, which is the layout a container sees
when only ``.../powercap/intel-rapl`` is bind-mounted. Both layouts are accepted.
AMD Zen processors use the same ``intel-rapl`` control type.

What is counted:

- domain ``cpu``: zones named ``package-N`` or ``package-N-die-M``;
- domain ``dram``: zones named ``dram`` (subzones of a package);
- never ``psys``, ``core``, ``uncore`` or anything else: those nest inside or around
  the package and summing them would count the same joules two or three times.

The same package can appear under two control types (MSR ``intel-rapl`` and
``intel-rapl-mmio``); it is counted once, preferring MMIO, then TPMI, then MSR.
Dies that mirror one socket-wide counter are detected at probe time (one die's reading
taken between two readings of the other equals one of them) and counted once.

Wraparound: each counter is 32 bits wide in hardware and wraps after
``max_energy_range_uj`` (minutes at full load). The meter keeps a 64-bit running total
per zone: whenever a reading is smaller than the previous one it adds
``max_energy_range_uj + 1`` (exact to within one counter unit, at most 61 uJ per wrap).
A single wrap between two reads is recognised; two are not. So a daemon thread re-reads
the counters every quarter of the shortest wrap period (assuming 1 kW per zone, at most
every 60 s); windows of any length are then exact, provided the process is not frozen
(SIGSTOP, suspend) for longer than one wrap period. With ``wrap_guard_s=None`` there is
no thread, and a window longer than one wrap period under-counts by whole periods.
"""

from __future__ import annotations

import errno
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from .base import EnergyDelta, EnergyMeter, Unavailable

__all__ = ["RaplMeter", "RaplReadError", "RaplZone", "probe"]

DEFAULT_ROOT: Final = Path("/sys/class/powercap")

#: Control types that carry RAPL zones, most preferred first when a zone is mirrored.
CONTROL_TYPES: Final = ("intel-rapl-mmio", "intel-rapl-tpmi", "intel-rapl")

#: Domains this meter can report.
RAPL_DOMAINS: Final = ("cpu", "dram")

#: Power assumed per zone when sizing the wrap-guard interval (no package draws this).
_GUARD_POWER_BOUND_UW: Final = 1_000_000_000
_GUARD_MIN_S: Final = 1.0
_GUARD_MAX_S: Final = 60.0

_PACKAGE_NAME = re.compile(r"package-(\d+)(?:-die-(\d+))?")
_PERMISSION_REASON: Final = (
    "energy_uj is root-only since Linux 5.10 (CVE-2020-8694); run as root or "
    "`chmod o+r` the energy_uj files, see README"
)
# sysfs integers are at most 20 digits plus a newline.
_READ_BYTES: Final = 32

Opener = Callable[[str, int], int]


class RaplReadError(RuntimeError):
    """A counter that was readable at probe time could not be read during the run."""


@dataclass(frozen=True)
class RaplZone:
    """One powercap zone that contributes to a domain."""

    #: the zone directory name, e.g. ``intel-rapl:0:0``
    zone_id: str
    control_type: str
    #: the directory the counter is read from
    path: Path
    #: the zone's ``name`` file, e.g. ``package-0`` or ``dram``
    name: str
    #: ``cpu`` or ``dram``
    domain: str
    #: the package this zone belongs to (its own name for a package zone)
    package: str
    max_energy_range_uj: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.zone_id,
            "control_type": self.control_type,
            "path": str(self.path),
            "name": self.name,
            "domain": self.domain,
            "package": self.package,
            "max_energy_range_uj": self.max_energy_range_uj,
        }


@dataclass(frozen=True)
class _Found:
    """A zone directory seen while walking the tree, before selection."""

    zone_id: str
    control_type: str
    path: Path
    name: str


class _Unusable(Exception):
    """Internal: probing stops with this reason."""


class RaplMeter(EnergyMeter):
    """Energy of CPU packages (``cpu``) and DRAM (``dram``) from RAPL counters.

    Figures are machine-wide: every process on the host contributes. Build one with
    :func:`probe`; call :meth:`close` when done.
    """

    name = "rapl"
    kind = "measured"

    def __init__(
        self,
        root: Path,
        zones: Sequence[RaplZone],
        fds: Sequence[int],
        first_readings_uj: Sequence[int],
        skipped: Sequence[dict[str, str]],
        wrap_guard_s: float | None,
    ) -> None:
        self._root = root
        self._zones = tuple(zones)
        self._fds = list(fds)
        self._skipped = list(skipped)
        self.domains = tuple(d for d in RAPL_DOMAINS if any(z.domain == d for z in zones))
        # Modulus of each counter: the kernel reports the largest value, not the period.
        self._periods_uj = [z.max_energy_range_uj + 1 for z in self._zones]
        self._last_uj = list(first_readings_uj)
        self._total_uj = [0] * len(self._zones)
        self._lock = threading.Lock()
        self._closed = False
        self._guard_s = wrap_guard_s
        self._guard_error: str | None = None
        self._stop = threading.Event()
        self._guard: threading.Thread | None = None
        if wrap_guard_s is not None:
            self._guard = threading.Thread(
                target=self._guard_loop,
                args=(wrap_guard_s,),
                name="ragcost-rapl-wrap-guard",
                daemon=True,
            )
            self._guard.start()

    @property
    def zones(self) -> tuple[RaplZone, ...]:
        """The zones that are summed, in snapshot order."""
        return self._zones

    def snapshot(self) -> tuple[int, ...]:
        """Read every counter; returns running totals in microjoules (one per zone)."""
        with self._lock:
            self._read_locked()
            return tuple(self._total_uj)

    def delta(self, before: Any, after: Any) -> EnergyDelta:
        """Joules per domain between two snapshots of this meter."""
        n = len(self._zones)
        if not (isinstance(before, tuple) and isinstance(after, tuple)) or not (
            len(before) == len(after) == n
        ):
            raise ValueError(
                f"RaplMeter.delta: expected two snapshots of this meter (tuples of {n} "
                f"counters), got {before!r} and {after!r}; pass values returned by "
                "snapshot() of the same meter"
            )
        joules = dict.fromkeys(self.domains, 0.0)
        for zone, b, a in zip(self._zones, before, after, strict=True):
            if a < b:
                raise ValueError(
                    f"RaplMeter.delta: zone {zone.zone_id} ran backwards ({b} uJ -> {a} uJ); "
                    "the snapshots were passed in the wrong order"
                )
            joules[zone.domain] += (a - b) / 1e6
        return EnergyDelta(joules=joules)

    def describe(self) -> dict[str, Any]:
        """Zones summed, zones skipped and why, and the wrap-guard interval."""
        info: dict[str, Any] = {
            "backend": "powercap",
            "root": str(self._root),
            "scope": "machine",
            "unit": "uJ counters, reported in J",
            "zones": [z.as_dict() for z in self._zones],
            "skipped": list(self._skipped),
            "wrap_guard_s": self._guard_s,
        }
        if self._guard_error is not None:
            info["wrap_guard_error"] = self._guard_error
        return info

    def close(self) -> None:
        """Stop the wrap guard and close the counter files."""
        self._stop.set()
        if self._guard is not None:
            self._guard.join()
            self._guard = None
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for fd in self._fds:
                os.close(fd)
            self._fds = []

    def _read_locked(self) -> None:
        if self._closed:
            raise RaplReadError("RaplMeter.snapshot: the meter is closed; probe a new one")
        for i, fd in enumerate(self._fds):
            try:
                data = os.pread(fd, _READ_BYTES, 0)
                raw = int(data)
            except (OSError, ValueError) as exc:
                zone = self._zones[i]
                raise RaplReadError(
                    f"could not read {zone.path / 'energy_uj'} ({zone.name}): {exc}; "
                    "a CPU may have gone offline or the powercap driver was unloaded"
                ) from exc
            step = raw - self._last_uj[i]
            if step < 0:
                step += self._periods_uj[i]
            self._total_uj[i] += step
            self._last_uj[i] = raw

    def _guard_loop(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            with self._lock:
                if self._closed:
                    return
                try:
                    self._read_locked()
                except RaplReadError as exc:
                    # The next snapshot() raises the same error to its caller; the thread
                    # just remembers it for describe() and keeps trying.
                    self._guard_error = str(exc)


def probe(
    root: Path = DEFAULT_ROOT,
    domains: tuple[str, ...] = RAPL_DOMAINS,
    *,
    wrap_guard_s: float | Literal["auto"] | None = "auto",
    opener: Opener = os.open,
) -> RaplMeter | Unavailable:
    """Find RAPL zones under ``root`` and open their counters; never raises.

    ``domains`` picks what to report among ``cpu`` and ``dram``. ``wrap_guard_s`` is the
    interval of the background re-read that keeps long windows exact (``"auto"``: a
    quarter of the shortest wrap period, between 1 and 60 s; ``None``: no thread).
    ``opener`` opens counter files (``os.open`` signature); tests replace it.
    """
    try:
        return _probe(root, domains, wrap_guard_s, opener)
    except _Unusable as exc:
        return Unavailable("rapl", str(exc))
    except Exception as exc:
        return Unavailable("rapl", f"unexpected error while reading {root}: {exc!r}")


def _probe(
    root: Path,
    domains: tuple[str, ...],
    wrap_guard_s: float | Literal["auto"] | None,
    opener: Opener,
) -> RaplMeter:
    unknown = [d for d in domains if d not in RAPL_DOMAINS]
    if unknown or not domains:
        raise _Unusable(f"domains must be a non-empty subset of {RAPL_DOMAINS}, got {domains!r}")
    if not root.is_dir():
        raise _Unusable(f"no {root} (not Linux, or no RAPL exposed in this VM/container)")
    found = _walk(root)
    if not found:
        present = sorted(p.name for p in root.iterdir())
        raise _Unusable(
            f"no RAPL zones under {root} (control types {', '.join(CONTROL_TYPES)}; "
            f"found {present or 'nothing'})"
        )
    selected, skipped = _select(found, domains)
    if not selected:
        names = sorted({f.name for f in found})
        raise _Unusable(
            f"no RAPL zone for domains {domains!r} under {root}; zones present: {names}"
        )

    fds: list[int] = []
    try:
        zones: list[RaplZone] = []
        readings: list[int] = []
        for f, domain, package in selected:
            max_uj = _read_int(f.path / "max_energy_range_uj", opener)
            if max_uj <= 0:
                raise _Unusable(
                    f"{f.path / 'max_energy_range_uj'} holds {max_uj}; a counter range must "
                    "be positive, so wraparound could not be corrected"
                )
            fd = _open_counter(f.path / "energy_uj", opener)
            fds.append(fd)
            readings.append(_pread_int(fd, f.path / "energy_uj"))
            zones.append(
                RaplZone(f.zone_id, f.control_type, f.path, f.name, domain, package, max_uj)
            )
        keep = _drop_mirrored_dies(zones, fds, skipped)
        for i in sorted(set(range(len(zones))) - set(keep), reverse=True):
            os.close(fds.pop(i))
        zones = [zones[i] for i in keep]
        readings = [readings[i] for i in keep]
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise

    guard = _guard_interval(zones) if wrap_guard_s == "auto" else wrap_guard_s
    return RaplMeter(root, zones, fds, readings, skipped, guard)


def _walk(root: Path) -> list[_Found]:
    """Every RAPL zone directory under root, flat or nested layout, each once."""
    seen: set[str] = set()
    found: list[_Found] = []

    def visit(path: Path, prefix: str) -> None:
        try:
            children = sorted(path.iterdir(), key=lambda p: p.name)
        except OSError:
            return
        for child in children:
            if not child.name.startswith(prefix) or not child.is_dir():
                continue
            zone_id = child.name
            real = os.path.realpath(child)
            if real not in seen and (child / "energy_uj").exists():
                seen.add(real)
                found.append(_Found(zone_id, zone_id.split(":", 1)[0], child, _read_name(child)))
            visit(child, zone_id + ":")

    for ctype in CONTROL_TYPES:
        # Flat symlinks directly under the class directory ...
        visit(root, ctype + ":")
        # ... and the nested tree under the control type directory.
        if (root / ctype).is_dir():
            visit(root / ctype, ctype + ":")
    return found


def _read_name(zone: Path) -> str:
    try:
        return (zone / "name").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _select(
    found: list[_Found], domains: tuple[str, ...]
) -> tuple[list[tuple[_Found, str, str]], list[dict[str, str]]]:
    """Classify zones into domains, drop other kinds and mirrored control types."""
    by_id = {(f.control_type, f.zone_id): f for f in found}
    skipped: list[dict[str, str]] = []
    chosen: dict[tuple[str, str], tuple[_Found, str, str]] = {}
    rank = {c: i for i, c in enumerate(CONTROL_TYPES)}
    for f in sorted(found, key=lambda f: (rank[f.control_type], _zone_sort_key(f.zone_id))):
        if _PACKAGE_NAME.fullmatch(f.name):
            domain, package = "cpu", f.name
        elif f.name == "dram":
            parent = by_id.get((f.control_type, f.zone_id.rsplit(":", 1)[0]))
            domain = "dram"
            package = parent.name if parent is not None else f.zone_id.rsplit(":", 1)[0]
        else:
            skipped.append(
                {
                    "zone": f.zone_id,
                    "name": f.name,
                    "reason": "not a package or dram zone; it overlaps the package",
                }
            )
            continue
        if domain not in domains:
            skipped.append(
                {"zone": f.zone_id, "name": f.name, "reason": f"domain {domain} not requested"}
            )
            continue
        key = (package, f.name)
        if key in chosen:
            kept = chosen[key][0]
            skipped.append(
                {"zone": f.zone_id, "name": f.name, "reason": f"same counter as {kept.zone_id}"}
            )
            continue
        chosen[key] = (f, domain, package)
    ordered = sorted(chosen.values(), key=lambda t: (t[1] != "cpu", _zone_sort_key(t[0].zone_id)))
    return ordered, skipped


def _zone_sort_key(zone_id: str) -> tuple[str, tuple[int, ...]]:
    ctype, _, rest = zone_id.partition(":")
    return ctype, tuple(int(p) if p.isdigit() else -1 for p in rest.split(":"))


def _drop_mirrored_dies(
    zones: list[RaplZone], fds: list[int], skipped: list[dict[str, str]]
) -> list[int]:
    """Indices of zones to keep, without dies that mirror another die's counter.

    Reading die A, die B, die A again: if B's reading equals one of A's, both files
    show one counter (independent counters agreeing to the microjoule is not credible;
    reading A twice tolerates one counter update between the reads).
    """
    keep: list[int] = []
    for i, zone in enumerate(zones):
        match = _PACKAGE_NAME.fullmatch(zone.name)
        mirror_of: int | None = None
        if zone.domain == "cpu" and match is not None and match.group(2) is not None:
            for k in keep:
                other = _PACKAGE_NAME.fullmatch(zones[k].name)
                if other is None or other.group(1) != match.group(1):
                    continue
                a1 = _pread_int(fds[k], zones[k].path / "energy_uj")
                b = _pread_int(fds[i], zone.path / "energy_uj")
                a2 = _pread_int(fds[k], zones[k].path / "energy_uj")
                if b in (a1, a2):
                    mirror_of = k
                    break
        if mirror_of is None:
            keep.append(i)
        else:
            skipped.append(
                {
                    "zone": zone.zone_id,
                    "name": zone.name,
                    "reason": f"mirrors the counter of {zones[mirror_of].zone_id}",
                }
            )
    return keep


def _guard_interval(zones: Sequence[RaplZone]) -> float:
    shortest_wrap_s = min(z.max_energy_range_uj for z in zones) / _GUARD_POWER_BOUND_UW
    return min(_GUARD_MAX_S, max(_GUARD_MIN_S, shortest_wrap_s / 4))


def _open_counter(path: Path, opener: Opener) -> int:
    try:
        return opener(str(path), os.O_RDONLY | os.O_CLOEXEC)
    except PermissionError as exc:
        raise _Unusable(f"cannot read {path}: {_PERMISSION_REASON}") from exc
    except OSError as exc:
        raise _Unusable(f"cannot open {path}: {os.strerror(exc.errno or errno.EIO)}") from exc


def _read_int(path: Path, opener: Opener) -> int:
    try:
        fd = opener(str(path), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise _Unusable(f"cannot open {path}: {exc.strerror or exc}") from exc
    try:
        return _pread_int(fd, path)
    finally:
        os.close(fd)


def _pread_int(fd: int, path: Path) -> int:
    try:
        data = os.pread(fd, _READ_BYTES, 0)
    except PermissionError as exc:
        raise _Unusable(f"cannot read {path}: {_PERMISSION_REASON}") from exc
    except OSError as exc:
        raise _Unusable(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        value = int(data)
    except ValueError:
        raise _Unusable(
            f"{path} should hold an integer number of microjoules, found {data!r}"
        ) from None
    if value < 0:
        raise _Unusable(f"{path} holds a negative count ({value}); expected microjoules >= 0")
    return value
