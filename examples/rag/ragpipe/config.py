"""Settings of the example service, read from ``rag.toml`` into frozen objects."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

EXAMPLE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = EXAMPLE_DIR / "rag.toml"

HydeMode = Literal["on", "off", "short"]
T = TypeVar("T")


@dataclass(frozen=True)
class CorpusSettings:
    seed: int
    documents: int
    pages_per_document: int
    facts_per_document: int


@dataclass(frozen=True)
class IngestSettings:
    chunk_size_chars: int
    chunk_overlap_chars: int
    embed_batch_size: int
    embedding_model: str


@dataclass(frozen=True)
class RetrievalSettings:
    top_k: int
    rrf_k: int
    hyde: HydeMode
    hyde_max_words: int
    rerank_n: int
    reranker: str

    def use_hyde(self, question: str) -> bool:
        """Whether HyDE expansion runs for this question under the current mode."""
        if self.hyde == "on":
            return True
        if self.hyde == "short":
            return len(question.split()) <= self.hyde_max_words
        return False


@dataclass(frozen=True)
class GenerationSettings:
    model: str
    max_tokens: int
    hyde_max_tokens: int
    temperature: float
    context_window_tokens: int
    threads: int


@dataclass(frozen=True)
class Settings:
    """Everything in ``rag.toml``; ``profile(name)`` gives one scenario's view."""

    path: Path
    corpus: CorpusSettings
    ingest: IngestSettings
    retrieval: RetrievalSettings
    generation: GenerationSettings
    profiles: dict[str, dict[str, Any]]
    sweep_top_k: tuple[int, ...]

    def profile_retrieval(self, name: str) -> RetrievalSettings:
        """Retrieval settings of a traffic profile (``[profiles.NAME]`` over ``[retrieval]``)."""
        overrides = self._profile(name)
        fields = {f.name for f in dataclasses.fields(RetrievalSettings)}
        return _replace_checked(
            self.retrieval, overrides, fields, f"{self.path}: [profiles.{name}]"
        )

    def profile_corpus(self, name: str) -> CorpusSettings:
        """Corpus settings of a traffic profile (``[profiles.NAME]`` over ``[corpus]``)."""
        overrides = self._profile(name)
        fields = {f.name for f in dataclasses.fields(CorpusSettings)}
        return _replace_checked(self.corpus, overrides, fields, f"{self.path}: [profiles.{name}]")

    def _profile(self, name: str) -> dict[str, Any]:
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles)) or "none"
            msg = (
                f"{self.path}: no [profiles.{name}] table (profiles defined: {known}); "
                f"add one or use a defined profile"
            )
            raise KeyError(msg)
        return self.profiles[name]


def _replace_checked(base: T, overrides: dict[str, Any], allowed: set[str], where: str) -> T:
    """Apply the overrides that belong to ``base``'s type, checking their types."""
    picked: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in allowed:
            continue
        current = getattr(base, key)
        if type(value) is not type(current):
            msg = (
                f"{where}: {key} must be a {type(current).__name__} like {current!r} "
                f"(found {value!r}); fix the value in the config file"
            )
            raise TypeError(msg)
        picked[key] = value
    return dataclasses.replace(base, **picked)  # type: ignore[type-var]


def _section(raw: dict[str, Any], name: str, cls: type[T], path: Path) -> T:
    table = raw.get(name)
    if not isinstance(table, dict):
        msg = f"{path}: missing [{name}] table; copy it from the committed rag.toml"
        raise ValueError(msg)
    wanted = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    missing = sorted(wanted - set(table))
    unknown = sorted(set(table) - wanted)
    if missing or unknown:
        msg = (
            f"{path}: [{name}] has unknown keys {unknown} and lacks keys {missing}; "
            f"expected exactly {sorted(wanted)}"
        )
        raise ValueError(msg)
    return cls(**table)


def _sweep_key(chosen: Path) -> str:
    """Which list of ``[sweep]`` runs: ``top_k`` by default, ``full_top_k`` when
    ``$RAG_SWEEP`` is ``full`` (the long study: its largest top_k dominates the run)."""
    choice = os.environ.get("RAG_SWEEP", "default")
    if choice not in ("default", "full"):
        msg = (
            f"RAG_SWEEP must be 'default' or 'full' (found {choice!r}); "
            f"'full' runs [sweep] full_top_k of {chosen}"
        )
        raise ValueError(msg)
    return "full_top_k" if choice == "full" else "top_k"


def load_settings(path: Path | None = None) -> Settings:
    """Read ``rag.toml`` (or ``$RAG_CONFIG``) into a :class:`Settings`."""
    chosen = path or Path(os.environ.get("RAG_CONFIG", DEFAULT_CONFIG_PATH))
    with chosen.open("rb") as fh:
        raw = tomllib.load(fh)
    retrieval = _section(raw, "retrieval", RetrievalSettings, chosen)
    if retrieval.hyde not in ("on", "off", "short"):
        msg = (
            f"{chosen}: [retrieval] hyde must be 'on', 'off' or 'short' (found {retrieval.hyde!r})"
        )
        raise ValueError(msg)
    sweep = raw.get("sweep", {}).get(_sweep_key(chosen), [retrieval.top_k])
    return Settings(
        path=chosen,
        corpus=_section(raw, "corpus", CorpusSettings, chosen),
        ingest=_section(raw, "ingest", IngestSettings, chosen),
        retrieval=retrieval,
        generation=_section(raw, "generation", GenerationSettings, chosen),
        profiles=dict(raw.get("profiles", {})),
        sweep_top_k=tuple(int(k) for k in sweep),
    )
