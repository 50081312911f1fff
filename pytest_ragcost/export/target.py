"""Where ``--ragcost-prometheus`` sends a run's metrics; parsed without prometheus-client,
so a bad value is a usage error even where the extra is not installed.

A Pushgateway URL may carry credentials (``https://user:password@gateway``): they are
taken out of the URL and sent as HTTP basic authentication, and every message shows the
URL redacted (:mod:`pytest_ragcost.redact`). A query parameter is a grouping label,
which Prometheus stores in the clear, so one whose name looks like a secret is refused.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Literal

from ..redact import is_secret_key, redact_url

_FORBIDDEN_GROUPING = frozenset({"git_sha", "sha", "commit", "revision", "trace_id"})
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class PrometheusTargetError(ValueError):
    """``--ragcost-prometheus`` has a value we cannot use."""


@dataclass(frozen=True)
class Target:
    """A parsed ``--ragcost-prometheus``: ``where`` is the file, or the gateway's URL
    without credentials; ``username`` and ``password`` are those the URL carried."""

    kind: Literal["textfile", "pushgateway"]
    where: str
    grouping: tuple[tuple[str, str], ...] = ()
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.kind}:{redact_url(self.where)}"


def parse_target(text: str, where: str = "--ragcost-prometheus") -> Target:
    """``textfile:PATH`` or ``pushgateway:URL[?label=value...]``."""
    kind, sep, rest = text.partition(":")
    usage = (
        f"{where} takes textfile:PATH (a .prom file for node_exporter's textfile "
        "collector) or pushgateway:URL (e.g. pushgateway:http://127.0.0.1:9091)"
    )
    if not sep or not rest.strip() or kind not in ("textfile", "pushgateway"):
        raise PrometheusTargetError(f"{usage} (got {redact_url(text)!r})")
    rest = rest.strip()
    if kind == "textfile":
        return Target("textfile", rest)
    shown = redact_url(rest)
    try:
        url = urllib.parse.urlsplit(rest)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        msg = f"{usage}; the URL cannot be parsed ({exc}; got {shown!r})"
        raise PrometheusTargetError(msg) from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise PrometheusTargetError(f"{usage}; the URL needs http:// or https:// (got {shown!r})")
    grouping: list[tuple[str, str]] = []
    for key, value in urllib.parse.parse_qsl(url.query, keep_blank_values=True):
        if is_secret_key(key):
            msg = (
                f"{where}: {key!r} cannot be in the Pushgateway grouping key: query "
                "parameters become labels, stored and shown in the clear; give the "
                "gateway's credentials as https://USER:PASSWORD@HOST instead (sent as "
                "basic authentication)"
            )
            raise PrometheusTargetError(msg)
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
    host = url.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if url.port is not None:
        netloc += f":{url.port}"
    base = urllib.parse.urlunsplit((url.scheme, netloc, url.path, "", ""))
    username = None if url.username is None else urllib.parse.unquote(url.username)
    password = None if url.password is None else urllib.parse.unquote(url.password)
    return Target("pushgateway", base, tuple(grouping), username, password)
