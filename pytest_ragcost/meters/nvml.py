"""NVIDIA GPU energy, busy time and memory through NVML (``pip install 'pytest-ragcost[gpu]'``).

The ``pynvml`` module of ``nvidia-ml-py`` is imported only when :func:`probe` runs, and on
Linux only once NVML's library loads: a host with no NVIDIA driver (most CI runners) is
told so without importing it.

Energy (domain ``gpu``), per device, summed over the selected devices:

- Volta and newer: ``nvmlDeviceGetTotalEnergyConsumption``, a millijoule counter kept
  by the driver; a window is the difference of two readings. The driver refreshes it
  about every 100 ms, so very short windows are quantised.
- Older GPUs (the call raises ``NVMLError_NotSupported``): a daemon thread reads
  ``nvmlDeviceGetPowerUsage`` (milliwatts) every ``poll_interval_s`` and integrates it
  with the trapezoid rule into a running millijoule total. ``snapshot()`` also reads the
  power, so window edges are real samples. These devices are labelled
  ``power-integrated`` in :meth:`NvmlMeter.describe`; the figure is only as good as the
  driver's power reading (a one-second average on some boards).

Extra numbers in :attr:`EnergyDelta.extra`, sampled by the same thread:

- ``gpu_ms``: busy time, the integral over the window of ``utilization.gpu / 100``
  (``nvmlDeviceGetUtilizationRates``), summed over devices; i.e. wall time x mean
  utilisation. Between samples the rate is interpolated linearly; after the last sample
  it is held. NVML's utilisation is itself an average over the driver's last sampling
  period (1/6 s to 1 s), so short windows are approximate.
- ``gpu_mem_peak_mb``: the highest used memory (``nvmlDeviceGetMemoryInfo``, summed over
  devices, MiB) seen by the thread during the window, including the level at its start.

Devices are chosen by UUID. ``CUDA_VISIBLE_DEVICES`` is honoured as CUDA reads it: a
comma-separated list of indices or ``GPU-`` UUIDs (a unique prefix is enough); the first
entry that matches no GPU ends the list; an empty string means no GPU. Indices are taken
in NVML (PCI bus) order, which is CUDA's order only with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``
or identical GPUs; describe() notes the risk otherwise. MIG slices are refused: NVML
reports energy for the whole board only.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import importlib
import importlib.util
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final, Literal

from .base import EnergyDelta, EnergyMeter, Unavailable

__all__ = ["FROM_ENV", "GpuDevice", "NvmlMeter", "NvmlReadError", "NvmlSnapshot", "probe"]

_INSTALL_HINT: Final = "pip install 'pytest-ragcost[gpu]'"
#: the library pynvml loads on Linux (by this name, through the dynamic loader)
LINUX_LIBRARY: Final = "libnvidia-ml.so.1"
#: pynvml's words for a library that would not load (NVML_ERROR_LIBRARY_NOT_FOUND)
_LIBRARY_NOT_FOUND: Final = "NVML Shared Library Not Found"
_NO_DRIVER_HINT: Final = (
    " (libnvidia-ml.so.1 was not found: no NVIDIA driver is installed on this host)"
)
_REQUIRED: Final = (
    "nvmlInit",
    "nvmlShutdown",
    "nvmlDeviceGetCount",
    "nvmlDeviceGetHandleByIndex",
    "nvmlDeviceGetHandleByUUID",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetName",
    "nvmlDeviceGetTotalEnergyConsumption",
    "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetUtilizationRates",
    "nvmlDeviceGetMemoryInfo",
    "NVMLError",
    "NVML_ERROR_NOT_SUPPORTED",
)
_MIB: Final = 1024 * 1024

Method = Literal["energy-counter", "power-integrated"]


class _Env(enum.Enum):
    FROM_ENV = "CUDA_VISIBLE_DEVICES"


#: Default of ``probe(visible_devices=...)``: read ``CUDA_VISIBLE_DEVICES`` at probe time.
FROM_ENV: Final = _Env.FROM_ENV


class NvmlReadError(RuntimeError):
    """A GPU counter could not be read, or ran backwards, during the run."""


@dataclass(frozen=True)
class GpuDevice:
    """One metered GPU."""

    nvml_index: int
    uuid: str
    name: str
    method: Method
    has_utilization: bool
    has_memory: bool


@dataclass(frozen=True)
class NvmlSnapshot:
    """Counters at one instant; pass two of them to :meth:`NvmlMeter.delta`."""

    t_ns: int
    #: running energy per device in millijoules (driver counter or integrated power)
    energy_mj: tuple[float, ...]
    #: running busy time in milliseconds, summed over devices
    busy_ms: float
    #: index into the meter's closed memory segments
    mem_segment: int
    #: used memory (bytes, all devices) when the snapshot was taken
    mem_used_bytes: int


class NvmlMeter(EnergyMeter):
    """Energy, busy time and peak memory of the selected NVIDIA GPUs.

    Figures are per device: every process using the GPU contributes. Build one with
    :func:`probe`; call :meth:`close` to stop its thread and shut NVML down.
    """

    name = "nvml"
    kind = "measured"
    domains = ("gpu",)

    def __init__(
        self,
        nvml: ModuleType,
        handles: Sequence[Any],
        devices: Sequence[GpuDevice],
        poll_interval_s: float,
        *,
        visible_devices: str | None,
        notes: Sequence[str] = (),
        driver_version: str | None = None,
        clock: Callable[[], int] = time.perf_counter_ns,
        start_thread: bool = True,
    ) -> None:
        self._nvml = nvml
        self._handles = list(handles)
        self._devices = tuple(devices)
        self._poll_interval_s = poll_interval_s
        self._visible = visible_devices
        self._notes = list(notes)
        self._driver_version = driver_version
        self._clock = clock
        self._not_supported = nvml.NVML_ERROR_NOT_SUPPORTED
        self._power_idx = [i for i, d in enumerate(devices) if d.method == "power-integrated"]
        self._util_ok = all(d.has_utilization for d in devices)
        self._mem_ok = all(d.has_memory for d in devices)

        self._lock = threading.Lock()
        self._closed = False
        self._sample_error: str | None = None
        # Integrator state, all guarded by _lock. Rates are in mW and percent.
        self._t_ns = clock()
        self._power_mw = [0.0] * len(devices)
        self._integrated_mj = [0.0] * len(devices)
        self._util_pct = [0.0] * len(devices)
        self._busy_ms = 0.0
        self._mem_used = 0
        self._mem_peak_open = 0
        self._mem_closed_peaks: list[int] = []
        self._prime()

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if start_thread:
            self._thread = threading.Thread(
                target=self._poll_loop, name="ragcost-nvml-poll", daemon=True
            )
            self._thread.start()

    @property
    def devices(self) -> tuple[GpuDevice, ...]:
        return self._devices

    def sample(self) -> None:
        """Take one sample of power, utilisation and memory now.

        The background thread calls this every ``poll_interval_s``.
        """
        power = self._read_power(self._power_idx)
        util = self._read_util() if self._util_ok else None
        mem = self._read_mem() if self._mem_ok else None
        with self._lock:
            self._advance_locked(self._clock(), power, util)
            if mem is not None:
                self._mem_used = mem
                self._mem_peak_open = max(self._mem_peak_open, mem)

    def snapshot(self) -> NvmlSnapshot:
        """Read the energy counters (and power of older GPUs); cheap for Volta and newer."""
        if self._closed:
            raise NvmlReadError("NvmlMeter.snapshot: the meter is closed; probe a new one")
        counters: dict[int, float] = {}
        for i, dev in enumerate(self._devices):
            if dev.method == "energy-counter":
                try:
                    counters[i] = float(
                        self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handles[i])
                    )
                except self._nvml.NVMLError as exc:
                    raise NvmlReadError(
                        f"could not read the energy counter of {dev.uuid} ({dev.name}): {exc}"
                    ) from exc
        power = self._read_power(self._power_idx)
        with self._lock:
            t = self._clock()
            self._advance_locked(t, power, None)
            energy = tuple(
                counters.get(i, self._integrated_mj[i]) for i in range(len(self._devices))
            )
            self._mem_closed_peaks.append(self._mem_peak_open)
            self._mem_peak_open = self._mem_used
            return NvmlSnapshot(
                t_ns=t,
                energy_mj=energy,
                busy_ms=self._busy_ms,
                mem_segment=len(self._mem_closed_peaks),
                mem_used_bytes=self._mem_used,
            )

    def delta(self, before: Any, after: Any) -> EnergyDelta:
        """Joules of all selected GPUs, plus ``gpu_ms`` and ``gpu_mem_peak_mb``."""
        if not (isinstance(before, NvmlSnapshot) and isinstance(after, NvmlSnapshot)):
            raise ValueError(
                f"NvmlMeter.delta: expected two NvmlSnapshot values from snapshot(), "
                f"got {type(before).__name__} and {type(after).__name__}"
            )
        if after.t_ns < before.t_ns:
            raise ValueError(
                "NvmlMeter.delta: the snapshots were passed in the wrong order "
                "(after was taken before before)"
            )
        total_mj = 0.0
        for dev, b, a in zip(self._devices, before.energy_mj, after.energy_mj, strict=True):
            if a < b:
                raise NvmlReadError(
                    f"the energy counter of {dev.uuid} ({dev.name}) went backwards "
                    f"({b:.0f} mJ -> {a:.0f} mJ): the driver was reloaded or the GPU reset "
                    "during the window, so this window cannot be measured"
                )
            total_mj += a - b
        extra: dict[str, float] = {}
        if self._util_ok:
            extra["gpu_ms"] = after.busy_ms - before.busy_ms
        if self._mem_ok:
            with self._lock:
                peaks = self._mem_closed_peaks[before.mem_segment : after.mem_segment]
            extra["gpu_mem_peak_mb"] = max(peaks, default=before.mem_used_bytes) / _MIB
        return EnergyDelta(joules={"gpu": total_mj / 1000.0}, extra=extra)

    def describe(self) -> dict[str, Any]:
        """Devices (UUID, name, method), polling interval, driver and notes."""
        info: dict[str, Any] = {
            "backend": "nvml",
            "scope": "device",
            "devices": [
                {
                    "nvml_index": d.nvml_index,
                    "uuid": d.uuid,
                    "name": d.name,
                    "method": d.method,
                    "unit": "mJ counter"
                    if d.method == "energy-counter"
                    else f"mW polled every {self._poll_interval_s} s, trapezoid-integrated",
                }
                for d in self._devices
            ],
            "poll_interval_s": self._poll_interval_s,
            "cuda_visible_devices": self._visible,
            "driver_version": self._driver_version,
            "notes": list(self._notes),
        }
        if self._sample_error is not None:
            info["sample_error"] = self._sample_error
        return info

    def close(self) -> None:
        """Stop the polling thread and shut NVML down (safe to call twice)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._closed:
                return
            self._closed = True
        # An error here means NVML is already shut down; there is nothing left to release.
        with contextlib.suppress(self._nvml.NVMLError):
            self._nvml.nvmlShutdown()

    # -- sampling -------------------------------------------------------------

    def _prime(self) -> None:
        power = self._read_power(self._power_idx)
        util = self._read_util() if self._util_ok else None
        mem = self._read_mem() if self._mem_ok else None
        self._t_ns = self._clock()
        for i, p in power.items():
            self._power_mw[i] = p
        if util is not None:
            self._util_pct = list(util)
        if mem is not None:
            self._mem_used = self._mem_peak_open = mem

    def _advance_locked(
        self, t_ns: int, power: dict[int, float], util: Sequence[float] | None
    ) -> None:
        """Integrate from the previous sample to ``t_ns``; missing readings are held."""
        dt_s = max(0, t_ns - self._t_ns) / 1e9
        for i in self._power_idx:
            new = power.get(i, self._power_mw[i])
            self._integrated_mj[i] += (self._power_mw[i] + new) / 2 * dt_s
            self._power_mw[i] = new
        new_util = list(util) if util is not None else self._util_pct
        for old_u, new_u in zip(self._util_pct, new_util, strict=True):
            self._busy_ms += (old_u + new_u) / 2 / 100 * dt_s * 1000
        self._util_pct = new_util
        self._t_ns = max(self._t_ns, t_ns)

    def _read_power(self, indices: Sequence[int]) -> dict[int, float]:
        out: dict[int, float] = {}
        for i in indices:
            try:
                out[i] = float(self._nvml.nvmlDeviceGetPowerUsage(self._handles[i]))
            except self._nvml.NVMLError as exc:
                # Hold the last reading; describe() shows what went wrong.
                self._sample_error = f"power of {self._devices[i].uuid}: {exc}"
        return out

    def _read_util(self) -> list[float] | None:
        try:
            return [float(self._nvml.nvmlDeviceGetUtilizationRates(h).gpu) for h in self._handles]
        except self._nvml.NVMLError as exc:
            self._sample_error = f"utilisation: {exc}"
            return None

    def _read_mem(self) -> int | None:
        try:
            return sum(int(self._nvml.nvmlDeviceGetMemoryInfo(h).used) for h in self._handles)
        except self._nvml.NVMLError as exc:
            self._sample_error = f"memory: {exc}"
            return None

    def _poll_loop(self) -> None:
        while not self._stop.wait(self._poll_interval_s):
            try:
                self.sample()
            except Exception as exc:  # a dying poller would freeze the figures
                self._sample_error = f"{type(exc).__name__}: {exc}"


