"""A stand-in for the ``pynvml`` module of nvidia-ml-py, for tests on hosts without a GPU.

Function names, return types, units and error classes follow the real module:
energy in millijoules, power in milliwatts, memory in bytes, ``nvmlDeviceGetUUID``
returning ``"GPU-..."`` as ``str``, ``NVMLError(value)`` turning itself into the
subclass for that code (``NVMLError_NotSupported`` ...) with the code in ``.value``.
``tests/test_meter_nvml.py`` checks the constants and class names against the real
module.

State lives in this module; call :func:`configure` at the start of each test.
"""

from __future__ import annotations

import ctypes
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999

NVML_DEVICE_ARCH_KEPLER = 2
NVML_DEVICE_ARCH_MAXWELL = 3
NVML_DEVICE_ARCH_PASCAL = 4
NVML_DEVICE_ARCH_VOLTA = 5
NVML_DEVICE_ARCH_AMPERE = 7
NVML_DEVICE_ARCH_HOPPER = 9

_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """``NVMLError(code)`` builds the subclass registered for ``code``."""

    _by_code: ClassVar[dict[int, type[NVMLError]]] = {}
    _code: ClassVar[int | None] = None
    value: int

    def __new__(cls, value: int | None = None) -> NVMLError:
        if cls._code is not None:
            value = cls._code
        elif value is not None:
            cls = NVMLError._by_code.get(value, cls)
        if value is None:
            raise TypeError("NVMLError needs an error code")
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if cls._code is not None:
            NVMLError._by_code[cls._code] = cls

    def __str__(self) -> str:
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


class NVMLError_Uninitialized(NVMLError):  # pynvml's own class names
    _code = NVML_ERROR_UNINITIALIZED


class NVMLError_InvalidArgument(NVMLError):
    _code = NVML_ERROR_INVALID_ARGUMENT


class NVMLError_NotSupported(NVMLError):
    _code = NVML_ERROR_NOT_SUPPORTED


class NVMLError_NoPermission(NVMLError):
    _code = NVML_ERROR_NO_PERMISSION


class NVMLError_NotFound(NVMLError):
    _code = NVML_ERROR_NOT_FOUND


class NVMLError_DriverNotLoaded(NVMLError):
    _code = NVML_ERROR_DRIVER_NOT_LOADED


class NVMLError_LibraryNotFound(NVMLError):
    _code = NVML_ERROR_LIBRARY_NOT_FOUND


class NVMLError_GpuIsLost(NVMLError):
    _code = NVML_ERROR_GPU_IS_LOST


class NVMLError_Unknown(NVMLError):
    _code = NVML_ERROR_UNKNOWN


class c_nvmlMemory_t(ctypes.Structure):
    _fields_ = [
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    ]


class c_nvmlUtilization_t(ctypes.Structure):
    _fields_ = [
        ("gpu", ctypes.c_uint),
        ("memory", ctypes.c_uint),
    ]


@dataclass
class FakeGpu:
    """One simulated board. Change its fields while a meter runs."""

    uuid: str
    name: str = "NVIDIA A100-SXM4-40GB"
    architecture: int = NVML_DEVICE_ARCH_AMPERE
    #: driver energy counter; ``None`` makes the energy call raise NotSupported (pre-Volta)
    energy_mj: int | None = 0
    power_mw: int = 60_000
    util_gpu_pct: int = 0
    util_memory_pct: int = 0
    memory_total_bytes: int = 40 * 1024**3
    memory_used_bytes: int = 0
    #: functions that raise this code for this board, e.g. {"nvmlDeviceGetMemoryInfo": 3}
    failures: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Handle:
    """What nvmlDeviceGetHandleBy* returns; the real one is an opaque ctypes pointer."""

    index: int


_lock = threading.Lock()
_gpus: list[FakeGpu] = []
_init_error: int | None = None
_init_count = 0
#: how many times each function was called since configure()
calls: Counter[str] = Counter()
_nvmlGetFunctionPointer = object()  # present in the official bindings; some tools check it


