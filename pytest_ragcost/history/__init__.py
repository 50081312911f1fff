"""The run history: every ``--ragcost`` run kept in SQLite (default) or PostgreSQL.

A plain library (no pytest import): the plugin writes runs into it and reads earlier
runs' summaries for the between-run noise of noisy metrics; the CLI and the A/B runner
can do the same.
"""

from __future__ import annotations

from .backends import HistoryError
from .schema import LATEST as SCHEMA_VERSION
from .store import RunMeta, Store, open_store, price_rates_hash

#: where the default SQLite history lives, relative to the rootdir
DEFAULT_PATH = ".ragcost/history.sqlite3"

__all__ = [
    "DEFAULT_PATH",
    "SCHEMA_VERSION",
    "HistoryError",
    "RunMeta",
    "Store",
    "open_store",
    "price_rates_hash",
]
