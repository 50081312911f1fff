"""NVML meter against a stand-in pynvml module, and against the real one on this host."""

from __future__ import annotations

import ctypes
import importlib
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from types import ModuleType

import fake_pynvml
import pytest
from fake_pynvml import FakeGpu

from pytest_ragcost.meters.base import EnergyMeter, Unavailable
from pytest_ragcost.meters.nvml import NvmlMeter, NvmlReadError, probe

UUID_A = "GPU-aaaa1111-2222-3333-4444-555555555555"
UUID_B = "GPU-bbbb1111-2222-3333-4444-555555555555"
UUID_C = "GPU-bbbb9999-2222-3333-4444-555555555555"
GIB = 1024**3


class StepClock:
    """A clock the test moves by hand (nanoseconds)."""

    def __init__(self) -> None:
        self.now_ns = 0

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += round(seconds * 1e9)


@pytest.fixture
def fake() -> Iterator[ModuleType]:
    fake_pynvml.configure([])
    yield fake_pynvml
    fake_pynvml.configure([])


def _meter(fake: ModuleType, **kwargs: object) -> NvmlMeter:
    kwargs.setdefault("visible_devices", None)
    kwargs.setdefault("start_thread", False)
    m = probe(fake, **kwargs)  # type: ignore[arg-type]
    assert isinstance(m, NvmlMeter), m
    return m


def _real_pynvml() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return importlib.import_module("pynvml")


def test_fake_agrees_with_the_real_pynvml() -> None:
    real = _real_pynvml()
    for name in dir(fake_pynvml):
        obj = getattr(fake_pynvml, name)
        if name.startswith(("NVML_ERROR_", "NVML_DEVICE_ARCH_", "NVML_SUCCESS")):
            assert getattr(real, name) == obj, name
        elif name.startswith("NVMLError"):
            assert issubclass(getattr(real, name), real.NVMLError), name
        elif name.startswith("nvml"):
            assert callable(getattr(real, name)), name
    for code, cls_name in [(3, "NVMLError_NotSupported"), (12, "NVMLError_LibraryNotFound")]:
        real_err, fake_err = real.NVMLError(code), fake_pynvml.NVMLError(code)
        assert type(real_err).__name__ == type(fake_err).__name__ == cls_name
        assert real_err.value == fake_err.value == code
        assert str(real_err) == str(fake_err)
        assert isinstance(getattr(real, cls_name)(), real.NVMLError)
        assert getattr(fake_pynvml, cls_name)().value == code
    for struct in ("c_nvmlMemory_t", "c_nvmlUtilization_t"):
        real_fields = [(n, t) for n, t, *_ in getattr(real, struct)._fields_]
        fake_fields = [(n, t) for n, t, *_ in getattr(fake_pynvml, struct)._fields_]
        assert fake_fields == real_fields
        assert issubclass(getattr(fake_pynvml, struct), ctypes.Structure)


def test_volta_energy_counter_deltas(fake: ModuleType) -> None:
    fake.configure([FakeGpu(UUID_A, energy_mj=10_000), FakeGpu(UUID_B, energy_mj=5)])
    m = _meter(fake)
    try:
        assert isinstance(m, EnergyMeter)
        assert m.domains == ("gpu",)
        before = m.snapshot()
        fake._gpus[0].energy_mj = 11_500
        fake._gpus[1].energy_mj = 2_505
        d = m.delta(before, m.snapshot())
        assert d.joules == {"gpu": pytest.approx(4.0)}
        assert [dev["method"] for dev in m.describe()["devices"]] == ["energy-counter"] * 2
        # Volta and newer need no power polling.
        assert fake.calls["nvmlDeviceGetPowerUsage"] == 0
    finally:
        m.close()


def test_pre_volta_power_is_integrated_with_the_trapezoid_rule(fake: ModuleType) -> None:
    gpu = FakeGpu(UUID_A, name="Tesla P100-PCIE-16GB", energy_mj=None, power_mw=100_000)
    fake.configure([gpu])
    clock = StepClock()
    m = _meter(fake, clock=clock)
    try:
        assert m.describe()["devices"][0]["method"] == "power-integrated"
        assert "trapezoid" in m.describe()["devices"][0]["unit"]
        clock.advance(1.0)
        before = m.snapshot()  # reads 100 W
        gpu.power_mw = 200_000
        clock.advance(1.0)
        m.sample()  # 100 W -> 200 W over 1 s: 150 J
        clock.advance(1.0)
        after = m.snapshot()  # 200 W held for 1 s: 200 J
        assert m.delta(before, after).joules["gpu"] == pytest.approx(350.0)
        gpu.power_mw = 0
        clock.advance(2.0)
        last = m.snapshot()  # 200 W -> 0 W over 2 s: 200 J
        assert m.delta(after, last).joules["gpu"] == pytest.approx(200.0)
        assert m.delta(before, last).joules["gpu"] == pytest.approx(550.0)
    finally:
        m.close()


