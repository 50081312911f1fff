"""RAPL meter against fake powercap trees built in the kernel's sysfs format."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from powercap_tree import MAX_RANGE_15UJ, MAX_RANGE_61UJ, PowercapTree, intel_two_socket

from pytest_ragcost.meters.base import EnergyMeter, Unavailable
from pytest_ragcost.meters.rapl import RaplMeter, RaplReadError, probe


def _meter(root: Path, **kwargs: object) -> RaplMeter:
    kwargs.setdefault("wrap_guard_s", None)
    m = probe(root, **kwargs)  # type: ignore[arg-type]
    assert isinstance(m, RaplMeter), m
    return m


@pytest.fixture
def tree(tmp_path: Path) -> PowercapTree:
    return PowercapTree(tmp_path)


def test_single_package(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 5_000_000)
    m = _meter(tree.root)
    try:
        assert isinstance(m, EnergyMeter)
        assert m.domains == ("cpu",)
        before = m.snapshot()
        tree.add_energy("intel-rapl:0", 1_500_000)
        after = m.snapshot()
        d = m.delta(before, after)
        assert d.joules == {"cpu": pytest.approx(1.5)}
        assert d.extra == {}
    finally:
        m.close()


def test_describe_lists_zones_paths_and_ranges(tmp_path: Path) -> None:
    tree = intel_two_socket(tmp_path)
    m = _meter(tree.root)
    try:
        info = m.describe()
        zones = {z["zone"]: z for z in info["zones"]}
        assert set(zones) == {"intel-rapl:0", "intel-rapl:1", "intel-rapl:0:1", "intel-rapl:1:1"}
        assert zones["intel-rapl:0:1"]["domain"] == "dram"
        assert zones["intel-rapl:0:1"]["package"] == "package-0"
        assert zones["intel-rapl:1"]["max_energy_range_uj"] == MAX_RANGE_61UJ
        assert zones["intel-rapl:1:1"]["max_energy_range_uj"] == MAX_RANGE_15UJ
        assert Path(zones["intel-rapl:0"]["path"]).joinpath("energy_uj").is_file()
        skipped = {s["name"] for s in info["skipped"]}
        assert skipped == {"core", "psys"}
        assert info["root"] == str(tree.root)
    finally:
        m.close()


def test_two_packages_and_dram_summed_psys_and_core_not(tmp_path: Path) -> None:
    tree = intel_two_socket(tmp_path)
    m = _meter(tree.root)
    try:
        assert m.domains == ("cpu", "dram")
        before = m.snapshot()
        tree.add_energy("intel-rapl:0", 2_000_000)
        tree.add_energy("intel-rapl:1", 3_000_000)
        tree.add_energy("intel-rapl:0:1", 250_000)
        tree.add_energy("intel-rapl:1:1", 500_000)
        # Nested or enclosing domains move too on real hardware; none may be added.
        tree.add_energy("intel-rapl:0:0", 1_000_000)
        tree.add_energy("intel-rapl:1:0", 1_000_000)
        tree.add_energy("intel-rapl:2", 9_000_000)
        d = m.delta(before, m.snapshot())
        assert d.joules["cpu"] == pytest.approx(5.0)
        assert d.joules["dram"] == pytest.approx(0.75)
    finally:
        m.close()


@pytest.mark.parametrize(("domains", "expected"), [(("cpu",), 5.0), (("dram",), 0.75)])
def test_domain_selection(tmp_path: Path, domains: tuple[str, ...], expected: float) -> None:
    tree = intel_two_socket(tmp_path)
    m = _meter(tree.root, domains=domains)
    try:
        assert m.domains == domains
        before = m.snapshot()
        tree.add_energy("intel-rapl:0", 2_000_000)
        tree.add_energy("intel-rapl:1", 3_000_000)
        tree.add_energy("intel-rapl:0:1", 250_000)
        tree.add_energy("intel-rapl:1:1", 500_000)
        d = m.delta(before, m.snapshot())
        assert dict(d.joules) == {domains[0]: pytest.approx(expected)}
    finally:
        m.close()


def test_amd_package_without_dram_reports_cpu_only(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 10)
    tree.add_zone("intel-rapl:0:0", "core", 10)
    m = _meter(tree.root)
    try:
        assert m.domains == ("cpu",)
        assert set(m.delta(m.snapshot(), m.snapshot()).joules) == {"cpu"}
    finally:
        m.close()


def test_wraparound_adds_the_counter_range(tree: PowercapTree) -> None:
    top = 65_000_000_000
    tree.add_zone("intel-rapl:0", "package-0", top - 1_000_000, max_energy_range_uj=top)
    m = _meter(tree.root)
    try:
        before = m.snapshot()
        tree.set_energy("intel-rapl:0", 4_000_000)  # wrapped: went backwards
        d = m.delta(before, m.snapshot())
        # 1 J to the top, one more unit to reach 0 again, then 4 J.
        assert d.joules["cpu"] == pytest.approx(5.000001, abs=1e-9)
    finally:
        m.close()


def test_wrap_seen_by_an_inner_window_is_counted_once_in_the_outer(tree: PowercapTree) -> None:
    top = 10_000_000
    tree.add_zone("intel-rapl:0", "package-0", 8_000_000, max_energy_range_uj=top - 1)
    m = _meter(tree.root)
    try:
        outer0 = m.snapshot()
        tree.set_energy("intel-rapl:0", 9_000_000)
        inner0 = m.snapshot()
        tree.set_energy("intel-rapl:0", 1_000_000)  # wrap inside the inner window
        inner1 = m.snapshot()
        tree.set_energy("intel-rapl:0", 2_000_000)
        outer1 = m.snapshot()
        assert m.delta(inner0, inner1).joules["cpu"] == pytest.approx(2.0)
        assert m.delta(outer0, outer1).joules["cpu"] == pytest.approx(4.0)
    finally:
        m.close()


def test_wrap_guard_thread_catches_wraps_between_snapshots(tree: PowercapTree) -> None:
    top = 10_000_000
    tree.add_zone("intel-rapl:0", "package-0", 1_000_000, max_energy_range_uj=top - 1)
    m = _meter(tree.root, wrap_guard_s=0.001)
    try:
        assert m.describe()["wrap_guard_s"] == 0.001
        before = m.snapshot()
        # Two full wraps without a snapshot in between: only the guard can see them.
        for value in (6_000_000, 500_000, 6_000_000, 500_000, 1_000_000):
            tree.set_energy("intel-rapl:0", value)
            deadline = time.monotonic() + 10
            while m._last_uj[0] != value:  # wait until the guard has read this value
                assert time.monotonic() < deadline, "wrap guard never read the counter"
                time.sleep(0.001)
        assert m.delta(before, m.snapshot()).joules["cpu"] == pytest.approx(20.0)
    finally:
        m.close()


def test_auto_wrap_guard_interval_is_bounded(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 1)
    m = probe(tree.root)
    assert isinstance(m, RaplMeter)
    try:
        # 262 kJ at an assumed 1 kW wraps after 262 s: a quarter is 65 s, capped at 60.
        assert m.describe()["wrap_guard_s"] == 60.0
    finally:
        m.close()


def test_mmio_mirror_of_msr_package_is_counted_once(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 700)
    tree.add_zone("intel-rapl:0:0", "core", 300)
    tree.add_zone("intel-rapl:1", "psys", 900)
    tree.add_zone("intel-rapl-mmio:0", "package-0", 700)
    m = _meter(tree.root)
    try:
        assert [(z.zone_id, z.control_type) for z in m.zones] == [
            ("intel-rapl-mmio:0", "intel-rapl-mmio")
        ]
        before = m.snapshot()
        for zone in ("intel-rapl:0", "intel-rapl-mmio:0"):
            tree.add_energy(zone, 2_000_000)
        assert m.delta(before, m.snapshot()).joules["cpu"] == pytest.approx(2.0)
        reasons = {s["zone"]: s["reason"] for s in m.describe()["skipped"]}
        assert "intel-rapl-mmio:0" in reasons["intel-rapl:0"]
    finally:
        m.close()


def test_dies_mirroring_one_counter_are_counted_once(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0-die-0", 123_456_789)
    tree.add_zone("intel-rapl:1", "package-0-die-1", 123_456_789)
    m = _meter(tree.root)
    try:
        assert [z.name for z in m.zones] == ["package-0-die-0"]
        before = m.snapshot()
        tree.add_energy("intel-rapl:0", 3_000_000)
        tree.add_energy("intel-rapl:1", 3_000_000)
        assert m.delta(before, m.snapshot()).joules["cpu"] == pytest.approx(3.0)
    finally:
        m.close()


def test_distinct_dies_are_summed(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0-die-0", 123_456_789)
    tree.add_zone("intel-rapl:1", "package-0-die-1", 98_765_432)
    tree.add_zone("intel-rapl:2", "package-1-die-0", 123_456_789)  # other socket
    m = _meter(tree.root)
    try:
        assert len(m.zones) == 3
        before = m.snapshot()
        for zone in ("intel-rapl:0", "intel-rapl:1", "intel-rapl:2"):
            tree.add_energy(zone, 1_000_000)
        assert m.delta(before, m.snapshot()).joules["cpu"] == pytest.approx(3.0)
    finally:
        m.close()


def test_nested_layout_without_class_symlinks(tmp_path: Path) -> None:
    # What a container sees when only the control type directory is bind-mounted.
    tree = PowercapTree(tmp_path, flat_links=False)
    tree.add_zone("intel-rapl:0", "package-0", 10)
    tree.add_zone("intel-rapl:0:0", "dram", 10)
    m = _meter(tree.devices)
    try:
        assert m.domains == ("cpu", "dram")
        before = m.snapshot()
        tree.add_energy("intel-rapl:0:0", 1_000_000)
        assert m.delta(before, m.snapshot()).joules == {"cpu": 0.0, "dram": pytest.approx(1.0)}
    finally:
        m.close()


def _kernel_like_opener(path: str, flags: int) -> int:
    """os.open, except that root is refused files nobody may read, like a non-root user.

    Since Linux 5.10 energy_uj is mode 0400 root:root, so a normal user's open() fails
    with EACCES. Tests may run as root, which bypasses file modes; this opener restores
    the refusal so the meter's PermissionError branch runs for real.
    """
    if os.geteuid() == 0 and not os.stat(path).st_mode & 0o444:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    return os.open(path, flags)


def test_unreadable_energy_uj_explains_the_cve_and_the_fix(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 10)
    tree.energy_file("intel-rapl:0").chmod(0o000)
    result = probe(tree.root, wrap_guard_s=None, opener=_kernel_like_opener)
    assert isinstance(result, Unavailable)
    assert result.name == "rapl"
    assert "CVE-2020-8694" in result.reason
    assert "chmod o+r" in result.reason
    assert str(tree.class_path("intel-rapl:0", "energy_uj")) in result.reason


def test_opener_refusal_is_not_mistaken_for_other_errors(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 10)

    def broken(path: str, flags: int) -> int:
        if path.endswith("energy_uj"):
            raise OSError(errno.EIO, os.strerror(errno.EIO), path)
        return os.open(path, flags)

    result = probe(tree.root, wrap_guard_s=None, opener=broken)
    assert isinstance(result, Unavailable)
    assert "CVE" not in result.reason
    assert os.strerror(errno.EIO) in result.reason


def test_missing_root(tmp_path: Path) -> None:
    result = probe(tmp_path / "nope")
    assert isinstance(result, Unavailable)
    assert result.reason == (
        f"no {tmp_path / 'nope'} (not Linux, or no RAPL exposed in this VM/container)"
    )


@pytest.mark.skipif(Path("/sys/class/powercap").exists(), reason="this host has powercap")
def test_default_root_on_a_host_without_powercap() -> None:
    result = probe()
    assert isinstance(result, Unavailable)
    assert result.reason.startswith("no /sys/class/powercap (not Linux")


def test_root_without_rapl_zones(tree: PowercapTree) -> None:
    (tree.root / "dtpm").mkdir()
    result = probe(tree.root)
    assert isinstance(result, Unavailable)
    assert "no RAPL zones" in result.reason
    assert "dtpm" in result.reason


def test_only_psys_is_not_enough(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "psys", 10)
    result = probe(tree.root)
    assert isinstance(result, Unavailable)
    assert "psys" in result.reason


def test_unknown_domain_is_reported_not_raised(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 10)
    result = probe(tree.root, domains=("gpu",))
    assert isinstance(result, Unavailable)
    assert "'gpu'" in result.reason


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("energy_uj", "n/a\n"),
        ("energy_uj", ""),
        ("max_energy_range_uj", "12.5\n"),
        ("max_energy_range_uj", "0\n"),
    ],
)
def test_garbage_content_names_the_file(tree: PowercapTree, filename: str, content: str) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 10)
    tree.write_raw("intel-rapl:0", filename, content)
    result = probe(tree.root)
    assert isinstance(result, Unavailable)
    assert str(tree.class_path("intel-rapl:0", filename)) in result.reason


def test_garbage_during_the_run_raises_with_the_path(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 10)
    m = _meter(tree.root)
    try:
        tree.write_raw("intel-rapl:0", "energy_uj", "garbage\n")
        with pytest.raises(RaplReadError, match="energy_uj"):
            m.snapshot()
    finally:
        m.close()


def test_delta_rejects_swapped_or_foreign_snapshots(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 10)
    m = _meter(tree.root)
    try:
        a = m.snapshot()
        tree.add_energy("intel-rapl:0", 5)
        b = m.snapshot()
        with pytest.raises(ValueError, match="wrong order"):
            m.delta(b, a)
        with pytest.raises(ValueError, match="tuples of 1"):
            m.delta((1, 2), (3, 4))
    finally:
        m.close()


def test_close_is_idempotent_and_final(tree: PowercapTree) -> None:
    tree.add_zone("intel-rapl:0", "package-0", 10)
    m = probe(tree.root, wrap_guard_s=0.01)
    assert isinstance(m, RaplMeter)
    m.close()
    m.close()
    with pytest.raises(RaplReadError, match="closed"):
        m.snapshot()
