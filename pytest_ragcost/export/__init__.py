"""Exports into a team's observability stack: OpenTelemetry spans in and out, Prometheus.

Each module is imported only when its capability is asked for; the OpenTelemetry SDK and
``prometheus-client`` are optional extras (``pytest-ragcost[otel]``, ``[prometheus]``).
Nothing here imports pytest.
"""

from __future__ import annotations


class ExtraMissingError(RuntimeError):
    """An optional dependency is not installed; the message says which ``pip install`` fixes
    it."""


def require(module: str, extra: str, what: str) -> None:
    """Raise :class:`ExtraMissingError` unless ``module`` imports."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        msg = (
            f"{what} needs the {module!r} package, which is not installed; "
            f"install it with: pip install 'pytest-ragcost[{extra}]'"
        )
        raise ExtraMissingError(msg)
