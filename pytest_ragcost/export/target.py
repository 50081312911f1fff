"""Where ``--ragcost-prometheus`` sends a run's metrics; parsed without prometheus-client,
so a bad value is a usage error even where the extra is not installed."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

_FORBIDDEN_GROUPING = frozenset({"git_sha", "sha", "commit", "revision", "trace_id"})
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class PrometheusTargetError(ValueError):
    """``--ragcost-prometheus`` has a value we cannot use."""


@dataclass(frozen=True)
class Target:
    kind: Literal["textfile", "pushgateway"]
    where: str
    grouping: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return f"{self.kind}:{self.where}"


def parse_target(text: str, where: str = "--ragcost-prometheus") -> Target:
    """``textfile:PATH`` or ``pushgateway:URL[?label=value...]``."""
    kind, sep, rest = text.partition(":")
    usage = (
        f"{where} takes textfile:PATH (a .prom file for node_exporter's textfile "
        "collector) or pushgateway:URL (e.g. pushgateway:http://127.0.0.1:9091)"
    )
    if not sep or not rest.strip() or kind not in ("textfile", "pushgateway"):
        raise PrometheusTargetError(f"{usage} (got {text!r})")
    rest = rest.strip()
    if kind == "textfile":
        return Target("textfile", rest)
    url = urllib.parse.urlsplit(rest)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise PrometheusTargetError(f"{usage}; the URL needs http:// or https:// (got {rest!r})")
    grouping: list[tuple[str, str]] = []
    for key, value in urllib.parse.parse_qsl(url.query, keep_blank_values=True):
        if key in _FORBIDDEN_GROUPING:
            msg = (
                f"{where}: {key!r} cannot be in the Pushgateway grouping key: the gateway "
                "never forgets a group, so every commit would leave its series behind "
                "(the git sha is already a label of ragcost_run_info)"
            )
            raise PrometheusTargetError(msg)
        if not _LABEL_RE.match(key) or key == "job" or not value:
            msg = (
                f"{where}: grouping label {key!r}={value!r} must be a label name and a "
                "non-empty value (job is always 'ragcost')"
            )
            raise PrometheusTargetError(msg)
        grouping.append((key, value))
    base = urllib.parse.urlunsplit((url.scheme, url.netloc, url.path, "", ""))
    return Target("pushgateway", base, tuple(grouping))


