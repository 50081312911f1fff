"""A seeded generator of technical PDFs with planted facts, and the questions about them.

The PDFs are never committed: the same seed gives the same documents, so they are made
again in seconds into a cache directory. Each document is an operations manual for a
fictional system; a few sentences in it state a fact with a unique number (the only
digits in the document's prose), and each such fact becomes a question whose reference
answer and source sentences are known, which is what the quality gate scores against.

Retrieval is made as hard as it is in real manuals, so that the knobs move quality:

* **Near-duplicate distractors.** Each fact has two sentences worded almost like it: the
  same attribute of a sibling part of the same system, and the value the same part had
  before the current release. Both rank close to the real sentence, so a small top_k
  can lose it, and an answer can quote the wrong number.
* **Answers that span two chunks.** About one fact in three is stated indirectly: one
  sentence says which part a component takes the setting from, another, far away in the
  document, gives that part's value. The question names only the first part, so both
  chunks must be retrieved to answer it.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from fpdf import FPDF

# Bump when the generator's output changes, so stale caches are not reused.
GENERATOR_VERSION = 5

_SYLLABLES = (
    "tar",
    "wick",
    "hal",
    "vor",
    "sen",
    "cor",
    "vane",
    "mel",
    "dra",
    "quin",
    "tal",
    "bry",
    "os",
    "fen",
    "gar",
    "lum",
    "ith",
    "ne",
    "pax",
    "ter",
    "rho",
    "dan",
    "kel",
    "mir",
    "ost",
    "var",
    "zen",
    "bel",
    "cad",
    "rin",
    "sul",
    "tor",
    "ev",
    "ash",
    "lo",
    "mak",
)
_KINDS = (
    "scheduler",
    "gateway",
    "ingest queue",
    "object store",
    "metrics pipeline",
    "key vault",
    "stream processor",
    "cache tier",
    "build farm",
    "search cluster",
    "message broker",
    "replication daemon",
    "audit service",
    "feature store",
)
_PARTS = (
    "dispatch ring",
    "write-ahead log",
    "admission controller",
    "shard router",
    "compaction worker",
    "lease manager",
    "health prober",
    "snapshot agent",
    "rate limiter",
    "token service",
    "checkpoint writer",
    "index builder",
)
# (attribute, unit, low, high): a planted fact states "<attribute> of <part> is <n> <unit>".
_ATTRIBUTES = (
    ("default retention window", "hours", 12, 900),
    ("heartbeat interval", "milliseconds", 150, 9000),
    ("maximum payload size", "kilobytes", 64, 8192),
    ("replication factor", "replicas", 3, 11),
    ("listening port", "", 1024, 65000),
    ("cold-start timeout", "seconds", 20, 600),
    ("batch ceiling", "records", 200, 50000),
    ("shard count", "shards", 8, 4096),
    ("lease duration", "seconds", 5, 300),
    ("queue depth alarm threshold", "messages", 500, 90000),
)
_VERBS = (
    "coordinates",
    "buffers",
    "throttles",
    "validates",
    "replicates",
    "compacts",
    "schedules",
    "partitions",
    "audits",
    "rebalances",
    "drains",
    "indexes",
)
_OBJECTS = (
    "incoming requests",
    "tenant quotas",
    "write batches",
    "stale leases",
    "cold segments",
    "routing tables",
    "retry budgets",
    "checkpoint files",
    "consumer offsets",
    "schema versions",
    "failover plans",
    "encryption keys",
)
_ADVERBS = ("carefully", "eagerly", "lazily", "periodically", "conservatively", "in bulk")
_CONDITIONS = (
    "when a node leaves the cluster",
    "during a rolling upgrade",
    "under sustained load",
    "after a network partition heals",
    "while a snapshot is in flight",
    "when the disk nears its quota",
    "before a tenant is migrated",
    "if the upstream service is slow",
    "at the start of each maintenance window",
)
_CONSEQUENCES = (
    "latency stays predictable",
    "no acknowledged write is lost",
    "operators see one alert",
    "recovery needs no manual step",
    "the control plane stays responsive",
    "memory use stays flat",
    "clients retry with backoff",
    "the audit trail stays complete",
)
_SECTION_TITLES = (
    "Architecture overview",
    "Deployment",
    "Capacity planning",
    "Failure modes",
    "Observability",
    "Security model",
    "Upgrades and migrations",
    "Tuning guide",
    "Troubleshooting",
    "Data lifecycle",
    "Operational runbook",
    "Design notes",
)


@dataclass(frozen=True)
class Fact:
    """One planted fact: the sentence in the PDF and the question that asks for it."""

    fact_id: str
    doc_id: str
    question: str
    answer: str
    sentence: str
    #: Other sentences the answer needs (a two-chunk fact: the link to the part that
    #: holds the value); ``sentence`` is always the one that states the value.
    support: tuple[str, ...] = ()

    @property
    def sentences(self) -> tuple[str, ...]:
        return (*self.support, self.sentence)


@dataclass(frozen=True)
class GeneratedDocument:
    doc_id: str
    path: Path
    title: str
    pages: int
    facts: tuple[Fact, ...]


def _name(rng: random.Random) -> str:
    word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
    return word.capitalize()


def _value(rng: random.Random, lo: int, hi: int, unit: str, used: set[int]) -> str:
    """A number not used anywhere else in the corpus, with its unit: every value, real or
    distractor, is findable in exactly one sentence."""
    value, top = rng.randint(lo, hi), hi
    while value in used:  # a small range (replicas: 3 to 11) fills up: widen it
        top += max(1, (hi - lo) // 4)
        value = rng.randint(lo, top)
    used.add(value)
    return f"{value} {unit}".strip()


def _sentence(rng: random.Random, subject: str) -> str:
    shape = rng.randrange(5)
    verb, obj = rng.choice(_VERBS), rng.choice(_OBJECTS)
    cond, cons = rng.choice(_CONDITIONS), rng.choice(_CONSEQUENCES)
    if shape == 0:
        return f"The {subject} {verb} {obj} {rng.choice(_ADVERBS)} {cond}."
    if shape == 1:
        return f"{cond.capitalize()}, the {subject} {verb} {obj} so that {cons}."
    if shape == 2:
        return f"Operators rely on the {subject} because it {verb} {obj} and {cons}."
    if shape == 3:
        return (
            f"A common mistake is to assume the {subject} {verb} {obj} at once; in practice "
            f"it defers that work so that {cons}."
        )
    return f"Because the {subject} {verb} {obj}, {cons} even {cond}."


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self._title = title
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(20, 18, 20)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 6, self._title, align="R")
        self.ln(8)
        self.set_x(self.l_margin)


def generate_document(
    seed: int, index: int, pages: int, n_facts: int, out_dir: Path, used_values: set[int]
) -> GeneratedDocument:
    """Write one PDF of about ``pages`` pages with ``n_facts`` planted facts."""
    rng = random.Random(f"{seed}:{index}")
    system = _name(rng)
    kind = rng.choice(_KINDS)
    title = f"{system} {kind}: operations manual"
    doc_id = f"doc-{seed % 100000:05d}-{index:04d}"
    parts = rng.sample(_PARTS, k=len(_PARTS))
    asked, spare = parts[:n_facts], parts[n_facts:]
    attrs = rng.sample(_ATTRIBUTES, k=n_facts)
    facts: list[Fact] = []
    pending: list[tuple[float, str]] = []
    for i, ((attr, unit, lo, hi), part) in enumerate(zip(attrs, asked, strict=False)):
        answer = _value(rng, lo, hi, unit, used_values)
        subject = f"{system} {part}"
        support: tuple[str, ...] = ()
        if (index + i) % 3 == 1 and spare:
            # Two chunks: the asked part takes its value from another part, stated far away.
            source = f"{system} {spare.pop()}"
            link = f"The {subject} takes its {attr} from the {source}, which sets it for both."
            sentence = f"The {attr} of the {source} is {answer}."
            question = f"What {attr} does the {subject} use in the {system} {kind}?"
            support = (link,)
            first, second = rng.uniform(0.05, 0.4), rng.uniform(0.6, 0.95)
            if rng.random() < 0.5:
                first, second = second, first
            pending += [(first, link), (second, sentence)]
        else:
            sentence = f"The {attr} of the {subject} is {answer}."
            if rng.random() < 0.4:
                question = f"{subject} {attr}?"
            else:
                question = f"What is the {attr} of the {subject} in the {system} {kind}?"
            pending.append((rng.uniform(0.05, 0.95), sentence))
        # Near-duplicates: a sibling part's value, and this part's value before.
        sibling = rng.choice([p for p in parts if p != part and f"{system} {p}" not in sentence])
        pending.append((
            rng.uniform(0.05, 0.95),
            f"The {attr} of the {system} {sibling} is "
            f"{_value(rng, lo, hi, unit, used_values)}.",
        ))
        pending.append((
            rng.uniform(0.05, 0.95),
            f"Before the current release, the {attr} of the {subject} was "
            f"{_value(rng, lo, hi, unit, used_values)}; it changed after an incident review.",
        ))
        facts.append(Fact(f"{doc_id}-f{i}", doc_id, question, answer, sentence, support))
    pending.sort()

    pdf = _Pdf(title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    section = 0
    while True:
        progress = (pdf.page_no() - 1 + pdf.get_y() / pdf.h) / pages
        if progress >= 1.0 and not pending:
            break
        if rng.random() < 0.18 or section == 0:
            section += 1
            pdf.set_font("Helvetica", "B", 12)
            pdf.ln(2)
            pdf.multi_cell(
                0, 7, f"{section}. {rng.choice(_SECTION_TITLES)}", new_x="LMARGIN", new_y="NEXT"
            )
        sentences = [
            _sentence(rng, f"{system} {rng.choice(asked)}") for _ in range(rng.randint(4, 7))
        ]
        while pending and pending[0][0] <= progress:
            sentences.insert(rng.randrange(len(sentences) + 1), pending.pop(0)[1])
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, " ".join(sentences), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{doc_id}.pdf"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    pdf.output(str(tmp))
    tmp.replace(path)
    return GeneratedDocument(doc_id, path, title, pdf.page_no(), tuple(facts))


@dataclass(frozen=True)
class Corpus:
    """A generated corpus on disk: its PDFs and the questions about them."""

    directory: Path
    documents: tuple[GeneratedDocument, ...]

    @property
    def facts(self) -> tuple[Fact, ...]:
        return tuple(f for d in self.documents for f in d.facts)

    @property
    def pages(self) -> int:
        return sum(d.pages for d in self.documents)


def build_corpus(
    cache_dir: Path, seed: int, documents: int, pages_per_document: int, facts_per_document: int
) -> Corpus:
    """Generate (or reuse from ``cache_dir``) a corpus; the manifest records what is there."""
    key = f"v{GENERATOR_VERSION}-s{seed}-d{documents}-p{pages_per_document}-f{facts_per_document}"
    directory = cache_dir / "corpus" / key
    manifest = directory / "manifest.json"
    if manifest.exists():
        return _read_manifest(directory, manifest)
    rng = random.Random(seed)
    used: set[int] = set()
    docs: list[GeneratedDocument] = []
    for i in range(documents):
        pages = max(1, pages_per_document + rng.randint(-2, 2))
        docs.append(generate_document(seed, i, pages, facts_per_document, directory, used))
    corpus = Corpus(directory, tuple(docs))
    _write_manifest(corpus, manifest)
    return corpus


def _write_manifest(corpus: Corpus, manifest: Path) -> None:
    data = [
        {
            "doc_id": d.doc_id,
            "file": d.path.name,
            "title": d.title,
            "pages": d.pages,
            "facts": [asdict(f) for f in d.facts],
        }
        for d in corpus.documents
    ]
    tmp = manifest.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(manifest)


def _read_manifest(directory: Path, manifest: Path) -> Corpus:
    data = json.loads(manifest.read_text())
    docs = tuple(
        GeneratedDocument(
            d["doc_id"],
            directory / d["file"],
            d["title"],
            d["pages"],
            tuple(Fact(**{**f, "support": tuple(f.get("support", ()))}) for f in d["facts"]),
        )
        for d in data
    )
    return Corpus(directory, docs)


def fact_chunk_ids(fact: Fact, chunks: Sequence[tuple[str, str]]) -> list[str]:
    """Ids of the chunks that hold a fact: for each of its sentences, the chunks that hold
    the whole sentence, or else (a sentence cut by a chunk boundary) the chunks that hold
    its value, or either half of it.

    ``chunks`` is ``(chunk_id, text)`` pairs of the fact's own document. A two-chunk fact
    has ids for both its sentences, so retrieving only one of them is half the recall.
    """
    found: list[str] = []
    for sentence in fact.sentences:
        ids = [cid for cid, text in chunks if sentence in text]
        if not ids:
            half = len(sentence) // 2
            pieces = (
                (fact.answer,)
                if sentence == fact.sentence
                else (sentence[:half], sentence[half:])
            )
            ids = [cid for cid, text in chunks if any(p in text for p in pieces)]
        found += [cid for cid in ids if cid not in found]
    return found
