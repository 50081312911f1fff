"""Exports into a team's observability stack: OpenTelemetry spans in and out, Prometheus.

Each module is imported only when its capability is asked for; the OpenTelemetry SDK and
``prometheus-client`` are optional extras (``pytest-ragcost[otel]``, ``[prometheus]``).
Nothing here imports pytest.
"""

from __future__ import annotations


class ExtraMissingError(RuntimeError):
    """An optional dependency is not installed; the message says which ``pip install`` fixes
    it."""


def available(module: str) -> bool:
    """Whether ``module`` (dotted names too) can be imported, without importing it.

    ``importlib.util.find_spec("a.b")`` imports ``a`` and raises when ``a`` itself is
    missing; that is "not available", never an error."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, extra: str, what: str) -> None:
    """Raise :class:`ExtraMissingError` unless ``module`` imports."""
    if not available(module):
        msg = (
            f"{what} needs the {module!r} package, which is not installed; "
            f"install it with: pip install 'pytest-ragcost[{extra}]'"
        )
        raise ExtraMissingError(msg)