def probe(
    nvml: ModuleType | None = None,
    visible_devices: str | _Env | None = FROM_ENV,
    poll_interval_s: float = 0.1,
    *,
    clock: Callable[[], int] = time.perf_counter_ns,
    start_thread: bool = True,
) -> NvmlMeter | Unavailable:
    """Start NVML and select GPUs; never raises.

    ``nvml`` is the ``pynvml`` module (imported here when omitted). ``visible_devices``
    follows ``CUDA_VISIBLE_DEVICES`` syntax; by default the variable is read now, and
    ``None`` means every GPU. ``poll_interval_s`` paces the sampling thread (keep it at
    0.05 s or more on real GPUs: NVML calls serialise with the driver). ``clock`` and
    ``start_thread`` exist for tests.
    """
    if isinstance(visible_devices, _Env):
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    else:
        visible = visible_devices
    if not poll_interval_s > 0:
        return Unavailable(
            "nvml", f"poll_interval_s must be a positive number of seconds, got {poll_interval_s!r}"
        )
    if nvml is None:
        if _find_spec("pynvml") is None:
            return Unavailable("nvml", f"the pynvml module is not installed; {_INSTALL_HINT}")
        if visible is not None and visible.strip() == "":
            return Unavailable("nvml", "CUDA_VISIBLE_DEVICES is empty, so no GPU is visible")
        if (missing_library := _library_missing()) is not None:
            # what nvmlInit would say, without importing pynvml (about 10 ms) to hear it
            return Unavailable("nvml", f"NVML could not start: {missing_library}")
        try:
            # The deprecated `pynvml` distribution wraps nvidia-ml-py and warns on import;
            # under -W error that warning must not break the session.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                nvml = importlib.import_module("pynvml")
        except ImportError:
            return Unavailable("nvml", f"the pynvml module is not installed; {_INSTALL_HINT}")
    missing = [name for name in _REQUIRED if not hasattr(nvml, name)]
    if missing:
        return Unavailable(
            "nvml",
            f"the installed pynvml module lacks {', '.join(missing)} (an old or unofficial "
            f"copy); pip uninstall nvidia-ml-py3 and {_INSTALL_HINT}",
        )
    if visible is not None and visible.strip() == "":
        return Unavailable("nvml", "CUDA_VISIBLE_DEVICES is empty, so no GPU is visible")

    try:
        nvml.nvmlInit()
    except nvml.NVMLError as exc:
        return Unavailable("nvml", f"NVML could not start: {exc}{_init_hint(nvml, exc)}")
    except Exception as exc:  # probing must never break a test session
        return Unavailable("nvml", f"NVML could not start: {exc!r}")
    try:
        meter_or_reason = _select(nvml, visible, poll_interval_s, clock, start_thread)
    except Exception as exc:  # probing must never break a test session
        meter_or_reason = f"NVML failed while listing GPUs: {exc}"
    if isinstance(meter_or_reason, str):
        with contextlib.suppress(Exception):  # already failing; keep the first reason
            nvml.nvmlShutdown()
        return Unavailable("nvml", meter_or_reason)
    return meter_or_reason


