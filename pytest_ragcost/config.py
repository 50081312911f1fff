"""One frozen settings object, resolved in one place: command line > ini file > default.

Every command-line flag defaults to ``None`` so that an ini value stays reachable; the
functions here never see pytest, they receive two lookups (``option`` and ``ini``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .models import UPDATE_MODES, JudgeMode, UpdateMode

METER_NAMES = ("auto", "rapl", "nvml", "process", "estimate", "none")
#: A documented fallback (the CPU-time model's default): the average draw of one busy
#: hardware thread when nothing better is known. Set ``ragcost_watts_per_thread`` to
#: your CPU's TDP divided by its threads per package for a closer estimate.
DEFAULT_WATTS_PER_THREAD = 4.0
#: no hardware thread draws more; a larger figure is a typo (and would overflow energy sums)
MAX_WATTS_PER_THREAD = 1000.0

OtelMode = Literal["auto", "on", "off"]
OTEL_MODES: tuple[OtelMode, ...] = ("auto", "on", "off")


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the flag and the ini key."""


@dataclass(frozen=True)
class Settings:
    enabled: bool = False
    json_path: Path | None = None
    markdown_path: Path | None = None
    html_path: Path | None = None
    csv_dir: Path | None = None
    requests: int | None = None
    meters: tuple[str, ...] = ("auto",)
    config_path: Path | None = None
    config_explicit: bool = False  # named by flag or ini: a missing file is an error then
    update: UpdateMode | None = None
    strict: bool = False
    watts_per_thread: float = DEFAULT_WATTS_PER_THREAD
    watts_per_thread_source: str = "default"
    judge_mode: JudgeMode = "replay"
    #: the run history: a SQLite file path or a postgresql:// URL; None when turned off
    history: str | None = None
    #: ``textfile:PATH`` or ``pushgateway:URL`` (checked by export.target.parse_target)
    prometheus: str | None = None
    otel: OtelMode = "auto"
    #: same-job A/B against this git ref (``--ragcost-ab``), in this many rounds
    ab_ref: str | None = None
    ab_rounds: int = 6


# (flag, ini key) pairs, written once for help texts and error messages
FLAGS: dict[str, tuple[str, str | None]] = {
    "enabled": ("--ragcost", "ragcost"),
    "json_path": ("--ragcost-json", "ragcost_json"),
    "markdown_path": ("--ragcost-markdown", "ragcost_markdown"),
    "html_path": ("--ragcost-html", "ragcost_html"),
    "csv_dir": ("--ragcost-csv", "ragcost_csv"),
    "requests": ("--ragcost-requests", "ragcost_requests"),
    "meters": ("--ragcost-meter", "ragcost_meter"),
    "config_path": ("--ragcost-config", "ragcost_config"),
    "update": ("--ragcost-update", None),
    "strict": ("--ragcost-strict", "ragcost_strict"),
    "watts_per_thread": ("--ragcost-watts-per-thread", "ragcost_watts_per_thread"),
    "record_judge": ("--ragcost-record-judge", None),
    "judge_live": ("--ragcost-judge-live", None),
    "history": ("--ragcost-history", "ragcost_history"),
    "prometheus": ("--ragcost-prometheus", "ragcost_prometheus"),
    "otel": ("--ragcost-otel", "ragcost_otel"),
    "ab_ref": ("--ragcost-ab", None),
    "ab_rounds": ("--ragcost-ab-rounds", "ragcost_ab_rounds"),
}


def _where(field: str, from_cli: bool) -> str:
    flag, ini = FLAGS[field]
    if from_cli or ini is None:
        return flag
    return f"ini option {ini!r}"


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    msg = f"{_where(field, False)} must be true or false (got {value!r})"
    raise SettingsError(msg)


