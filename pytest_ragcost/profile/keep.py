"""Which profiles a run keeps, and writing them: the plugin's side of ``--ragcost-profile``.

One sampler per running test (started when its recorder is made, stopped when its call
ends); a profile is kept when the mode is ``all`` or the scenario failed a gate. At the
end the kept profiles are written beside the run JSON (else beside the HTML report,
else under ``.ragcost/profiles``); every problem is a note, never a failure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .sampler import Sampler, ScenarioProfile


class ProfileKeeper:
    """The profiles of one pytest run (or of one xdist worker)."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self._running: dict[str, Sampler] = {}
        #: scenario -> its kept profile
        self.kept: dict[str, ScenarioProfile] = {}

    @property
    def on(self) -> bool:
        return self.mode is not None

    def start(self, nodeid: str, scenario: str) -> None:
        if self.on:
            self._running[nodeid] = Sampler(scenario).start()

    def stop(self, nodeid: str, requests: int = 0) -> ScenarioProfile | None:
        """End the test's sampling (``None`` when it was not sampled)."""
        sampler = self._running.pop(nodeid, None)
        return sampler.stop(requests) if sampler is not None else None

    def offer(self, profile: ScenarioProfile | None, failed: bool) -> ScenarioProfile | None:
        """Keep ``profile`` if the mode asks for it; the kept profile, or None."""
        if profile is not None and (self.mode == "all" or failed):
            self.kept[profile.scenario] = profile
            return profile
        return None

    def receive(self, data: dict[str, Any]) -> None:
        """A profile a worker kept (``ScenarioProfile.to_dict``), on the controller."""
        profile = ScenarioProfile.from_dict(data)
        self.kept[profile.scenario] = profile

    def write(self, json_path: Path | None, html_path: Path | None, rootpath: Path) -> list[str]:
        """Write the kept profiles; the lines to say in the summary."""
        from ..files import write_text_atomic
        from .formats import files, profile_dir

        if not self.on:
            return []
        notes = [f"profile of {p.scenario}: {p.note}" for p in self.kept.values() if p.note]
        kept = [p for p in self.kept.values() if p.stages]
        if not kept:
            if self.mode == "failed" and not self.kept:
                notes.append("profiles: no scenario failed a gate, so none was kept "
                             "(--ragcost-profile=all keeps every scenario's)")
            return notes
        anchor = json_path or html_path
        directory = (profile_dir(anchor) if anchor is not None
                     else rootpath / ".ragcost" / "profiles")
        for name, text in files(kept).items():
            try:
                directory.mkdir(parents=True, exist_ok=True)
                write_text_atomic(directory / name, text)
            except OSError as exc:  # a profile is a help, not a result: said, never failed
                notes.append(f"warning: could not write the profile {directory / name}: "
                             f"{exc.strerror or exc}; the run's results are unaffected")
                return notes
        stages = sum(len(p.stages) for p in kept)
        notes.append(f"profiles of {len(kept)} scenario(s), {stages} stage(s): speedscope and "
                     f"collapsed stacks in {directory}")
        return notes
