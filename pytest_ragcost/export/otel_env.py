"""What the standard ``OTEL_*`` variables ask of ragcost's spans, read without the
OpenTelemetry SDK: a run that only captures the app's spans loads the SDK when its first
metered test starts, yet says in the header from the start what it will do.

No pytest import, no OpenTelemetry import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

#: the ``OTEL_TRACES_EXPORTER`` names pytest-ragcost knows
EXPORTERS = ("otlp", "console", "none")


def exporter_names(env: Mapping[str, str] | None = None) -> list[str]:
    """The span exporters the standard variables ask for (``[]``: export nothing); an
    unknown name is a :class:`ValueError` that names the known ones."""
    env = os.environ if env is None else env
    if str(env.get("OTEL_SDK_DISABLED", "")).strip().lower() == "true":
        return []
    raw = env.get("OTEL_TRACES_EXPORTER")
    if raw is None:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
            "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return ["otlp"] if endpoint else []
    names = [n.strip().lower() for n in raw.split(",") if n.strip()]
    unknown = [n for n in names if n not in EXPORTERS]
    if unknown:
        msg = (
            f"OTEL_TRACES_EXPORTER={raw!r}: pytest-ragcost knows the span exporters "
            f"{', '.join(EXPORTERS)} (got {unknown[0]!r})"
        )
        raise ValueError(msg)
    return [n for n in names if n != "none"]


def names_an_exporter(env: Mapping[str, str] | None = None) -> bool:
    """True when the variables name a span exporter, or name one wrongly (which the
    span bridge reports as it starts)."""
    try:
        return bool(exporter_names(env))
    except ValueError:
        return True


def header_line(sdk_version: str, exporters: Sequence[str]) -> str:
    """The header line of a run that captures spans: the SDK's version and where
    ragcost's own spans go (``exporters``: the names of the exporters that started)."""
    names = sorted(set(exporters))
    out = (
        f"ragcost spans exported via {', '.join(names)}"
        if names
        else "no span exporter named by OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return f"OpenTelemetry: capturing app spans (opentelemetry-sdk {sdk_version}); {out}"
