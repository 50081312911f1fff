"""The documentation runs, and its links resolve.

README.md and docs/*.md mark the blocks a reader can run offline in seconds with an HTML
comment on the line before the fence (docs/development.md, "Runnable documentation"):

    <!-- runnable -->               run this bash or python block; it must exit 0
    <!-- runnable: exit=1 -->       run it; it must exit 1 (a failing gate)
    <!-- runnable: file=PATH -->    write the block to PATH in the page's project
    <!-- runnable-project: DIR -->  the page's project starts as a copy of the repo's DIR

Each page's blocks run in order in a fresh temporary git repository, through real
subprocesses (bash, this interpreter, the `pytest` and `ragcost` commands next to it),
with this tree's package first on PYTHONPATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RUNNABLE_PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
LINKED_PAGES = [*RUNNABLE_PAGES, *sorted((ROOT / "examples").glob("*/README.md")),
                ROOT / "benchmarks" / "README.md", ROOT / "CHANGELOG.md"]
README_MAX_LINES = 300
BLOCK_TIMEOUT_S = 300

SHELLS = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
MARKER = re.compile(r"^<!--\s*runnable(?::\s*(?P<options>.*?))?\s*-->$")
PROJECT = re.compile(r"^<!--\s*runnable-project:\s*(?P<dir>\S+)\s*-->$")
OPTIONS = {"file", "exit"}


class DocError(Exception):
    """A page whose runnable markers cannot be followed, or a block that failed."""


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page}" \
               f":{self.line}"


@dataclass(frozen=True)
class Page:
    path: Path
    project: str | None
    blocks: tuple[Block, ...]


def _options(text: str | None, where: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for word in (text or "").split():
        key, sep, value = word.partition("=")
        if not sep or key not in OPTIONS or not value:
            raise DocError(f"{where}: runnable marker option {word!r} is not one of "
                           f"{', '.join(sorted(k + '=...' for k in OPTIONS))}")
        options[key] = value
    if "exit" in options and not options["exit"].isdigit():
        raise DocError(f"{where}: exit= needs a whole number (got {options['exit']!r})")
    return options


def parse(path: Path, text: str | None = None) -> Page:
    """The runnable blocks of one Markdown page, in order."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    project: str | None = None
    blocks: list[Block] = []
    pending: tuple[int, dict[str, str]] | None = None  # a marker waiting for its fence
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        where = f"{path.name}:{i + 1}"
        if m := PROJECT.match(line):
            project = m["dir"]
        elif m := MARKER.match(line):
            pending = (i + 1, _options(m["options"], where))
        elif m := FENCE.match(line):
            close = m["fence"]
            body: list[str] = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(close):
                body.append(lines[j])
                j += 1
            if pending is not None:
                lang = m["lang"].lower()
                options = pending[1]
                if "file" not in options and lang not in SHELLS | {"python"}:
                    raise DocError(f"{where}: a runnable block must be bash or python, or "
                                   f"name a file= to write (got {lang or 'no language'!r})")
                blocks.append(Block(path, i + 1, lang, "\n".join(body) + "\n", options))
                pending = None
            i = j
        elif line and pending is not None:
            raise DocError(f"{path.name}:{pending[0]}: a runnable marker must stand on the "
                           "line before a fenced block")
        i += 1
    if pending is not None:
        raise DocError(f"{path.name}:{pending[0]}: a runnable marker with no block after it")
    return Page(path, project, tuple(blocks))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           # an inner run must not write into this job's summary, think it is an xdist
           # worker of this session, or see an A/B side's variables
           if not k.startswith(("PYTEST_", "RAGCOST_AB_")) and k != "GITHUB_STEP_SUMMARY"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.update(GIT_AUTHOR_NAME="docs", GIT_AUTHOR_EMAIL="docs@example.invalid",
               GIT_COMMITTER_NAME="docs", GIT_COMMITTER_EMAIL="docs@example.invalid")
    return env


def _make_project(page: Page, where: Path) -> Path:
    if page.project is not None:
        source = ROOT / page.project
        if not source.is_dir():
            raise DocError(f"{page.path.name}: runnable-project {page.project!r} is not a "
                           "folder of the repository")
        shutil.copytree(source, where, ignore=shutil.ignore_patterns(
            ".ragcost", "__pycache__", ".pytest_cache", ".cache", "*.pyc"))
    else:
        where.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "."], cwd=where, check=True, env=_env())
    return where


