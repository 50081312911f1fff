"""pytest hooks only: options, ini keys, the marker, the header.

The per-run state lives in one :class:`~pytest_ragcost.session.RagcostSession`, kept on
``config.stash``. Nothing heavy is imported here: with ``--ragcost`` off the plugin
registers its options, marker and fixture and does nothing else.
"""

from __future__ import annotations

import pytest

from .config import DEFAULT_WATTS_PER_THREAD, METER_NAMES, Settings, SettingsError, resolve
from .fixtures import ragcost  # noqa: F401 - the fixture, registered by import
from .keys import SESSION_KEY, SETTINGS_KEY
from .marker import MARKER_HELP


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ragcost", "cost and quality gates for RAG pipelines (pytest-ragcost)")
    group.addoption(
        "--ragcost",
        action="store_true",
        default=None,
        help="Meter ragcost scenarios and gate them against ragcost.yaml. [ini: ragcost]",
    )
    group.addoption(
        "--ragcost-json",
        metavar="PATH",
        default=None,
        help="Write the whole run (environment, per-request records, summaries, verdicts) "
        "as JSON to PATH (relative to the current directory, as --junitxml; in the ini "
        "file, to the rootdir). [ini: ragcost_json]",
    )
    group.addoption(
        "--ragcost-markdown",
        metavar="PATH",
        default=None,
        help="Write the verdict tables as Markdown to PATH (also appended to "
        "$GITHUB_STEP_SUMMARY when set; relative paths as for --ragcost-json). "
        "[ini: ragcost_markdown]",
    )
    group.addoption(
        "--ragcost-html",
        metavar="PATH",
        default=None,
        help="Write the report as one self-contained HTML file to PATH: waterfalls, where "
        "the time and compute go, token distributions, sweeps' frontiers. [ini: ragcost_html]",
    )
    group.addoption(
        "--ragcost-csv",
        metavar="DIR",
        default=None,
        help="Write requests.csv (one row per request, stage and metric) and configs.csv "
        "(one row per scenario, with sweep frontier columns) into DIR. [ini: ragcost_csv]",
    )
    group.addoption(
        "--ragcost-requests",
        metavar="N",
        default=None,
        help="Cap every scenario at N measured requests (lowers the marker's 'requests' "
        "for quick pull-request runs). [ini: ragcost_requests]",
    )
    group.addoption(
        "--ragcost-meter",
        metavar="NAMES",
        default=None,
        help=f"Comma-separated meters: {', '.join(METER_NAMES)} (default: auto, every meter "
        "that works here). [ini: ragcost_meter]",
    )
    group.addoption(
        "--ragcost-config",
        metavar="PATH",
        default=None,
        help="The baselines and budgets file (default: ragcost.yaml at the rootdir, where a "
        "missing file makes every scenario NEW; a file named here must exist, unless "
        "--ragcost-update is to create it). [ini: ragcost_config]",
    )
    group.addoption(
        "--ragcost-update",
        nargs="?",
        const="all",
        default=None,
        metavar="improvements",
        help="Write measured baselines into ragcost.yaml for the scenarios that ran "
        "(comments and budgets are kept); '=improvements' only lowers costs.",
    )
    group.addoption(
        "--ragcost-strict",
        action="store_true",
        default=None,
        help="Fail on INCOMPARABLE, INCONCLUSIVE, NEW and STALE verdicts too. "
        "[ini: ragcost_strict]",
    )
    group.addoption(
        "--ragcost-watts-per-thread",
        metavar="W",
        default=None,
        help="Watts per busy hardware thread for the estimated CPU energy "
        f"(default {DEFAULT_WATTS_PER_THREAD:g}; TDP / threads per package is closer). "
        "[ini: ragcost_watts_per_thread]",
    )
    group.addoption(
        "--ragcost-record-judge",
        action="store_true",
        default=None,
        help="Ask the live LLM judge (the judge: block of ragcost.yaml) and record its "
        "answers in ragcost.judge.json, which later runs replay offline.",
    )
    group.addoption(
        "--ragcost-judge-live",
        action="store_true",
        default=None,
        help="Ask the live LLM judge for every judged metric, without recording.",
    )
    group.addoption(
        "--ragcost-history",
        metavar="URL",
        default=None,
        help="Keep every --ragcost run in a history: a SQLite file (default "
        ".ragcost/history.sqlite3 at the rootdir), postgresql://USER@HOST/DB for a team "
        "(pip install 'pytest-ragcost[postgres]'), or none. Earlier runs of the same code "
        "on the same machine give noisy metrics their between-run noise. "
        "[ini: ragcost_history]",
    )
    group.addoption(
        "--ragcost-prometheus",
        metavar="TARGET",
        default=None,
        help="Export the run's metrics for Prometheus: textfile:PATH (node_exporter's "
        "textfile collector) or pushgateway:URL[?label=value] (needs "
        "pytest-ragcost[prometheus]). [ini: ragcost_prometheus]",
    )
    group.addoption(
        "--ragcost-otel",
        metavar="auto|on|off",
        default=None,
        help="Capture the app's OpenTelemetry spans (GenAI, OpenInference, OpenLLMetry) as "
        "stages and provider tokens, and export ragcost's spans to the exporter the "
        "OTEL_* variables name: auto (default) when opentelemetry-sdk is installed, on to "
        "require it, off. [ini: ragcost_otel]",
    )
    group.addoption(
        "--ragcost-ab",
        metavar="REF",
        default=None,
        help="Same-job A/B: check the git ref REF out in a temporary worktree and run it "
        "(base) and this tree (head) in alternating rounds, then compare them paired by "
        "round and by item. Runs instead of the tests; exit code 1 when a cost rose.",
    )
    group.addoption(
        "--ragcost-ab-rounds",
        metavar="N",
        default=None,
        help="Alternating rounds of --ragcost-ab (default 6: an even count lets each side "
        "go first equally often). [ini: ragcost_ab_rounds]",
    )
    parser.addini("ragcost", "Turn pytest-ragcost on (like --ragcost).", type="bool", default=None)
    for key, text in (
        ("ragcost_json", "Path for the JSON output (like --ragcost-json)."),
        ("ragcost_markdown", "Path for the Markdown output (like --ragcost-markdown)."),
        ("ragcost_html", "Path for the HTML report (like --ragcost-html)."),
        ("ragcost_csv", "Directory for the CSV export (like --ragcost-csv)."),
        ("ragcost_requests", "Cap on measured requests per scenario (like --ragcost-requests)."),
        ("ragcost_meter", "Comma-separated meters (like --ragcost-meter)."),
        ("ragcost_config", "Path of ragcost.yaml (like --ragcost-config)."),
        ("ragcost_watts_per_thread", "Watts per hardware thread for estimated CPU energy."),
        ("ragcost_history", "The run history: a SQLite path, postgresql://..., or none."),
        ("ragcost_prometheus", "Prometheus export target (like --ragcost-prometheus)."),
        ("ragcost_otel", "OpenTelemetry capture and export: auto, on or off."),
        ("ragcost_ab_rounds", "Alternating rounds of --ragcost-ab (like --ragcost-ab-rounds)."),
    ):
        parser.addini(key, text, default=None)
    parser.addini("ragcost_strict", "Like --ragcost-strict.", type="bool", default=None)