def test_pre_volta_with_the_real_thread_stays_within_timing_bounds(fake: ModuleType) -> None:
    gpu = FakeGpu(UUID_A, energy_mj=None, power_mw=50_000, util_gpu_pct=40)
    fake.configure([gpu])
    m = _meter(fake, poll_interval_s=0.001, start_thread=True)
    try:
        t0 = time.perf_counter_ns()
        before = m.snapshot()
        t1 = time.perf_counter_ns()
        polls = fake.calls["nvmlDeviceGetPowerUsage"]
        deadline = time.monotonic() + 10
        while fake.calls["nvmlDeviceGetPowerUsage"] < polls + 5:
            assert time.monotonic() < deadline, "the polling thread never sampled"
            time.sleep(0.002)
        t2 = time.perf_counter_ns()
        after = m.snapshot()
        t3 = time.perf_counter_ns()
        d = m.delta(before, after)
        # Constant power: the integral is power x the time between the two snapshots'
        # own clock reads, which lie inside [t0, t1] and [t2, t3].
        inner_s, outer_s = (t2 - t1) / 1e9, (t3 - t0) / 1e9
        assert 50.0 * inner_s * (1 - 1e-9) <= d.joules["gpu"] <= 50.0 * outer_s * (1 + 1e-9)
        assert 0.4 * inner_s * 1e3 * (1 - 1e-9) <= d.extra["gpu_ms"]
        assert d.extra["gpu_ms"] <= 0.4 * outer_s * 1e3 * (1 + 1e-9)
    finally:
        m.close()


def test_gpu_ms_and_memory_peak(fake: ModuleType) -> None:
    gpu = FakeGpu(UUID_A, energy_mj=0, util_gpu_pct=0, memory_used_bytes=1 * GIB)
    fake.configure([gpu])
    clock = StepClock()
    m = _meter(fake, clock=clock)
    try:
        a = m.snapshot()
        gpu.util_gpu_pct, gpu.memory_used_bytes = 100, 3 * GIB
        clock.advance(1.0)
        m.sample()  # utilisation 0 -> 100 % over 1 s: 500 ms busy
        gpu.memory_used_bytes = 2 * GIB
        clock.advance(1.0)
        m.sample()  # 100 % for 1 s: 1000 ms busy
        b = m.snapshot()
        clock.advance(0.5)
        c = m.snapshot()  # 100 % held for 0.5 s; no sample, memory stays at 2 GiB
        ab, bc, ac = m.delta(a, b), m.delta(b, c), m.delta(a, c)
        assert ab.extra == {"gpu_ms": pytest.approx(1500.0), "gpu_mem_peak_mb": 3072.0}
        assert bc.extra == {"gpu_ms": pytest.approx(500.0), "gpu_mem_peak_mb": 2048.0}
        assert ac.extra == {"gpu_ms": pytest.approx(2000.0), "gpu_mem_peak_mb": 3072.0}
        assert m.delta(c, c).extra["gpu_mem_peak_mb"] == 2048.0
    finally:
        m.close()


def test_memory_peak_sums_devices(fake: ModuleType) -> None:
    fake.configure(
        [FakeGpu(UUID_A, memory_used_bytes=GIB), FakeGpu(UUID_B, memory_used_bytes=2 * GIB)]
    )
    m = _meter(fake)
    try:
        before = m.snapshot()
        fake._gpus[1].memory_used_bytes = 5 * GIB
        m.sample()
        fake._gpus[1].memory_used_bytes = 0
        m.sample()
        assert m.delta(before, m.snapshot()).extra["gpu_mem_peak_mb"] == 6144.0
    finally:
        m.close()


def test_utilisation_unsupported_drops_gpu_ms(fake: ModuleType) -> None:
    gpu = FakeGpu(UUID_A, failures={"nvmlDeviceGetUtilizationRates": 3})
    fake.configure([gpu])
    m = _meter(fake)
    try:
        d = m.delta(m.snapshot(), m.snapshot())
        assert "gpu_ms" not in d.extra
        assert "gpu_mem_peak_mb" in d.extra
        assert any("utilisation" in n for n in m.describe()["notes"])
    finally:
        m.close()