def run_page(page: Page, where: Path) -> list[str]:
    """Runs the page's blocks in order in a new project at ``where``; raises DocError
    naming the first block that failed. Returns a line per block that ran."""
    project = _make_project(page, where)
    env = _env()
    done: list[str] = []
    for block in page.blocks:
        if "file" in block.options:
            target = project / block.options["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text, encoding="utf-8")
            done.append(f"{block.where}: wrote {block.options['file']}")
            continue
        if block.lang in SHELLS:
            argv = ["bash", "-e", "-o", "pipefail", "-c", block.text]
        else:
            argv = [sys.executable, "-c", block.text]
        try:
            result = subprocess.run(argv, cwd=project, env=env, capture_output=True,
                                    text=True, timeout=BLOCK_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise DocError(f"{block.where}: did not finish in {BLOCK_TIMEOUT_S} s:\n"
                           f"{block.text}") from None
        expected = int(block.options.get("exit", "0"))
        if result.returncode != expected:
            raise DocError(
                f"{block.where}: exited {result.returncode}, the page says {expected}:\n"
                f"{block.text}\n--- stdout ---\n{result.stdout[-6000:]}\n"
                f"--- stderr ---\n{result.stderr[-4000:]}")
        done.append(f"{block.where}: exit {result.returncode}")
    return done


def _pages_with_blocks() -> list[Page]:
    return [page for page in map(parse, RUNNABLE_PAGES) if page.blocks]


@pytest.mark.parametrize("page", _pages_with_blocks(),
                         ids=lambda p: str(p.path.relative_to(ROOT)))
def test_runnable_blocks_run(page: Page, tmp_path: Path) -> None:
    done = run_page(page, tmp_path / "project")
    assert len(done) == len(page.blocks)


def test_the_readme_and_the_quickstart_pages_have_runnable_blocks() -> None:
    """The markers are not lost in an edit: the first five minutes stay tested."""
    readme = parse(README)
    commands = "".join(b.text for b in readme.blocks if b.lang in SHELLS)
    assert "pytest --ragcost --ragcost-update" in commands
    assert "git add ragcost.yaml ragcost.items.json" in commands
    assert any(b.options.get("exit") == "1" for b in readme.blocks)
    cli = parse(ROOT / "docs" / "cli.md")
    assert any("ragcost report" in b.text for b in cli.blocks)


def test_a_broken_block_fails_the_page(tmp_path: Path) -> None:
    page = parse(tmp_path / "page.md", text=(
        "# A page\n\n<!-- runnable: file=test_x.py -->\n```python\n"
        "def test_x():\n    assert 1 == 2\n```\n\n"
        "<!-- runnable -->\n```bash\npytest -q -p no:ragcost test_x.py\n```\n"))
    with pytest.raises(DocError, match=r"page.md:10: exited 1, the page says 0") as info:
        run_page(page, tmp_path / "project")
    assert "assert 1 == 2" in str(info.value)  # the block's own output is shown


def test_a_block_that_should_fail_and_passes_fails_the_page(tmp_path: Path) -> None:
    page = parse(tmp_path / "page.md", text=(
        "<!-- runnable: exit=1 -->\n```bash\ntrue\n```\n"
        "<!-- runnable -->\n```python\nraise SystemExit(3)\n```\n"))
    with pytest.raises(DocError, match=r"page.md:2: exited 0, the page says 1"):
        run_page(page, tmp_path / "project")
    later = Page(page.path, None, page.blocks[1:])
    with pytest.raises(DocError, match=r"page.md:6: exited 3, the page says 0"):
        run_page(later, tmp_path / "project2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<!-- runnable: exits=1 -->\n```bash\ntrue\n```\n", "option 'exits=1' is not one of"),
        ("<!-- runnable: exit=one -->\n```bash\ntrue\n```\n", "exit= needs a whole number"),
        ("<!-- runnable -->\nSome text.\n```bash\ntrue\n```\n", "must stand on the line before"),
        ("<!-- runnable -->\n```yaml\na: 1\n```\n", "must be bash or python"),
        ("text\n<!-- runnable -->\n", "with no block after it"),
    ],
)
def test_a_malformed_marker_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DocError, match=re.escape(message)):
        parse(tmp_path / "page.md", text=text)


def test_blocks_of_a_page_share_one_project_in_order(tmp_path: Path) -> None:
    page = parse(tmp_path / "page.md", text=(
        "<!-- runnable-project: examples/quickstart -->\n"
        "<!-- runnable: file=notes/a.txt -->\n```text\nhello\n```\n"
        "<!-- runnable -->\n```bash\ngrep -q hello notes/a.txt && test -f ragcost.yaml\n"
        "git status --porcelain >/dev/null\n```\n"))
    assert page.project == "examples/quickstart"
    assert len(run_page(page, tmp_path / "project")) == 2


def test_the_readme_stays_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}): move reference "
        "material into docs/ and link it")


# --------------------------------------------------------------------------- links

LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`+[^`\n]*`+")


def _prose(text: str) -> str:
    """The page without fenced blocks and code spans, where links are not links."""
    out: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        m = FENCE.match(line.strip())
        if fence is None and m:
            fence = m["fence"]
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            out.append(CODE_SPAN.sub("", line))
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = CODE_SPAN.sub(lambda m: m.group(0).strip("`"), heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in _prose_with_headings(path.read_text(encoding="utf-8")):
        base = slug(line.lstrip("#"))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def _prose_with_headings(text: str) -> list[str]:
    headings: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        m = FENCE.match(line.strip())
        if fence is None and m:
            fence = m["fence"]
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None and re.match(r"^#{1,6}\s", line):
            headings.append(line)
    return headings


def test_slugs_follow_github() -> None:
    assert slug("Same-job A/B") == "same-job-ab"
    assert slug("The `ragcost` command") == "the-ragcost-command"
    assert slug("Sweeps: the efficiency frontier") == "sweeps-the-efficiency-frontier"
    assert slug("ragcost.yaml: baselines and budgets") == "ragcostyaml-baselines-and-budgets"


@pytest.mark.parametrize("page", [p for p in LINKED_PAGES if p.exists()],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken: list[str] = []
    for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: {resolved} does not exist")
            continue
        if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading '#{anchor}' in {resolved.name}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)
