"""Profiles as files beside the run JSON: speedscope JSON and collapsed stacks.

For a run written to ``run.json``, the profiles go to ``run.profiles/``:

- ``<scenario>.speedscope.json``: one sampled profile per stage, in speedscope's file
  format (open it at speedscope's site or with its command-line tool);
- ``<scenario>.<stage>.collapsed``: one line per distinct stack, frames outermost first
  and separated by ``;``, then the microseconds of wall time it stands for (the input
  of flamegraph.pl, inferno and most flame-graph tools).

:func:`read_dir` reads a directory of speedscope files back (``ragcost report`` renders
their flame graphs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import __version__
from .sampler import Frame, ScenarioProfile, Stack, StageProfile

SPEEDSCOPE_SCHEMA = "https://www.speedscope.app/file-format-schema.json"
SUFFIX = ".speedscope.json"


def profile_dir(json_path: Path) -> Path:
    """Where the profiles of the run written to ``json_path`` go."""
    return json_path.with_name(json_path.name.removesuffix(".json") + ".profiles")


def safe_name(name: str) -> str:
    """A scenario or stage name as a file name (node ids hold ``/`` and ``::``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "_"


def collapsed(profile: StageProfile) -> str:
    """The collapsed-stack text of one stage (microseconds, heaviest stacks first)."""
    lines = []
    for stack, ms in sorted(profile.stacks.items(), key=lambda kv: -kv[1]):
        us = round(ms * 1000)
        if stack and us > 0:
            lines.append(";".join(f.text() for f in stack) + f" {us}")
    return "\n".join(lines) + ("\n" if lines else "")


def speedscope(profile: ScenarioProfile) -> dict[str, Any]:
    """The speedscope document of one scenario: one sampled profile per stage."""
    frames: list[Frame] = []
    index: dict[Frame, int] = {}

    def ix(frame: Frame) -> int:
        if frame not in index:
            index[frame] = len(frames)
            frames.append(frame)
        return index[frame]

    profiles = []
    for name, sp in profile.stages.items():
        samples, weights = [], []
        for stack, ms in sorted(sp.stacks.items(), key=lambda kv: [f.text() for f in kv[0]]):
            samples.append([ix(f) for f in stack])
            weights.append(round(ms, 4))
        profiles.append({
            "type": "sampled", "name": name, "unit": "milliseconds",
            "startValue": 0, "endValue": round(sum(weights), 4),
            "samples": samples, "weights": weights,
        })
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "name": profile.scenario,
        "exporter": f"pytest-ragcost {__version__}",
        "activeProfileIndex": 0,
        "shared": {"frames": [{"name": f.function, "file": f.file, "line": f.line}
                              for f in frames]},
        "profiles": profiles,
        # ours, ignored by speedscope: what a saved run's report needs to redraw them
        "ragcost": {"scenario": profile.scenario, "interval_ms": profile.interval_ms,
                    "requests": profile.requests, "sampler": profile.sampler,
                    "samples": {n: sp.samples for n, sp in profile.stages.items()}},
    }


def from_speedscope(doc: dict[str, Any]) -> ScenarioProfile:
    """A speedscope document written by :func:`speedscope` read back."""
    frames = [Frame(str(f["name"]), str(f.get("file", "")), int(f.get("line", 0)))
              for f in doc["shared"]["frames"]]
    meta = doc.get("ragcost") or {}
    counts = meta.get("samples") or {}
    stages = {}
    for p in doc["profiles"]:
        stacks: dict[Stack, float] = {}
        for sample, weight in zip(p["samples"], p["weights"], strict=True):
            key = tuple(frames[i] for i in sample)
            stacks[key] = stacks.get(key, 0.0) + float(weight)
        name = str(p["name"])
        stages[name] = StageProfile(name, stacks, int(counts.get(name, len(stacks))))
    return ScenarioProfile(str(meta.get("scenario", doc.get("name", "?"))),
                           float(meta.get("interval_ms", 0.0)), stages,
                           int(meta.get("requests", 0)), str(meta.get("sampler", "?")))


def files(profiles: Iterable[ScenarioProfile]) -> dict[str, str]:
    """File name -> text of every profile file of a run."""
    out: dict[str, str] = {}
    for p in profiles:
        if not p.stages:
            continue
        base = safe_name(p.scenario)
        out[base + SUFFIX] = json.dumps(speedscope(p), separators=(",", ":")) + "\n"
        for name, sp in p.stages.items():
            out[f"{base}.{safe_name(name)}.collapsed"] = collapsed(sp)
    return out


def read_dir(directory: Path) -> tuple[list[ScenarioProfile], list[str]]:
    """The profiles in a directory written by :func:`files`, and a problem per file
    that could not be read (a report goes on without it)."""
    out: list[ScenarioProfile] = []
    problems: list[str] = []
    if not directory.is_dir():
        return out, problems
    for path in sorted(directory.glob("*" + SUFFIX)):
        try:
            out.append(from_speedscope(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            problems.append(f"{path}: not a profile this version wrote ({type(exc).__name__}: "
                            f"{exc})")
    return out, problems
