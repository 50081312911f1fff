"""pytest-ragcost: cost and quality regression gates for RAG pipelines."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