def _find_spec(name: str) -> object:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _library_missing(platform: str = sys.platform, name: str = LINUX_LIBRARY) -> str | None:
    """On Linux, why NVML's library does not load (None when it loads, or elsewhere:
    pynvml looks for it in other places there)."""
    if not platform.startswith("linux"):
        return None
    try:
        ctypes.CDLL(name)
    except OSError:
        return _LIBRARY_NOT_FOUND + _NO_DRIVER_HINT
    return None


def _init_hint(nvml: ModuleType, exc: Exception) -> str:
    value = getattr(exc, "value", None)
    if value == getattr(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", object()):
        return _NO_DRIVER_HINT
    if value == getattr(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", object()):
        return " (the NVIDIA kernel driver is not loaded: check `nvidia-smi`)"
    if value == getattr(nvml, "NVML_ERROR_NO_PERMISSION", object()):
        return " (no permission to open /dev/nvidia*)"
    return ""


def _select(
    nvml: ModuleType,
    visible: str | None,
    poll_interval_s: float,
    clock: Callable[[], int],
    start_thread: bool,
) -> NvmlMeter | str:
    count = int(nvml.nvmlDeviceGetCount())
    uuids = [
        _text(nvml.nvmlDeviceGetUUID(nvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)
    ]
    if count == 0:
        return "NVML sees no NVIDIA GPU on this host"
    chosen, notes = _parse_visible(visible, uuids)
    if isinstance(chosen, str):
        return chosen

    names = {
        _text(nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)
    }
    if (
        visible is not None
        and any(e.strip().isdigit() for e in visible.split(","))
        and len(names) > 1
        and os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID"
    ):
        notes.append(
            "CUDA_VISIBLE_DEVICES indices were read in NVML (PCI bus) order, but CUDA orders "
            "mixed GPU models fastest first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; set it, or "
            "list GPUs by UUID"
        )

    handles: list[Any] = []
    devices: list[GpuDevice] = []
    for idx in chosen:
        handle = nvml.nvmlDeviceGetHandleByUUID(uuids[idx])
        name = _text(nvml.nvmlDeviceGetName(handle))
        method: Method = "energy-counter"
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        except nvml.NVMLError as exc:
            if getattr(exc, "value", None) != nvml.NVML_ERROR_NOT_SUPPORTED:
                return f"cannot read the energy counter of {uuids[idx]} ({name}): {exc}"
            method = "power-integrated"
            try:
                nvml.nvmlDeviceGetPowerUsage(handle)
            except nvml.NVMLError as exc2:
                return f"{uuids[idx]} ({name}) reports neither energy nor power: {exc2}"
        has_util = _supported(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
        has_mem = _supported(nvml, nvml.nvmlDeviceGetMemoryInfo, handle)
        if not has_util:
            notes.append(f"{uuids[idx]} ({name}) does not report utilisation; no gpu_ms")
        if not has_mem:
            notes.append(f"{uuids[idx]} ({name}) does not report memory; no gpu_mem_peak_mb")
        handles.append(handle)
        devices.append(GpuDevice(idx, uuids[idx], name, method, has_util, has_mem))

    driver: str | None = None
    get_driver = getattr(nvml, "nvmlSystemGetDriverVersion", None)
    if get_driver is not None:
        try:
            driver = _text(get_driver())
        except nvml.NVMLError:
            driver = None
    return NvmlMeter(
        nvml,
        handles,
        devices,
        poll_interval_s,
        visible_devices=visible,
        notes=notes,
        driver_version=driver,
        clock=clock,
        start_thread=start_thread,
    )


def _parse_visible(visible: str | None, uuids: list[str]) -> tuple[list[int] | str, list[str]]:
    """NVML indices selected by a CUDA_VISIBLE_DEVICES value, or a reason for none."""
    if visible is None:
        return list(range(len(uuids))), []
    chosen: list[int] = []
    notes: list[str] = []
    for raw in visible.split(","):
        entry = raw.strip()
        idx: int | None = None
        if entry.upper().startswith("MIG-"):
            return (
                f"CUDA_VISIBLE_DEVICES selects the MIG slice {entry!r}; NVML measures the "
                "energy of whole GPUs only, so a slice cannot be metered",
                notes,
            )
        if entry.isdigit() and int(entry) < len(uuids):
            idx = int(entry)
        elif entry.upper().startswith("GPU-") and len(entry) > 4:
            matches = [i for i, u in enumerate(uuids) if u.lower().startswith(entry.lower())]
            if len(matches) == 1:
                idx = matches[0]
        if idx is None:
            notes.append(
                f"CUDA_VISIBLE_DEVICES entry {entry!r} matches no single GPU; like CUDA, "
                "it and every entry after it are ignored"
            )
            break
        if idx in chosen:
            notes.append(f"CUDA_VISIBLE_DEVICES lists {uuids[idx]} twice; it is counted once")
            continue
        chosen.append(idx)
    if not chosen:
        return (
            f"CUDA_VISIBLE_DEVICES={visible!r} selects none of the {len(uuids)} GPU(s) NVML "
            f"sees ({', '.join(uuids)}); use indices 0-{len(uuids) - 1} or GPU-<uuid>",
            notes,
        )
    return chosen, notes


def _supported(nvml: ModuleType, fn: Callable[[Any], Any], handle: Any) -> bool:
    try:
        fn(handle)
    except nvml.NVMLError:
        return False
    return True


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