def parse_meters(value: str, where: str) -> tuple[str, ...]:
    """Parse ``"rapl,process"``; unknown names are an error listing the valid ones."""
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        msg = f"{where} needs at least one meter name; valid: {', '.join(METER_NAMES)}"
        raise SettingsError(msg)
    unknown = [n for n in names if n not in METER_NAMES]
    if unknown:
        msg = (
            f"{where}: unknown meter {unknown[0]!r}; valid names are {', '.join(METER_NAMES)} "
            "(comma-separated, e.g. --ragcost-meter=rapl,process)"
        )
        raise SettingsError(msg)
    if "none" in names and len(names) > 1:
        msg = f"{where}: 'none' cannot be combined with other meters (got {value!r})"
        raise SettingsError(msg)
    return names


def _positive_int(value: Any, where: str, what: str = "requests") -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        msg = f"{where} must be a whole number of {what} >= 1 (got {value!r})"
        raise SettingsError(msg)
    return number


def _watts(value: Any, where: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not 0 < number <= MAX_WATTS_PER_THREAD:
        msg = (
            f"{where} must be a number of watts per hardware thread above 0 and at most "
            f"{MAX_WATTS_PER_THREAD:g} (got {value!r}); TDP / threads per package is a good "
            "figure"
        )
        raise SettingsError(msg)
    return number


#: where the history lives unless --ragcost-history says otherwise (under the rootdir)
DEFAULT_HISTORY = Path(".ragcost") / "history.sqlite3"


def _history(value: Any, where: str, rootpath: Path) -> str | None:
    """The history's location: a postgresql:// URL kept as is, a file made absolute."""
    text = "" if value is None else str(value).strip()
    if text.lower() in ("none", "off", "false", "no"):
        return None
    if not text or text in ("sqlite", "default"):
        return str(rootpath / DEFAULT_HISTORY)
    if text.startswith(("postgresql://", "postgres://")):
        return text
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif "://" in text:
        msg = (
            f"{where}: unknown history {text.split('://', 1)[0] + '://'!r}; expected a SQLite "
            "file path, postgresql://USER@HOST/DB, or none to turn the history off"
        )
        raise SettingsError(msg)
    path = Path(text)
    return str(path if path.is_absolute() else rootpath / path)


def resolve(
    option: Callable[[str], Any],
    ini: Callable[[str], Any],
    rootpath: Path,
    invocation_dir: Path | None = None,
) -> Settings:
    """Build :class:`Settings`; ``option(field)`` gives the CLI value or None, ``ini(key)``
    the ini value or None/"" when unset. Raises :class:`SettingsError`.

    Relative paths follow pytest's own convention: on the command line they are relative
    to the directory pytest was invoked from (as ``--junitxml`` is), in the ini file to
    the rootdir."""

    def pick(field: str) -> tuple[Any, bool]:
        cli = option(field)
        if cli is not None:
            return cli, True
        ini_key = FLAGS[field][1]
        if ini_key is not None:
            value = ini(ini_key)
            if value not in (None, "", []):
                return value, False
        return None, False

    enabled_raw, _ = pick("enabled")
    enabled = _bool(enabled_raw, "enabled") if enabled_raw is not None else False

    json_raw, json_cli = pick("json_path")
    md_raw, md_cli = pick("markdown_path")
    html_raw, html_cli = pick("html_path")
    csv_raw, csv_cli = pick("csv_dir")
    req_raw, req_cli = pick("requests")
    meters_raw, meters_cli = pick("meters")
    cfg_raw, cfg_cli = pick("config_path")
    update_raw, _ = pick("update")
    strict_raw, _ = pick("strict")
    watts_raw, watts_cli = pick("watts_per_thread")
    record_judge, _ = pick("record_judge")
    judge_live, _ = pick("judge_live")
    prom_raw, prom_cli = pick("prometheus")
    otel_raw, otel_cli = pick("otel")
    prometheus: str | None = None
    if prom_raw is not None:
        from .export.target import PrometheusTargetError, parse_target

        where = _where("prometheus", prom_cli)
        try:
            target = parse_target(str(prom_raw).strip(), where)
        except PrometheusTargetError as exc:
            raise SettingsError(str(exc)) from None
        if target.kind == "textfile":
            path = Path(target.where)
            prometheus = f"textfile:{path if path.is_absolute() else rootpath / path}"
        else:
            prometheus = str(prom_raw).strip()
    otel: OtelMode = "auto"
    if otel_raw is not None:
        text = str(otel_raw).strip().lower()
        if text not in OTEL_MODES:
            msg = (
                f"{_where('otel', otel_cli)} takes auto, on or off (got {otel_raw!r}): auto "
                "captures the app's OpenTelemetry spans when opentelemetry-sdk is installed, "
                "on requires it, off leaves OpenTelemetry alone"
            )
            raise SettingsError(msg)
        otel = "on" if text == "on" else ("off" if text == "off" else "auto")
    if record_judge and judge_live:
        msg = (
            "--ragcost-record-judge and --ragcost-judge-live cannot be combined: record asks "
            "the live judge and writes its answers; live asks it without writing"
        )
        raise SettingsError(msg)
    judge_mode: JudgeMode = "record" if record_judge else ("live" if judge_live else "replay")
    ab_raw, _ = pick("ab_ref")
    rounds_raw, rounds_cli = pick("ab_rounds")
    ab_rounds = 6
    if rounds_raw is not None:
        ab_rounds = _positive_int(rounds_raw, _where("ab_rounds", rounds_cli), "rounds")
        if ab_rounds < 2:
            msg = (
                f"{_where('ab_rounds', rounds_cli)} must be at least 2 (got {rounds_raw!r}): "
                "the spread of the rounds is the noise"
            )
            raise SettingsError(msg)
    if ab_raw is not None and update_raw is not None:
        msg = (
            "--ragcost-ab and --ragcost-update cannot be combined: an A/B run compares head "
            "with a git ref and writes no baselines"
        )
        raise SettingsError(msg)

    def path_of(raw: Any, from_cli: bool = False) -> Path | None:
        if raw is None:
            return None
        path = Path(str(raw))
        base = invocation_dir if from_cli and invocation_dir is not None else rootpath
        return path if path.is_absolute() else base / path

    update: UpdateMode | None = None
    if update_raw is not None:
        if update_raw not in UPDATE_MODES:
            msg = (
                f"--ragcost-update takes no value or 'improvements' (got {update_raw!r}); "
                "use --ragcost-update to rewrite every baseline that ran, or "
                "--ragcost-update=improvements to only lower costs"
            )
            raise SettingsError(msg)
        update = update_raw

    history_raw, history_cli = pick("history")
    return Settings(
        history=_history(history_raw, _where("history", history_cli), rootpath),
        enabled=enabled or update is not None,
        json_path=path_of(json_raw, json_cli),
        markdown_path=path_of(md_raw, md_cli),
        html_path=path_of(html_raw, html_cli),
        csv_dir=path_of(csv_raw, csv_cli),
        requests=(
            _positive_int(req_raw, _where("requests", req_cli)) if req_raw is not None else None
        ),
        meters=(
            parse_meters(str(meters_raw), _where("meters", meters_cli))
            if meters_raw is not None
            else ("auto",)
        ),
        config_path=(
            path_of(cfg_raw, cfg_cli) if cfg_raw is not None else rootpath / "ragcost.yaml"
        ),
        config_explicit=cfg_raw is not None,
        update=update,
        strict=_bool(strict_raw, "strict") if strict_raw is not None else False,
        watts_per_thread=(
            _watts(watts_raw, _where("watts_per_thread", watts_cli))
            if watts_raw is not None
            else DEFAULT_WATTS_PER_THREAD
        ),
        watts_per_thread_source=(
            "default" if watts_raw is None else _where("watts_per_thread", watts_cli)
        ),
        judge_mode=judge_mode,
        prometheus=prometheus,
        otel=otel,
        ab_ref=str(ab_raw) if ab_raw is not None else None,
        ab_rounds=ab_rounds,
    )
