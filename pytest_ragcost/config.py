"""The options of pytest-ragcost in one table, and the one frozen settings object built
from it: command line > ini file > default.

:data:`OPTIONS` holds, for every option, its flag, its ini key, its help, how it is
given (a switch, a value, an optional value), the parser that checks a value, and its
default. The plugin registers flags and ini keys from it; :func:`resolve` reads it to
build :class:`Settings`. Every flag defaults to ``None`` so that an ini value stays
reachable. Nothing here sees pytest: :func:`resolve` receives two look-ups.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .run.metrics import UPDATE_MODES, JudgeMode, UpdateMode

METER_NAMES = ("auto", "rapl", "nvml", "process", "estimate", "none")
#: A documented fallback (the CPU-time model's default): the average draw of one busy
#: hardware thread when nothing better is known. Set ``ragcost_watts_per_thread`` to
#: your CPU's TDP divided by its threads per package for a closer estimate.
DEFAULT_WATTS_PER_THREAD = 4.0
#: a scenario whose first measurement took longer is not measured again before a noisy FAIL
DEFAULT_SECOND_LOOK_S = 60.0
#: no hardware thread draws more; a larger figure is a typo (and would overflow energy sums)
MAX_WATTS_PER_THREAD = 1000.0

OtelMode = Literal["auto", "on", "off"]
OTEL_MODES: tuple[OtelMode, ...] = ("auto", "on", "off")
ProfileMode = Literal["failed", "all"]


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
    #: the project this run belongs to in the history (default: the rootdir's name)
    project: str = "default"
    #: ``textfile:PATH`` or ``pushgateway:URL`` (checked by export.target.parse_target)
    prometheus: str | None = None
    otel: OtelMode = "auto"
    #: same-job A/B against this git ref (``--ragcost-ab``), in this many rounds
    ab_ref: str | None = None
    ab_rounds: int | None = None
    #: run only slice ``index`` of ``count`` (``--ragcost-shard=I/N``), for a CI matrix
    shard: tuple[int, int] | None = None
    #: sampling profiles per stage (``--ragcost-profile``), kept for the scenarios that
    #: failed a gate (``failed``) or for all; None when off
    profile: ProfileMode | None = None
    #: system figures per stage and request (``--ragcost-system``): disk I/O bytes
    system: bool = False
    #: refuse to start a run whose pre-flight estimate exceeds this many dollars
    #: (``--ragcost-max-usd``); None when no cap is set
    max_usd: float | None = None
    #: measure a scenario again when a noisy metric failed, if its first measurement took
    #: at most this many seconds (``--ragcost-second-look``); 0 never measures again
    second_look_s: float = DEFAULT_SECOND_LOOK_S


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


def positive_int(value: Any, where: str, what: str = "requests") -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number < 1:
        msg = f"{where} must be a whole number of {what} >= 1 (got {value!r})"
        raise SettingsError(msg)
    return number


def watts(value: Any, where: str) -> float:
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


def history_location(value: Any, where: str, rootpath: Path) -> str | None:
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


#: the longest project name the history keeps (a label, not a document)
MAX_PROJECT_CHARS = 200


def project_name(value: Any, where: str) -> str:
    """A project name as given: printable, without surrounding spaces, 1-200 characters."""
    text = str(value)
    if (
        not text.strip()
        or text != text.strip()
        or len(text) > MAX_PROJECT_CHARS
        or not text.isprintable()
    ):
        msg = (
            f"{where}: {value!r} is not a project name; expected 1-{MAX_PROJECT_CHARS} "
            "printable characters without leading or trailing spaces, e.g. "
            "--ragcost-project=search-api"
        )
        raise SettingsError(msg)
    return text


def default_project(rootpath: Path) -> str:
    """The project a run belongs to unless ``--ragcost-project`` names one: the rootdir's
    directory name (``root`` for the file system's root)."""
    return rootpath.resolve().name or "root"




# -- the table ---------------------------------------------------------------------------

Kind = Literal["switch", "value", "optional"]


@dataclass(frozen=True)
class Source:
    """Where a value came from: what to call it in a message, and the directory its
    relative paths start from (the invocation directory on the command line, as for
    ``--junitxml``; the rootdir in the ini file)."""

    where: str
    from_cli: bool
    rootpath: Path
    base: Path


Parser = Callable[[Any, Source], Any]


@dataclass(frozen=True)
class Option:
    """One option: the flag, its ini twin (None: command line only), the help shown by
    ``pytest --help``, how it is given (``switch``: no value; ``value``: ``--flag=V``;
    ``optional``: ``--flag`` or ``--flag=V``, with ``const`` when bare), the parser that
    checks and converts a given value, and the default when neither source gives one
    (``default_at`` computes it from the rootdir)."""

    field: str
    flag: str
    help: str
    parse: Parser
    ini: str | None = None
    ini_help: str = ""
    kind: Kind = "value"
    metavar: str | None = None
    const: str | None = None
    default: Any = None
    default_at: Callable[[Path], Any] | None = None

    @property
    def dest(self) -> str:
        """The name argparse stores the flag's value under."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def ini_type(self) -> Literal["bool", "string"]:
        return "bool" if self.kind == "switch" else "string"

    @property
    def full_help(self) -> str:
        """The flag's help with its ini key, as ``pytest --help`` shows it."""
        return f"{self.help} [ini: {self.ini}]" if self.ini else self.help

    def default_for(self, rootpath: Path) -> Any:
        return self.default_at(rootpath) if self.default_at is not None else self.default


def _bool(value: Any, source: Source) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    msg = f"{source.where} must be true or false (got {value!r})"
    raise SettingsError(msg)


def _path(value: Any, source: Source) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else source.base / path


def _text(value: Any, source: Source) -> str:
    return str(value)


def _requests(value: Any, source: Source) -> int:
    return positive_int(value, source.where)


def _meters(value: Any, source: Source) -> tuple[str, ...]:
    return parse_meters(str(value), source.where)


def _watts(value: Any, source: Source) -> float:
    return watts(value, source.where)


def _update(value: Any, source: Source) -> UpdateMode:
    if value not in UPDATE_MODES:
        msg = (
            f"{source.where} takes no value or 'improvements' (got {value!r}); "
            "use --ragcost-update to rewrite every baseline that ran, or "
            "--ragcost-update=improvements to only lower costs"
        )
        raise SettingsError(msg)
    mode: UpdateMode = value
    return mode


def _history(value: Any, source: Source) -> str | None:
    return history_location(value, source.where, source.rootpath)


def _project(value: Any, source: Source) -> str:
    return project_name(value, source.where)


def _prometheus(value: Any, source: Source) -> str:
    # the target parser belongs to the exporter; it is loaded only when a target is given
    from .export.target import PrometheusTargetError, parse_target

    text = str(value).strip()
    try:
        target = parse_target(text, source.where)
    except PrometheusTargetError as exc:
        raise SettingsError(str(exc)) from None
    if target.kind == "textfile":
        path = Path(target.where)
        return f"textfile:{path if path.is_absolute() else source.rootpath / path}"
    return text


def _otel(value: Any, source: Source) -> OtelMode:
    text = str(value).strip().lower()
    for mode in OTEL_MODES:
        if text == mode:
            return mode
    msg = (
        f"{source.where} takes auto, on or off (got {value!r}): auto captures the app's "
        "OpenTelemetry spans when opentelemetry-sdk is installed, on requires it, off "
        "leaves OpenTelemetry alone"
    )
    raise SettingsError(msg)


def _ab_rounds(value: Any, source: Source) -> int:
    try:
        rounds = int(str(value).strip())
    except ValueError:
        rounds = 0
    if rounds < 2:  # one bound, said the same way for -3, 1 and 'many': at least 2
        what = "at least 2" if rounds == 1 else "a whole number of rounds, at least 2"
        msg = (
            f"{source.where} must be {what} (got {value!r}): the spread of the rounds is "
            "the noise"
        )
        raise SettingsError(msg)
    return rounds


def _profile(value: Any, source: Source) -> ProfileMode | None:
    text = str(value).strip().lower()
    if text in ("failed", "true", "yes", "on", "1"):
        return "failed"
    if text == "all":
        return "all"
    if text in ("off", "none", "false", "no", "0"):
        return None
    msg = (
        f"{source.where} takes failed or all (got {value!r}): failed keeps the profiles of "
        "the scenarios that failed a gate, all keeps every scenario's, off turns profiling "
        "off (a test path right after the bare flag is read as its value: write "
        "--ragcost-profile=failed)"
    )
    raise SettingsError(msg)


def max_usd(value: Any, where: str) -> float:
    """A dollar cap: a finite number >= 0, with an optional leading ``$``."""
    text = str(value).strip()
    try:
        number = float(text[1:] if text.startswith("$") else text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0:
        msg = (
            f"{where} must be a number of dollars >= 0 (got {value!r}), e.g. "
            "--ragcost-max-usd=2.50"
        )
        raise SettingsError(msg)
    return number


def _max_usd(value: Any, source: Source) -> float:
    return max_usd(value, source.where)


def _second_look(value: Any, source: Source) -> float:
    text = str(value).strip().lower()
    if text in {"off", "no", "false"}:
        return 0.0
    try:
        seconds = float(text[:-1] if text.endswith("s") else text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        msg = (
            f"{source.where} must be a number of seconds >= 0 or off (got {value!r}): the "
            "longest first measurement a scenario may have and still be measured again "
            f"when a noisy metric fails, e.g. --ragcost-second-look=120 (default "
            f"{DEFAULT_SECOND_LOOK_S:g}; 0 or off: never)"
        )
        raise SettingsError(msg)
    return seconds


def _shard(value: Any, source: Source) -> tuple[int, int]:
    text = str(value).strip()
    index_text, _, count_text = text.partition("/")
    try:
        index, count = int(index_text), int(count_text)
    except ValueError:
        index = count = 0
    if not 1 <= index <= count:
        msg = (
            f"{source.where} takes I/N, the slice I of N slices, 1 <= I <= N (got "
            f"{value!r}); e.g. --ragcost-shard=2/4 in the second job of a matrix of four"
        )
        raise SettingsError(msg)
    return index, count


def in_shard(nodeids: Sequence[str], shard: tuple[int, int]) -> list[bool]:
    """Which of these tests slice ``I/N`` (``--ragcost-shard``) runs: every N-th test in
    node id order, starting at the I-th, so the N slices cover the suite once."""
    index, count = shard
    order = sorted(range(len(nodeids)), key=lambda i: nodeids[i])
    mine = {i for n, i in enumerate(order) if n % count == index - 1}
    return [i in mine for i in range(len(nodeids))]


OPTIONS: tuple[Option, ...] = (
    Option(
        "enabled", "--ragcost", kind="switch", parse=_bool, default=False,
        ini="ragcost", ini_help="Turn pytest-ragcost on (like --ragcost).",
        help="Meter ragcost scenarios and gate them against ragcost.yaml.",
    ),
    Option(
        "json_path", "--ragcost-json", metavar="PATH", parse=_path,
        ini="ragcost_json", ini_help="Path for the JSON output (like --ragcost-json).",
        help="Write the whole run (environment, per-request records, summaries, verdicts) "
        "as JSON to PATH (relative to the current directory, as --junitxml; in the ini "
        "file, to the rootdir).",
    ),
    Option(
        "markdown_path", "--ragcost-markdown", metavar="PATH", parse=_path,
        ini="ragcost_markdown",
        ini_help="Path for the Markdown output (like --ragcost-markdown).",
        help="Write the verdict tables as Markdown to PATH (also appended to "
        "$GITHUB_STEP_SUMMARY when set; relative paths as for --ragcost-json).",
    ),
    Option(
        "html_path", "--ragcost-html", metavar="PATH", parse=_path,
        ini="ragcost_html", ini_help="Path for the HTML report (like --ragcost-html).",
        help="Write the report as one self-contained HTML file to PATH: waterfalls, where "
        "the time and compute go, token distributions, sweeps' frontiers.",
    ),
    Option(
        "csv_dir", "--ragcost-csv", metavar="DIR", parse=_path,
        ini="ragcost_csv", ini_help="Directory for the CSV export (like --ragcost-csv).",
        help="Write requests.csv (one row per request, stage and metric) and configs.csv "
        "(one row per scenario, with sweep frontier columns) into DIR.",
    ),
    Option(
        "requests", "--ragcost-requests", metavar="N", parse=_requests,
        ini="ragcost_requests",
        ini_help="Cap on measured requests per scenario (like --ragcost-requests).",
        help="Cap every scenario at N measured requests (lowers the marker's 'requests' "
        "for quick pull-request runs).",
    ),
    Option(
        "meters", "--ragcost-meter", metavar="NAMES", parse=_meters, default=("auto",),
        ini="ragcost_meter", ini_help="Comma-separated meters (like --ragcost-meter).",
        help=f"Comma-separated meters: {', '.join(METER_NAMES)} (default: auto, every meter "
        "that works here).",
    ),
    Option(
        "config_path", "--ragcost-config", metavar="PATH", parse=_path,
        default_at=lambda root: root / "ragcost.yaml",
        ini="ragcost_config", ini_help="Path of ragcost.yaml (like --ragcost-config).",
        help="The baselines and budgets file (default: ragcost.yaml at the rootdir, where a "
        "missing file makes every scenario NEW; a file named here must exist, unless "
        "--ragcost-update is to create it).",
    ),
    Option(
        "update", "--ragcost-update", kind="optional", const="all", metavar="improvements",
        parse=_update,
        help="Write measured baselines into ragcost.yaml for the scenarios that ran "
        "(comments and budgets are kept); '=improvements' only lowers costs.",
    ),
    Option(
        "strict", "--ragcost-strict", kind="switch", parse=_bool, default=False,
        ini="ragcost_strict", ini_help="Like --ragcost-strict.",
        help="Fail on INCOMPARABLE, INCONCLUSIVE, NEW and STALE verdicts too.",
    ),
    Option(
        "watts_per_thread", "--ragcost-watts-per-thread", metavar="W", parse=_watts,
        default=DEFAULT_WATTS_PER_THREAD,
        ini="ragcost_watts_per_thread",
        ini_help="Watts per hardware thread for estimated CPU energy.",
        help="Watts per busy hardware thread for the estimated CPU energy "
        f"(default {DEFAULT_WATTS_PER_THREAD:g}; TDP / threads per package is closer).",
    ),
    Option(
        "record_judge", "--ragcost-record-judge", kind="switch", parse=_bool, default=False,
        help="Ask the live LLM judge (the judge: block of ragcost.yaml) and record its "
        "answers in ragcost.judge.json, which later runs replay offline.",
    ),
    Option(
        "judge_live", "--ragcost-judge-live", kind="switch", parse=_bool, default=False,
        help="Ask the live LLM judge for every judged metric, without recording.",
    ),
    Option(
        "history", "--ragcost-history", metavar="URL", parse=_history,
        default_at=lambda root: str(root / DEFAULT_HISTORY),
        ini="ragcost_history",
        ini_help="The run history: a SQLite path, postgresql://..., or none.",
        help="Keep every --ragcost run in a history: a SQLite file (default "
        ".ragcost/history.sqlite3 at the rootdir), postgresql://USER@HOST/DB for a team "
        "(pip install 'pytest-ragcost[postgres]'), or none. Earlier runs of the same code "
        "on the same machine give noisy metrics their between-run noise.",
    ),
    Option(
        "project", "--ragcost-project", metavar="NAME", parse=_project,
        default_at=default_project,
        ini="ragcost_project",
        ini_help="The project's name in the history (like --ragcost-project).",
        help="The project this run belongs to in the history (default: the rootdir's "
        "name), so one database serves many projects: the between-run noise and the "
        "trends read only the same project's runs.",
    ),
    Option(
        "prometheus", "--ragcost-prometheus", metavar="TARGET", parse=_prometheus,
        ini="ragcost_prometheus",
        ini_help="Prometheus export target (like --ragcost-prometheus).",
        help="Export the run's metrics for Prometheus: textfile:PATH (node_exporter's "
        "textfile collector) or pushgateway:URL[?label=value] (needs "
        "pytest-ragcost[prometheus]).",
    ),
    Option(
        "otel", "--ragcost-otel", metavar="auto|on|off", parse=_otel, default="auto",
        ini="ragcost_otel", ini_help="OpenTelemetry capture and export: auto, on or off.",
        help="Capture the app's OpenTelemetry spans (GenAI, OpenInference, OpenLLMetry) as "
        "stages and provider tokens, and export ragcost's spans to the exporter the "
        "OTEL_* variables name: auto (default) when opentelemetry-sdk is installed, on to "
        "require it, off.",
    ),
    Option(
        "ab_ref", "--ragcost-ab", metavar="REF", parse=_text,
        help="Same-job A/B: check the git ref REF out in a temporary worktree and run it "
        "(base) and this tree (head) in alternating rounds, then compare them paired by "
        "round and by item. Runs instead of the tests; exit code 1 when a cost rose.",
    ),
    Option(
        "ab_rounds", "--ragcost-ab-rounds", metavar="N", parse=_ab_rounds,
        ini="ragcost_ab_rounds",
        ini_help="Exactly N alternating rounds of --ragcost-ab (like --ragcost-ab-rounds).",
        help="Run exactly N alternating rounds of --ragcost-ab and judge once (an even N "
        "lets each side go first equally often). Without it the A/B is sequential: it "
        "judges after every second round and stops when a metric fails or every metric "
        "is decided, at most 12 rounds.",
    ),
    Option(
        "shard", "--ragcost-shard", metavar="I/N", parse=_shard,
        help="Run slice I of N of the selected tests (every N-th in node id order, from "
        "the I-th), for a CI matrix whose jobs each run one slice; 'ragcost merge' puts "
        "their --ragcost-json runs back together as one run of the whole suite.",
    ),
    Option(
        "profile", "--ragcost-profile", kind="optional", const="failed", metavar="failed|all",
        parse=_profile, ini="ragcost_profile",
        ini_help="Stage profiles: failed, all or off (like --ragcost-profile).",
        help="Sample each stage's call stacks (an in-process sampler, no ptrace) and keep "
        "the profiles of the scenarios that failed a gate (failed, the default) or of all: "
        "a flame graph per stage in the HTML report, speedscope and collapsed-stack files "
        "beside the JSON.",
    ),
    Option(
        "system", "--ragcost-system", kind="switch", parse=_bool, default=False,
        ini="ragcost_system", ini_help="Like --ragcost-system.",
        help="Also measure system figures per stage and request: disk_read_bytes and "
        "disk_write_bytes (what the process made the storage layer read and write, from "
        "/proc/self/io; Linux), rss_peak_growth_bytes (how far the resident set rose "
        "above where the stage began, from /proc/self/status) and the network calls per "
        "endpoint (net_*, from a hook on the socket calls).",
    ),
    Option(
        "max_usd", "--ragcost-max-usd", metavar="USD", parse=_max_usd,
        ini="ragcost_max_usd",
        ini_help="Refuse to start a run estimated to cost more dollars (like "
        "--ragcost-max-usd).",
        help="Refuse to start a run whose pre-flight estimate (as `ragcost estimate` "
        "prints it, from the per-item baselines, ragcost.yaml, the history and the price "
        "table) exceeds USD dollars: a usage error naming the estimate and the cap. A run "
        "with requests of unknown cost is refused too, saying how many.",
    ),
    Option(
        "second_look_s", "--ragcost-second-look", metavar="SECONDS", parse=_second_look,
        default=DEFAULT_SECOND_LOOK_S, ini="ragcost_second_look",
        ini_help="Like --ragcost-second-look: seconds, or off.",
        help="Before a test fails on a noisy metric (times, energy) against its baseline, "
        "measure the scenario once more and fail only if that measurement fails too "
        "(the verdict says confirmed or cleared); only scenarios whose first measurement "
        f"took at most SECONDS are measured again (default {DEFAULT_SECOND_LOOK_S:g}; 0 or "
        "off: never).",
    ),
)

#: the option of each Settings field (and of the two judge switches)
BY_FIELD: dict[str, Option] = {option.field: option for option in OPTIONS}


def resolve(
    option: Callable[[Option], Any],
    ini: Callable[[str], Any],
    rootpath: Path,
    invocation_dir: Path | None = None,
) -> Settings:
    """Build :class:`Settings` from :data:`OPTIONS`; ``option(opt)`` gives the command
    line's value or None, ``ini(key)`` the ini value or None/"" when unset. Raises
    :class:`SettingsError` naming the flag or ini key that was wrong.

    Relative paths follow pytest's own convention: on the command line they are relative
    to the directory pytest was invoked from (as ``--junitxml`` is), in the ini file to
    the rootdir."""
    values: dict[str, Any] = {}
    given: dict[str, Source | None] = {}
    for opt in OPTIONS:
        source: Source | None = None
        raw = option(opt)
        if raw is not None:
            source = Source(opt.flag, True, rootpath, invocation_dir or rootpath)
        elif opt.ini is not None:
            raw = ini(opt.ini)
            if raw in (None, "", []):
                raw = None
            else:
                source = Source(f"ini option {opt.ini!r}", False, rootpath, rootpath)
        values[opt.field] = opt.default_for(rootpath) if source is None else opt.parse(
            raw, source
        )
        given[opt.field] = source

    if values["record_judge"] and values["judge_live"]:
        msg = (
            "--ragcost-record-judge and --ragcost-judge-live cannot be combined: record asks "
            "the live judge and writes its answers; live asks it without writing"
        )
        raise SettingsError(msg)
    if values["ab_ref"] is not None and values["update"] is not None:
        msg = (
            "--ragcost-ab and --ragcost-update cannot be combined: an A/B run compares head "
            "with a git ref and writes no baselines"
        )
        raise SettingsError(msg)
    record_judge = values.pop("record_judge")
    judge_live = values.pop("judge_live")
    judge_mode: JudgeMode = "record" if record_judge else ("live" if judge_live else "replay")
    watts_given = given["watts_per_thread"]
    values["enabled"] = values["enabled"] or values["update"] is not None
    return Settings(
        **values,
        config_explicit=given["config_path"] is not None,
        watts_per_thread_source="default" if watts_given is None else watts_given.where,
        judge_mode=judge_mode,
    )


#: Settings fields that no option gives directly: :func:`resolve` derives them
DERIVED = ("config_explicit", "watts_per_thread_source", "judge_mode")
