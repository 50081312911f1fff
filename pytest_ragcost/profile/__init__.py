"""Sampling profiles per stage (``--ragcost-profile``): where inside a stage the time went.

:class:`~pytest_ragcost.profile.sampler.Sampler` takes them, attributing each sample to
the stage its thread was in (:mod:`~pytest_ragcost.profile.marks` is the recorder's hook);
:mod:`~pytest_ragcost.profile.formats` writes them as speedscope JSON and collapsed
stacks; :mod:`pytest_ragcost.report.flame` draws them. No pytest import.
"""

from __future__ import annotations

from .sampler import (
    DEFAULT_INTERVAL_MS,
    Frame,
    Sampler,
    ScenarioProfile,
    StageProfile,
    merge,
    unavailable_reason,
)

#: the values of ``--ragcost-profile`` / ini ``ragcost_profile``
PROFILE_MODES = ("failed", "all")

__all__ = [
    "DEFAULT_INTERVAL_MS",
    "PROFILE_MODES",
    "Frame",
    "Sampler",
    "ScenarioProfile",
    "StageProfile",
    "merge",
    "unavailable_reason",
]
