"""Build fake Linux powercap sysfs trees for tests, in the kernel's own layout.

The kernel keeps the real directories under ``/sys/devices/virtual/powercap/<control
type>/<zone>/<subzone>`` and puts one symlink per control type and per zone into
``/sys/class/powercap``. :class:`PowercapTree` reproduces both under a temporary
directory; :attr:`PowercapTree.root` is the ``class/powercap`` directory to probe.
Attribute files hold one decimal integer (or a name) and a trailing newline, as sysfs
prints them.
"""

from __future__ import annotations

import os
from pathlib import Path

#: ``max_energy_range_uj`` as the kernel prints it: the largest 32-bit reading,
#: (2**32 - 1) x the energy unit truncated to nanojoules (61.035 uJ, ESU 14) ...
MAX_RANGE_61UJ = 262143328850
#: ... and for the 15.258 uJ unit (ESU 16).
MAX_RANGE_15UJ = 65532610987


class PowercapTree:
    """A powercap tree under ``base``; add zones, then change their counters."""

    def __init__(self, base: Path, *, flat_links: bool = True) -> None:
        self.base = base
        self.devices = base / "sys" / "devices" / "virtual" / "powercap"
        self.root = base / "sys" / "class" / "powercap"
        self.flat_links = flat_links
        self.devices.mkdir(parents=True)
        self.root.mkdir(parents=True)
        self._dirs: dict[str, Path] = {}

    def add_zone(
        self,
        zone_id: str,
        name: str,
        energy_uj: int,
        max_energy_range_uj: int = MAX_RANGE_61UJ,
    ) -> Path:
        """Add ``zone_id`` (e.g. ``intel-rapl:0:0``); its parent zone must exist already."""
        ctype, _, rest = zone_id.partition(":")
        parts = rest.split(":")
        if len(parts) == 1:
            parent = self._control_type(ctype)
        else:
            parent = self._dirs[zone_id.rsplit(":", 1)[0]]
        zone = parent / zone_id
        zone.mkdir()
        self._write(zone / "name", f"{name}\n")
        self._write(zone / "energy_uj", f"{energy_uj}\n")
        self._write(zone / "max_energy_range_uj", f"{max_energy_range_uj}\n")
        self._write(zone / "enabled", "1\n")
        self._write(zone / "constraint_0_name", "long_term\n")
        self._write(zone / "constraint_0_power_limit_uw", "65000000\n")
        self._write(zone / "constraint_0_time_window_us", "27983872\n")
        (zone / "device").symlink_to(os.path.relpath(parent, zone))
        self._dirs[zone_id] = zone
        if self.flat_links:
            link = self.root / zone_id
            link.symlink_to(os.path.relpath(zone, self.root))
        return zone

    def zone_dir(self, zone_id: str) -> Path:
        """The real directory of a zone (under ``devices``)."""
        return self._dirs[zone_id]

    def class_path(self, zone_id: str, filename: str) -> Path:
        """A zone file as reached through the class directory, the path users see."""
        return self.root / zone_id / filename

    def energy_file(self, zone_id: str) -> Path:
        return self._dirs[zone_id] / "energy_uj"

    def set_energy(self, zone_id: str, energy_uj: int) -> None:
        """Change a counter in place (same inode, as the kernel's file stays open)."""
        self.write_raw(zone_id, "energy_uj", f"{energy_uj}\n")

    def add_energy(self, zone_id: str, energy_uj: int) -> None:
        """Advance a counter by ``energy_uj`` (no wrap; use set_energy for that)."""
        self.set_energy(zone_id, self.energy(zone_id) + energy_uj)

    def energy(self, zone_id: str) -> int:
        return int(self.energy_file(zone_id).read_text())

    def write_raw(self, zone_id: str, filename: str, text: str) -> None:
        path = self._dirs[zone_id] / filename
        # r+ and truncate keep the inode, so descriptors held by the meter see the change.
        with open(path, "r+", encoding="ascii") as f:
            f.truncate(0)
            f.write(text)

    def _control_type(self, ctype: str) -> Path:
        path = self.devices / ctype
        if not path.exists():
            path.mkdir()
            self._write(path / "enabled", "0\n")
            self.root.joinpath(ctype).symlink_to(os.path.relpath(path, self.root))
        return path

    @staticmethod
    def _write(path: Path, text: str) -> None:
        path.write_text(text, encoding="ascii")


def intel_two_socket(base: Path) -> PowercapTree:
    """Two packages, each with core and dram subzones, plus a psys zone."""
    tree = PowercapTree(base)
    tree.add_zone("intel-rapl:0", "package-0", 1_000_000)
    tree.add_zone("intel-rapl:0:0", "core", 400_000)
    tree.add_zone("intel-rapl:0:1", "dram", 50_000, MAX_RANGE_15UJ)
    tree.add_zone("intel-rapl:1", "package-1", 2_000_000)
    tree.add_zone("intel-rapl:1:0", "core", 800_000)
    tree.add_zone("intel-rapl:1:1", "dram", 60_000, MAX_RANGE_15UJ)
    tree.add_zone("intel-rapl:2", "psys", 9_000_000)
    return tree
