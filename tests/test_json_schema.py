"""docs/ragcost-run.schema.json against what the plugin really writes: an inner session with
a parametrized sweep (knobs, sweep), quality scores, a success rule (per_success) and a
model no price table knows (price_notes) is validated with jsonschema, every field it
writes is named by the schema, and docs/json-schema.md explains every field the schema
names."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SWEEP, read_json

DOCS = Path(__file__).resolve().parents[1] / "docs"
SCHEMA = json.loads((DOCS / "ragcost-run.schema.json").read_text(encoding="utf-8"))

#: the sweep, plus a stage on a model no price table knows
PRICED_SWEEP = SWEEP.replace(
    'model="gpt-4o-mini")',
    'model="gpt-4o-mini")\n'
    '        with ragcost.stage("rerank") as st:\n'
    '            st.tokens(prompt=q, completion="ok", model="no-such-model-xyz")',
)
BUDGET = """\
version: 1
scenarios:
  test_sweep.py::test_sweep[1]:
    success: {metric: context_recall, min: 0.5}
    tokens_total: {baseline: 1000}
"""


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    return jsonschema.Draft202012Validator(SCHEMA)


@pytest.fixture
def run_path(rag_project: pytest.Pytester) -> Path:
    rag_project.makepyfile(test_sweep=PRICED_SWEEP)
    rag_project.makefile(".yaml", ragcost=BUDGET)
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=3)
    return rag_project.path / "run.json"


@pytest.fixture
def run_doc(run_path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = read_json(run_path)
    return doc


def _errors(validator: jsonschema.protocols.Validator, doc: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        node = SCHEMA["$defs"][name]
    return node


def _unnamed(value: Any, node: dict[str, Any], where: str = "$") -> list[str]:
    """Fields of ``value`` that the schema does not name, where the schema lists an
    object's fields (objects that are maps, like ``metrics``, list none)."""
    node = _resolve(node)
    out: list[str] = []
    if isinstance(value, dict):
        if "oneOf" in node:
            node = next((_resolve(n) for n in node["oneOf"]
                         if jsonschema.Draft202012Validator(
                             {**n, "$defs": SCHEMA["$defs"]}).is_valid(value)), node)
        props = node.get("properties")
        extra = node.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                out += _unnamed(item, props[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                out += _unnamed(item, extra, f"{where}.{key}")
            elif props is not None:
                out.append(f"{where}.{key}")
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            out += _unnamed(item, node["items"], f"{where}[{i}]")
    return out


def test_real_output_validates_and_every_field_is_named(
    run_path: Path, validator: jsonschema.protocols.Validator
) -> None:
    run_doc = read_json(run_path)
    assert _errors(validator, run_doc) == []
    # counts are written as integers (JSON Schema's "integer" would also accept 6.0)
    text = run_path.read_text(encoding="utf-8")
    assert re.findall(r'"(?:n|n_requests|successes|answers|index)": \d+\.\d', text) == []
    # the run holds what the schema must describe, so the check above means something
    by_name = {sc["scenario"]: sc for sc in run_doc["scenarios"]}
    first = by_name["test_sweep.py::test_sweep[1]"]
    assert first["knobs"] == {"top_k": 1}
    assert first["sweep"] == "test_sweep.py::test_sweep"
    assert first["per_success"]["metric"] == "context_recall"
    assert isinstance(first["per_success"]["successes"], int)
    assert "no-such-model-xyz" in first["price_notes"]
    assert "context_recall" in first["quality"]
    assert all(st["start_ms"] >= 0 for r in first["requests"] for st in r["stages"])
    assert first["verdicts"]
    assert isinstance(first["summary"]["wall_ms"]["n"], int)
    assert _unnamed(run_doc, SCHEMA) == []


def test_the_schema_rejects_what_the_plugin_never_writes(
    run_doc: dict[str, Any], validator: jsonschema.protocols.Validator
) -> None:
    spoilt = {
        "knob object": ("knobs", {"top_k": {"k": 1}}),
        "sweep number": ("sweep", 3),
        "per_success without successes": ("per_success", {"metric": "m", "min": 0.5,
                                                          "answers": 2}),
        "price note number": ("price_notes", {"m": 7}),
        "quality tier": ("quality", {"m": {"metric": "m", "tier": "guessed", "samples": []}}),
    }
    for name, (field, value) in spoilt.items():
        doc = copy.deepcopy(run_doc)
        doc["scenarios"][0][field] = value
        assert _errors(validator, doc), name
    doc = copy.deepcopy(run_doc)
    doc["scenarios"][0]["verdicts"][0]["status"] = "OK"
    assert _errors(validator, doc)
    doc = copy.deepcopy(run_doc)
    doc["scenarios"][0]["requests"][0]["stages"][0]["start_ms"] = -1
    assert _errors(validator, doc)


def test_the_docs_explain_every_field_the_schema_names() -> None:
    text = (DOCS / "json-schema.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_0-9]+)`", text))
    defs = SCHEMA["$defs"]
    groups = {
        "top level": SCHEMA["properties"],
        "scenario": defs["scenario"]["properties"],
        "request": defs["request"]["properties"],
        "stage": defs["stage"]["properties"],
        "verdict": defs["verdict"]["properties"],
        "summary": defs["summary_row"]["properties"],
        "per_success": defs["per_success"]["oneOf"][1]["properties"],
        "quality": defs["metric_scores"]["properties"],
        "quality sample": defs["metric_scores"]["properties"]["samples"]["items"]["properties"],
    }
    missing = {group: sorted(set(props) - named) for group, props in groups.items()}
    assert {g: m for g, m in missing.items() if m} == {}
    assert "ragcost-run.schema.json" in text
