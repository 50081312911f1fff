"""The run history: every ``--ragcost`` run kept in SQLite (default) or PostgreSQL.

A plain library (no pytest import): the plugin writes runs into it and reads earlier
runs' summaries of the same project for the between-run noise of noisy metrics; reports
read a branch's trend; ``ragcost history`` lists, shows, exports and prunes it.
"""

from __future__ import annotations

from .backends import HistoryError, redact
from .lineage import Lineage, lineage_of
from .schema import LATEST as SCHEMA_VERSION
from .store import (
    LatestRun,
    MetricRow,
    PruneResult,
    RunDetail,
    RunFilter,
    RunMeta,
    RunRow,
    Store,
    TrendRun,
    open_store,
    price_rates_hash,
)

#: where the default SQLite history lives, relative to the rootdir
DEFAULT_PATH = ".ragcost/history.sqlite3"

__all__ = [
    "DEFAULT_PATH",
    "SCHEMA_VERSION",
    "HistoryError",
    "LatestRun",
    "Lineage",
    "MetricRow",
    "PruneResult",
    "RunDetail",
    "RunFilter",
    "RunMeta",
    "RunRow",
    "Store",
    "TrendRun",
    "lineage_of",
    "open_store",
    "price_rates_hash",
    "redact",
]