_OPTION_DEST = {
    "enabled": "ragcost",
    "json_path": "ragcost_json",
    "markdown_path": "ragcost_markdown",
    "html_path": "ragcost_html",
    "csv_dir": "ragcost_csv",
    "requests": "ragcost_requests",
    "meters": "ragcost_meter",
    "config_path": "ragcost_config",
    "update": "ragcost_update",
    "strict": "ragcost_strict",
    "watts_per_thread": "ragcost_watts_per_thread",
    "record_judge": "ragcost_record_judge",
    "judge_live": "ragcost_judge_live",
    "history": "ragcost_history",
    "prometheus": "ragcost_prometheus",
    "otel": "ragcost_otel",
    "ab_ref": "ragcost_ab",
    "ab_rounds": "ragcost_ab_rounds",
}


def _settings(config: pytest.Config) -> Settings:
    try:
        return resolve(
            lambda field: config.getoption(_OPTION_DEST[field], None),
            config.getini,
            config.rootpath,
            config.invocation_params.dir,
        )
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-ragcost: {exc}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--ragcost-ab=REF`` runs the A/B (two sides, in subprocesses) instead of the tests."""
    if config.getoption("ragcost_ab", None) is None:
        return None
    settings = _settings(config)
    from .ab import ABError, run_ab, summary_lines, write_outputs

    assert settings.ab_ref is not None
    try:
        result = run_ab(
            settings.ab_ref,
            rounds=settings.ab_rounds,
            pytest_args=config.invocation_params.args,
            cwd=config.invocation_params.dir,
            config=settings.config_path,
            log=lambda line: print(line, flush=True),
        )
    except ABError as exc:
        raise pytest.UsageError(f"pytest-ragcost: {exc}") from None
    write_outputs(result, settings.json_path, settings.markdown_path)
    print("\n".join(summary_lines(result)), flush=True)
    return result.exit_code


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = _settings(config)
    config.stash[SETTINGS_KEY] = settings
    if not settings.enabled:
        return
    from .session import RagcostSession

    session = RagcostSession(config, settings)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "ragcost-session")
    session.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()
        config.pluginmanager.unregister(session)
        del config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        return None
    return session.header_lines()


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    from .marker import MarkerError, check_items

    if hasattr(config, "workerinput"):
        # an xdist worker cannot stop the run with a usage error (xdist reports a crash);
        # there the fixture fails the marked test with the same message instead
        return
    try:
        check_items(items)
    except MarkerError as exc:
        raise pytest.UsageError(f"pytest-ragcost: {exc}") from None