def configure(gpus: list[FakeGpu], *, init_error: int | None = None) -> None:
    """Reset the fake: these boards, and nvmlInit failing with ``init_error`` if given."""
    global _init_error, _init_count
    with _lock:
        _gpus[:] = gpus
        _init_error = init_error
        _init_count = 0
        calls.clear()


def initialised() -> bool:
    return _init_count > 0


def _enter(fn: str, handle: _Handle | None = None) -> FakeGpu | None:
    calls[fn] += 1
    if _init_count <= 0:
        raise NVMLError(NVML_ERROR_UNINITIALIZED)
    if handle is None:
        return None
    if not isinstance(handle, _Handle) or not 0 <= handle.index < len(_gpus):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    gpu = _gpus[handle.index]
    if fn in gpu.failures:
        raise NVMLError(gpu.failures[fn])
    return gpu


def _gpu(fn: str, handle: _Handle) -> FakeGpu:
    gpu = _enter(fn, handle)
    assert gpu is not None
    return gpu


def nvmlInitWithFlags(flags: int) -> None:
    global _init_count
    calls["nvmlInitWithFlags"] += 1
    if _init_error is not None:
        raise NVMLError(_init_error)
    _init_count += 1


def nvmlInit() -> None:
    nvmlInitWithFlags(0)


def nvmlShutdown() -> None:
    global _init_count
    _enter("nvmlShutdown")
    _init_count -= 1


def nvmlSystemGetDriverVersion() -> str:
    _enter("nvmlSystemGetDriverVersion")
    return "580.95.05"


def nvmlDeviceGetCount() -> int:
    _enter("nvmlDeviceGetCount")
    return len(_gpus)


def nvmlDeviceGetHandleByIndex(index: int) -> _Handle:
    _enter("nvmlDeviceGetHandleByIndex")
    if not 0 <= index < len(_gpus):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return _Handle(index)


def nvmlDeviceGetHandleByUUID(uuid: str) -> _Handle:
    _enter("nvmlDeviceGetHandleByUUID")
    for i, gpu in enumerate(_gpus):
        if gpu.uuid == uuid:
            return _Handle(i)
    raise NVMLError(NVML_ERROR_NOT_FOUND)


def nvmlDeviceGetIndex(handle: _Handle) -> int:
    _gpu("nvmlDeviceGetIndex", handle)
    return handle.index


def nvmlDeviceGetUUID(handle: _Handle) -> str:
    return _gpu("nvmlDeviceGetUUID", handle).uuid


def nvmlDeviceGetName(handle: _Handle) -> str:
    return _gpu("nvmlDeviceGetName", handle).name


def nvmlDeviceGetArchitecture(handle: _Handle) -> int:
    return _gpu("nvmlDeviceGetArchitecture", handle).architecture


def nvmlDeviceGetTotalEnergyConsumption(handle: _Handle) -> int:
    gpu = _gpu("nvmlDeviceGetTotalEnergyConsumption", handle)
    if gpu.energy_mj is None:
        raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
    return gpu.energy_mj


def nvmlDeviceGetPowerUsage(handle: _Handle) -> int:
    return _gpu("nvmlDeviceGetPowerUsage", handle).power_mw


def nvmlDeviceGetUtilizationRates(handle: _Handle) -> c_nvmlUtilization_t:
    gpu = _gpu("nvmlDeviceGetUtilizationRates", handle)
    return c_nvmlUtilization_t(gpu.util_gpu_pct, gpu.util_memory_pct)


def nvmlDeviceGetMemoryInfo(handle: _Handle, version: int | None = None) -> c_nvmlMemory_t:
    gpu = _gpu("nvmlDeviceGetMemoryInfo", handle)
    used = gpu.memory_used_bytes
    return c_nvmlMemory_t(gpu.memory_total_bytes, gpu.memory_total_bytes - used, used)
