"""pytest hooks only: options and ini keys (from the table in
:mod:`pytest_ragcost.config`), the marker, the header.

The per-run state lives in one :class:`~pytest_ragcost.session.RagcostSession`, kept on
``config.stash``. Nothing heavy is imported here: with ``--ragcost`` off the plugin
registers its options, marker and fixture and does nothing else.
"""

from __future__ import annotations

import sys

import pytest

from .config import BY_FIELD, OPTIONS, Settings, SettingsError, resolve
from .fixtures import ragcost  # noqa: F401 - the fixture, registered by import
from .keys import COLLECTOR, SESSION_KEY, SETTINGS_KEY
from .marker import MARKER_HELP


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ragcost", "cost and quality gates for RAG pipelines (pytest-ragcost)")
    for option in OPTIONS:
        if option.kind == "switch":
            group.addoption(option.flag, action="store_true", default=None,
                            help=option.full_help)
        elif option.kind == "optional":
            group.addoption(option.flag, nargs="?", const=option.const, default=None,
                            metavar=option.metavar, help=option.full_help)
        else:
            group.addoption(option.flag, metavar=option.metavar, default=None,
                            help=option.full_help)
        if option.ini is not None:
            parser.addini(option.ini, option.ini_help or f"Like {option.flag}.",
                          type=option.ini_type, default=None)


def _settings(config: pytest.Config) -> Settings:
    try:
        return resolve(
            lambda option: config.getoption(option.dest, None),
            config.getini,
            config.rootpath,
            config.invocation_params.dir,
        )
    except SettingsError as exc:
        raise pytest.UsageError(f"pytest-ragcost: {exc}") from None


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--ragcost-ab=REF`` runs the A/B (two sides, in subprocesses) instead of the tests."""
    if config.getoption(BY_FIELD["ab_ref"].dest, None) is None:
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
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: one line, no traceback
        print(_interrupted_line(exc), file=sys.stderr, flush=True)
        return int(pytest.ExitCode.INTERRUPTED)
    write_outputs(result, settings.json_path, settings.markdown_path, settings.html_path)
    print("\n".join(summary_lines(result)), flush=True)
    return result.exit_code


def _interrupted_line(exc: KeyboardInterrupt) -> str:
    line = getattr(exc, "line", None)
    if isinstance(line, str):
        return line
    return "ragcost ab: interrupted; the base worktree was removed, nothing was written"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    settings = _settings(config)
    config.stash[SETTINGS_KEY] = settings
    if not settings.enabled and settings.shard is not None:
        raise pytest.UsageError(
            "pytest-ragcost: --ragcost-shard slices a --ragcost run; add --ragcost"
        )
    if not settings.enabled or config.pluginmanager.has_plugin(COLLECTOR):
        return  # off, or `ragcost estimate` collecting: nothing is metered
    from .session import RagcostSession

    session = RagcostSession(config, settings)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "ragcost-session")
    session.start()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """``--ragcost-max-usd`` under pytest-xdist: checked on the controller before its
    workers start (it collects nothing itself)."""
    config = session.config
    if (
        config.stash[SETTINGS_KEY].max_usd is None
        or hasattr(config, "workerinput")
        or not config.pluginmanager.has_plugin("dsession")
        or config.pluginmanager.has_plugin(COLLECTOR)
    ):
        return
    from .preflight import check_cap_distributed

    check_cap_distributed(config)


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


def pytest_collection_finish(session: pytest.Session) -> None:
    """``--ragcost-max-usd``: the estimate of what was selected, checked before anything
    runs."""
    if session.config.stash[SETTINGS_KEY].max_usd is None or hasattr(
        session.config, "workerinput"
    ):
        return  # an xdist worker: its controller checked before starting it
    from .preflight import check_cap

    check_cap(session)
