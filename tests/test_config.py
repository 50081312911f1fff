"""The option table and the settings built from it, as a plain library: every option
from each source (command line, ini file, default), the command line winning, and bad
values naming the flag or the ini key."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pytest_ragcost.config import (
    BY_FIELD,
    DEFAULT_WATTS_PER_THREAD,
    DERIVED,
    OPTIONS,
    Option,
    Settings,
    SettingsError,
    resolve,
)

ROOT = Path("/project")
HERE = Path("/project/sub")

#: field -> (a command-line value and the setting it gives, an ini value and its setting)
EXAMPLES: dict[str, tuple[Any, Any, Any, Any]] = {
    "enabled": (True, True, "true", True),
    "json_path": ("cli.json", HERE / "cli.json", "ini.json", ROOT / "ini.json"),
    "markdown_path": ("cli.md", HERE / "cli.md", "ini.md", ROOT / "ini.md"),
    "html_path": ("cli.html", HERE / "cli.html", "ini.html", ROOT / "ini.html"),
    "csv_dir": ("/abs/csv", Path("/abs/csv"), "csv", ROOT / "csv"),
    "requests": ("3", 3, " 7 ", 7),
    "meters": ("rapl,process", ("rapl", "process"), "estimate", ("estimate",)),
    "config_path": ("c.yaml", HERE / "c.yaml", "conf/i.yaml", ROOT / "conf" / "i.yaml"),
    "update": ("improvements", "improvements", None, None),
    "strict": (True, True, "yes", True),
    "watts_per_thread": ("7.5", 7.5, "12", 12.0),
    "record_judge": (True, True, None, None),
    "judge_live": (True, True, None, None),
    "history": ("none", None, "hist.db", str(ROOT / "hist.db")),
    "project": ("search api", "search api", "search-api", "search-api"),
    "prometheus": ("pushgateway:http://127.0.0.1:9091", "pushgateway:http://127.0.0.1:9091",
                   "textfile:m.prom", f"textfile:{ROOT / 'm.prom'}"),
    "otel": ("OFF", "off", "on", "on"),
    "ab_ref": ("main", "main", None, None),
    "ab_rounds": ("4", 4, "8", 8),
    "profile": ("failed", "failed", "All", "all"),
    "system": (True, True, "on", True),
    "max_usd": ("$2.50", 2.5, " 0 ", 0.0),
    "shard": (" 2/3 ", (2, 3), None, None),
    "second_look_s": ("off", 0.0, " 120s ", 120.0),
}

#: field -> the setting it gives when neither source sets it
DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "json_path": None,
    "markdown_path": None,
    "html_path": None,
    "csv_dir": None,
    "requests": None,
    "meters": ("auto",),
    "config_path": ROOT / "ragcost.yaml",
    "update": None,
    "strict": False,
    "watts_per_thread": DEFAULT_WATTS_PER_THREAD,
    "record_judge": False,
    "judge_live": False,
    "history": str(ROOT / ".ragcost" / "history.sqlite3"),
    "project": "project",
    "prometheus": None,
    "otel": "auto",
    "ab_ref": None,
    "ab_rounds": None,
    "profile": None,
    "system": False,
    "max_usd": None,
    "shard": None,
    "second_look_s": 60.0,
}


def _settings(cli: dict[str, Any] | None = None, ini: dict[str, Any] | None = None) -> Settings:
    cli = cli or {}
    ini = ini or {}
    return resolve(lambda opt: cli.get(opt.field), lambda key: ini.get(key), ROOT, HERE)


def _value(settings: Settings, field: str) -> Any:
    if field == "record_judge":
        return settings.judge_mode == "record"
    if field == "judge_live":
        return settings.judge_mode == "live"
    return getattr(settings, field)


def test_every_option_has_examples_and_a_default_here() -> None:
    assert set(EXAMPLES) == set(BY_FIELD) == set(DEFAULTS)


def test_the_table_and_the_settings_name_the_same_fields() -> None:
    names = {f.name for f in dataclasses.fields(Settings)}
    from_table = set(BY_FIELD) - {"record_judge", "judge_live"}
    assert names == from_table | set(DERIVED)
    flags = [o.flag for o in OPTIONS]
    inis = [o.ini for o in OPTIONS if o.ini]
    assert len(set(flags)) == len(flags)
    assert len(set(inis)) == len(inis)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.flag)
def test_the_default_applies_when_no_source_sets_it(option: Option) -> None:
    assert _value(_settings(), option.field) == DEFAULTS[option.field]


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.flag)
def test_the_command_line_sets_it(option: Option) -> None:
    cli_raw, cli_value, _, _ = EXAMPLES[option.field]
    assert _value(_settings(cli={option.field: cli_raw}), option.field) == cli_value


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.ini], ids=lambda o: o.ini or "")
def test_the_ini_file_sets_it_when_the_flag_is_not_given(option: Option) -> None:
    assert option.ini is not None
    _, _, ini_raw, ini_value = EXAMPLES[option.field]
    assert _value(_settings(ini={option.ini: ini_raw}), option.field) == ini_value


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.ini], ids=lambda o: o.ini or "")
def test_the_command_line_wins_over_the_ini_file(option: Option) -> None:
    assert option.ini is not None
    cli_raw, cli_value, ini_raw, ini_value = EXAMPLES[option.field]
    assert cli_value != ini_value or option.kind == "switch"
    both = _settings(cli={option.field: cli_raw}, ini={option.ini: ini_raw})
    assert _value(both, option.field) == cli_value


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.ini is None], ids=lambda o: o.flag)
def test_command_line_only_options_have_no_ini_key(option: Option) -> None:
    _, _, ini_raw, _ = EXAMPLES[option.field]
    assert ini_raw is None
    assert option.full_help == option.help


def test_an_ini_switch_can_turn_off_what_its_default_leaves_off_and_empty_is_unset() -> None:
    assert _settings(ini={"ragcost": "false"}).enabled is False
    assert _settings(ini={"ragcost_json": ""}).json_path is None
    assert _settings(ini={"ragcost_meter": []}).meters == ("auto",)


def test_derived_settings() -> None:
    assert _settings().config_explicit is False
    assert _settings(ini={"ragcost_config": "x.yaml"}).config_explicit is True
    assert _settings().watts_per_thread_source == "default"
    assert _settings(cli={"watts_per_thread": "5"}).watts_per_thread_source == (
        "--ragcost-watts-per-thread"
    )
    assert _settings(ini={"ragcost_watts_per_thread": "5"}).watts_per_thread_source == (
        "ini option 'ragcost_watts_per_thread'"
    )
    assert _settings(cli={"update": "all"}).enabled is True  # a bless meters
    assert _settings().judge_mode == "replay"


@pytest.mark.parametrize(
    ("cli", "ini", "message"),
    [
        ({"requests": "0"}, {}, "--ragcost-requests must be a whole number of requests >= 1"),
        ({}, {"ragcost_requests": "x"}, "ini option 'ragcost_requests' must be a whole number"),
        ({}, {"ragcost_meter": "rapl,bogus"}, "ini option 'ragcost_meter': unknown meter"),
        ({"meters": ""}, {}, "--ragcost-meter needs at least one meter name"),
        ({}, {"ragcost": "maybe"}, "ini option 'ragcost' must be true or false"),
        ({}, {"ragcost_strict": "2"}, "ini option 'ragcost_strict' must be true or false"),
        ({"watts_per_thread": "0"}, {}, "--ragcost-watts-per-thread must be a number of watts"),
        ({}, {"ragcost_watts_per_thread": "nan"}, "ini option 'ragcost_watts_per_thread'"),
        ({"update": "some"}, {}, "--ragcost-update takes no value or 'improvements'"),
        ({}, {"ragcost_history": "mysql://x"}, "ini option 'ragcost_history': unknown history"),
        ({"otel": "maybe"}, {}, "--ragcost-otel takes auto, on or off (got 'maybe')"),
        ({}, {"ragcost_otel": "1"}, "ini option 'ragcost_otel' takes auto, on or off"),
        ({"ab_rounds": "1"}, {}, "--ragcost-ab-rounds must be at least 2"),
        ({}, {"ragcost_ab_rounds": "-3"}, "ini option 'ragcost_ab_rounds' must be a whole"),
        ({"prometheus": "ftp:x"}, {}, "--ragcost-prometheus"),
        ({"record_judge": True, "judge_live": True}, {}, "cannot be combined"),
        ({"ab_ref": "main", "update": "all"}, {}, "--ragcost-ab and --ragcost-update cannot"),
    ],
)
def test_bad_values_name_their_source(cli: dict[str, Any], ini: dict[str, Any],
                                      message: str) -> None:
    with pytest.raises(SettingsError) as err:
        _settings(cli=cli, ini=ini)
    assert message in str(err.value)


def test_help_names_the_ini_key() -> None:
    assert BY_FIELD["json_path"].full_help.endswith("[ini: ragcost_json]")
    assert BY_FIELD["enabled"].ini_type == "bool"
    assert BY_FIELD["requests"].ini_type == "string"
    assert BY_FIELD["update"].dest == "ragcost_update"
