"""The ``--ragcost-json`` document. Its schema is documented in docs/json-schema.md;
bump :data:`SCHEMA_VERSION` on any change that removes or renames a field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import __version__
from .summary import summarize_run

if TYPE_CHECKING:
    from ..compare.gate import Gate
    from ..config import Settings
    from ..models import Outcome

SCHEMA_VERSION = 1


def document(
    outcomes: Sequence[Outcome],
    environment: dict[str, Any],
    settings: Settings,
    gate: Gate | None,
    *,
    complete: bool = False,
) -> dict[str, Any]:
    """The document; ``complete`` says no selection narrowed the run, so a scenario of
    ragcost.yaml missing from it is STALE when the run is compared again."""
    scenarios = []
    for outcome in sorted(outcomes, key=lambda o: o.run.scenario):
        run = outcome.run
        scenarios.append(
            {
                "scenario": run.scenario,
                "nodeid": run.nodeid,
                "warmup": run.warmup,
                "knobs": dict(run.knobs),
                "sweep": run.sweep,
                "n_requests": len(run.requests),
                "error": outcome.error,
                "stages": run.stage_names(),
                "summary": summarize_run(run) if run.requests else {},
                "verdicts": [v.to_dict() for v in outcome.verdicts],
                "requests": [r.to_dict() for r in run.requests],
                "samples": [s.to_dict() for s in run.samples],
                "token_notes": dict(run.token_notes),
                "price_notes": dict(outcome.price_notes),
                "test_passed": outcome.test_passed,
                "quality": outcome.quality,
                "quality_errors": dict(outcome.quality_errors),
                "per_success": outcome.per_success,
                "load": dict(run.load),
            }
        )
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pytest-ragcost", "version": __version__},
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "environment": environment,
        "complete": complete,
        "settings": {
            "meters": list(settings.meters),
            "requests_cap": settings.requests,
            "update": settings.update,
            "strict": settings.strict,
            "watts_per_thread": settings.watts_per_thread,
            "config": str(settings.config_path) if settings.config_path else None,
            "config_found": bool(gate is not None and gate.exists),
        },
        "scenarios": scenarios,
    }