def _three(fake: ModuleType) -> None:
    fake.configure(
        [
            FakeGpu(UUID_A, energy_mj=0),
            FakeGpu(UUID_B, energy_mj=0),
            FakeGpu(UUID_C, energy_mj=0),
        ]
    )


@pytest.mark.parametrize(
    ("visible", "expected"),
    [
        ("1", [UUID_B]),
        ("2,0", [UUID_C, UUID_A]),
        (UUID_B, [UUID_B]),
        ("GPU-bbbb9", [UUID_C]),
        (" GPU-AAAA ,1", [UUID_A, UUID_B]),
        ("0,7,1", [UUID_A]),  # CUDA ignores an invalid entry and all after it
        ("0,GPU-bbbb,2", [UUID_A]),  # an ambiguous prefix is invalid too
        ("1,1", [UUID_B]),
    ],
)
def test_cuda_visible_devices(fake: ModuleType, visible: str, expected: list[str]) -> None:
    _three(fake)
    m = _meter(fake, visible_devices=visible)
    try:
        assert [d.uuid for d in m.devices] == expected
        assert m.describe()["cuda_visible_devices"] == visible
    finally:
        m.close()


def test_only_visible_devices_are_metered(fake: ModuleType) -> None:
    _three(fake)
    m = _meter(fake, visible_devices="1")
    try:
        before = m.snapshot()
        for gpu in fake._gpus:
            gpu.energy_mj = (gpu.energy_mj or 0) + 1000 * (fake._gpus.index(gpu) + 1)
        assert m.delta(before, m.snapshot()).joules["gpu"] == pytest.approx(2.0)
    finally:
        m.close()


def test_truncated_list_is_noted(fake: ModuleType) -> None:
    _three(fake)
    m = _meter(fake, visible_devices="0,7,1")
    try:
        assert any("'7'" in n and "ignored" in n for n in m.describe()["notes"])
    finally:
        m.close()


def test_visible_devices_read_from_the_environment(
    fake: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    _three(fake)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    m = probe(fake, start_thread=False)
    assert isinstance(m, NvmlMeter)
    try:
        assert [d.uuid for d in m.devices] == [UUID_C]
    finally:
        m.close()


def test_empty_visible_devices_means_no_gpu_and_no_nvml_start(fake: ModuleType) -> None:
    _three(fake)
    result = probe(fake, visible_devices="")
    assert isinstance(result, Unavailable)
    assert result.name == "nvml"
    assert "CUDA_VISIBLE_DEVICES is empty" in result.reason
    assert fake.calls["nvmlInitWithFlags"] == 0


@pytest.mark.parametrize("visible", ["5", "GPU-ffff", "-1", "GPU-bbbb"])
def test_visible_devices_matching_nothing(fake: ModuleType, visible: str) -> None:
    _three(fake)
    result = probe(fake, visible_devices=visible)
    assert isinstance(result, Unavailable)
    assert f"CUDA_VISIBLE_DEVICES={visible!r} selects none of the 3 GPU(s)" in result.reason
    assert UUID_A in result.reason
    assert not fake.initialised(), "NVML must be shut down when probing gives up"


def test_mig_slices_are_refused(fake: ModuleType) -> None:
    _three(fake)
    result = probe(fake, visible_devices="MIG-0f2a6b8c-1d2e-5a3b-9c4d-0123456789ab")
    assert isinstance(result, Unavailable)
    assert "MIG" in result.reason
    assert "whole GPUs" in result.reason


def test_mixed_models_by_index_warn_about_cuda_order(
    fake: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    fake.configure([FakeGpu(UUID_A, name="Tesla T4"), FakeGpu(UUID_B)])
    m = _meter(fake, visible_devices="1")
    try:
        assert any("CUDA_DEVICE_ORDER=PCI_BUS_ID" in n for n in m.describe()["notes"])
    finally:
        m.close()
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    m = _meter(fake, visible_devices="1")
    try:
        assert m.describe()["notes"] == []
    finally:
        m.close()


def test_library_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    result = probe(visible_devices=None)
    assert isinstance(result, Unavailable)
    assert "pip install 'pytest-ragcost[gpu]'" in result.reason


def test_stale_module_without_the_energy_call(fake: ModuleType) -> None:
    stale = ModuleType("pynvml")
    stale.__dict__.update(
        {k: v for k, v in vars(fake).items() if k != "nvmlDeviceGetTotalEnergyConsumption"}
    )
    result = probe(stale, visible_devices=None)
    assert isinstance(result, Unavailable)
    assert "nvmlDeviceGetTotalEnergyConsumption" in result.reason
    assert "pytest-ragcost[gpu]" in result.reason


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (fake_pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "NVML Shared Library Not Found"),
        (fake_pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "Driver Not Loaded"),
    ],
)
def test_init_failure_gives_the_reason(fake: ModuleType, code: int, text: str) -> None:
    fake.configure([FakeGpu(UUID_A)], init_error=code)
    result = probe(fake, visible_devices=None)
    assert isinstance(result, Unavailable)
    assert result.reason.startswith(f"NVML could not start: {text} (")


