"""Sampling profiles per stage (``--ragcost-profile``): where inside a stage the time went.

:class:`~pytest_ragcost.profile.sampler.Sampler` takes them, attributing each sample to
the stage its thread was in (:mod:`~pytest_ragcost.profile.marks` is the recorder's hook);
:mod:`~pytest_ragcost.profile.formats` writes them as speedscope JSON and collapsed
stacks; :mod:`pytest_ragcost.report.flame` draws them. No pytest import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

#: the values of ``--ragcost-profile`` / ini ``ragcost_profile``
PROFILE_MODES = ("failed", "all")

# The sampler loads on first use: every metered run imports the recorder's hook
# (:mod:`.marks`, so this package too), and only --ragcost-profile samples.
_SAMPLER_NAMES = frozenset({
    "DEFAULT_INTERVAL_MS", "Frame", "Sampler", "ScenarioProfile", "StageProfile", "merge",
    "unavailable_reason",
})

if TYPE_CHECKING:
    from .sampler import (
        DEFAULT_INTERVAL_MS,
        Frame,
        Sampler,
        ScenarioProfile,
        StageProfile,
        merge,
        unavailable_reason,
    )
else:

    def __getattr__(name: str) -> object:
        if name in _SAMPLER_NAMES:
            from . import sampler

            return getattr(sampler, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
