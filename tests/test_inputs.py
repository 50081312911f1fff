"""The one bounded reader of input files (pytest_ragcost.inputs): what the path is, size,
encoding, nesting, numbers; every problem an InputError naming the file and the place."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_ragcost.inputs import (
    MAX_DEPTH,
    MAX_NUMBER,
    InputError,
    at,
    number,
    parse_json,
    read_bytes,
    read_json,
)


def _error(call: object) -> str:
    with pytest.raises(InputError) as exc:
        call()  # type: ignore[operator]
    return str(exc.value)


def test_a_missing_file_is_none(tmp_path: Path) -> None:
    assert read_json(tmp_path / "nothing.json") is None


def test_a_dangling_symlink_is_named_with_its_target(tmp_path: Path) -> None:
    link = tmp_path / "ragcost.yaml"
    link.symlink_to(tmp_path / "gone.yaml")
    msg = _error(lambda: read_bytes(link, what="budget file"))
    assert msg.startswith(f"{link}: is a symlink to ")
    assert "gone.yaml" in msg
    assert "does not exist" in msg


def test_a_symlink_loop_is_named(tmp_path: Path) -> None:
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    assert "symlink loop" in _error(lambda: read_json(loop))


@pytest.mark.parametrize("kind", ["directory", "fifo", "device"])
def test_what_is_not_a_regular_file_is_refused_unread(tmp_path: Path, kind: str) -> None:
    if kind == "directory":
        path = tmp_path / "scores.json"
        path.mkdir()
        word = "a directory"
    elif kind == "fifo":
        path = tmp_path / "scores.json"
        os.mkfifo(path)  # nobody writes: reading it would block forever
        word = "a pipe"
    else:
        path = Path("/dev/zero")  # reading it would never end
        word = "a character device"
    msg = _error(lambda: read_json(path, what="score store"))
    assert f"is {word}" in msg
    assert "not a regular file" in msg
    assert "score store" in msg


def test_size_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text("[" + "0," * 1000 + "0]")
    msg = _error(lambda: read_json(path, max_bytes=100))
    assert "too large" in msg
    assert "limit 100 bytes" in msg


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_bytes(b'{\n "a": "\xff"\n}')
    msg = _error(lambda: read_json(path))
    assert msg.startswith(f"{path}:2: is not UTF-8 text")
    assert "0xff" in msg


def test_utf16_is_named(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text("{}", encoding="utf-16")
    assert "UTF-16" in _error(lambda: read_json(path))


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_bytes(b"\xef\xbb\xbf{\"a\": 1}")
    assert read_json(path) == {"a": 1}


def test_deep_nesting_is_refused_with_its_path() -> None:
    shallow = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(shallow, "f.json") is not None
    deep = '{"a": ' + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "}"
    msg = _error(lambda: parse_json(deep, "f.json"))
    assert msg.startswith("f.json: a[0][0]")
    assert f"nests deeper than {MAX_DEPTH} levels" in msg


def test_nesting_past_the_parsers_recursion_is_refused_too() -> None:
    msg = _error(lambda: parse_json("[" * 200_000, "f.json", max_depth=None))
    assert "nests too deeply" in msg


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"a": [1, ' + "9" * 5000 + "]}", "integer of more than 30 digits"),
        ('{"scenarios": {"q": {"x": ' + "1" * 40 + "}}}", "scenarios.q.x holds an integer"),
        ('{"a": {"b.c": [1e400]}}', 'a["b.c"][0] holds a number too large'),
        ('{"a": NaN}', "a value JSON does not allow (found NaN)"),
        ('{"a": -Infinity}', "found -Infinity"),
        ('{\n"a": }', "f.json:2:6: not valid JSON"),
    ],
)
def test_hostile_json_is_refused_with_a_location(text: str, words: str) -> None:
    assert words in _error(lambda: parse_json(text, "f.json"))


def test_json_paths_quote_keys_that_are_not_names() -> None:
    assert at("scenarios", "qa", "items", "a.b", 3) == 'scenarios.qa.items["a.b"][3]'
    assert at("", "x") == "x"


@pytest.mark.parametrize("bad", [-1e300, 1e300, float("nan"), True, "3", None, 10**400])
def test_numbers_are_bounded(bad: object) -> None:
    msg = _error(lambda: number(bad, "run.json", "scenarios[0].requests[0].metrics.x",
                                minimum=0))
    assert msg.startswith("run.json: scenarios[0].requests[0].metrics.x must be a finite number")


def test_numbers_within_bounds_pass() -> None:
    assert number(3, "f", "x") == 3.0
    assert number(MAX_NUMBER, "f", "x") == MAX_NUMBER
    assert number(2.0, "f", "x", integer=True) == 2.0
    with pytest.raises(InputError, match="must be a whole number"):
        number(2.5, "f", "x", integer=True)


def test_a_nul_byte_in_the_path_is_an_input_error() -> None:
    assert "not a usable path" in _error(lambda: read_json("a\0b.json"))


def test_what_the_writer_writes_reads_back(tmp_path: Path) -> None:
    doc = {"version": 1, "scenarios": {"qa": {"items": {"x": {"metrics": {"wall_ms": 1.5}}}}}}
    path = tmp_path / "items.json"
    path.write_text(json.dumps(doc, indent=1))
    assert read_json(path) == doc