def test_no_gpu_after_init_shuts_nvml_down(fake: ModuleType) -> None:
    fake.configure([])
    result = probe(fake, visible_devices=None)
    assert isinstance(result, Unavailable)
    assert "no NVIDIA GPU" in result.reason
    assert not fake.initialised()


def test_energy_call_failing_otherwise_is_unavailable(fake: ModuleType) -> None:
    gpu = FakeGpu(UUID_A, failures={"nvmlDeviceGetTotalEnergyConsumption": 4})
    fake.configure([gpu])
    result = probe(fake, visible_devices=None)
    assert isinstance(result, Unavailable)
    assert "Insufficient Permissions" in result.reason
    assert UUID_A in result.reason


def test_counter_running_backwards_is_an_error_not_zero(fake: ModuleType) -> None:
    gpu = FakeGpu(UUID_A, energy_mj=50_000)
    fake.configure([gpu])
    m = _meter(fake)
    try:
        before = m.snapshot()
        gpu.energy_mj = 10  # driver reloaded
        with pytest.raises(NvmlReadError, match="went backwards"):
            m.delta(before, m.snapshot())
    finally:
        m.close()


def test_close_stops_the_thread_and_shuts_nvml_down(fake: ModuleType) -> None:
    fake.configure([FakeGpu(UUID_A, energy_mj=None)])
    m = _meter(fake, poll_interval_s=0.001, start_thread=True)
    deadline = time.monotonic() + 10
    while fake.calls["nvmlDeviceGetPowerUsage"] < 3:
        assert time.monotonic() < deadline, "the polling thread never sampled"
        time.sleep(0.002)
    m.close()
    assert not fake.initialised()
    polls = fake.calls["nvmlDeviceGetPowerUsage"]
    time.sleep(0.02)
    assert fake.calls["nvmlDeviceGetPowerUsage"] == polls
    m.close()  # a second close is harmless
    assert fake.calls["nvmlShutdown"] == 1
    with pytest.raises(NvmlReadError, match="closed"):
        m.snapshot()


def test_bad_poll_interval(fake: ModuleType) -> None:
    result = probe(fake, visible_devices=None, poll_interval_s=0)
    assert isinstance(result, Unavailable)
    assert "poll_interval_s" in result.reason


def test_real_pynvml_on_this_host_gives_a_reason_not_an_exception() -> None:
    real = _real_pynvml()
    result = probe(real, visible_devices=None)
    if isinstance(result, NvmlMeter):
        result.close()
        pytest.skip("this host has a working NVIDIA GPU")
    assert isinstance(result, Unavailable)
    assert result.reason.startswith("NVML could not start: ")
    # Also through the lazy import path, as the plugin will call it.
    lazy = probe(visible_devices=None)
    assert isinstance(lazy, Unavailable)
    assert lazy.reason == result.reason


def test_a_library_that_does_not_load_is_named_without_pynvml() -> None:
    from pytest_ragcost.meters.nvml import _library_missing

    reason = _library_missing(name="libragcost-no-such-library.so.1")
    assert reason == ("NVML Shared Library Not Found (libnvidia-ml.so.1 was not found: no "
                      "NVIDIA driver is installed on this host)")
    # elsewhere pynvml looks in places of its own: it is asked
    assert _library_missing(platform="win32", name="libragcost-no-such-library.so.1") is None


def test_a_host_without_nvml_is_told_so_without_importing_pynvml() -> None:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        pass
    else:
        pytest.skip("NVML's library loads on this host")
    if not sys.platform.startswith("linux"):
        pytest.skip("the library is looked for without pynvml on Linux only")
    probe_code = (
        "import sys\n"
        "from pytest_ragcost.meters.nvml import probe\n"
        "print(probe(visible_devices=None).reason)\n"
        "print('pynvml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe_code], capture_output=True, text=True,
                         check=True)
    reason, imported = out.stdout.splitlines()
    assert reason.startswith("NVML could not start: NVML Shared Library Not Found (")
    assert imported == "False"
