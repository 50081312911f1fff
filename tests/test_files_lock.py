"""The bless lock (pytest_ragcost.files.locked): writers in separate processes exclude each
other with flock where fcntl exists and with filelock where it does not (Windows), it is
re-entrant within a thread, and without either a warning says the files go unlocked."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from pytest_ragcost.files import locked

# Each worker reads a counter, sleeps a little inside the lock, writes it back plus one:
# without mutual exclusion two workers read the same value and an increment is lost.
WORKER = """
import sys, time
{block}
from pathlib import Path
from pytest_ragcost.files import locked, write_text_atomic
path = Path(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with locked(path):
        with locked(path):  # re-entrant: a bless holds it around each file's own writer
            n = int(path.read_text()) if path.exists() else 0
            time.sleep(0.002)
            write_text_atomic(path, str(n + 1))
print("backend", "fcntl" if sys.modules.get("fcntl") else "filelock")
"""


def _race(tmp_path: Path, block: str, workers: int = 3, rounds: int = 40) -> tuple[int, str]:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER.format(block=block)), encoding="utf-8")
    counter = tmp_path / "data" / "counter.txt"
    counter.parent.mkdir()
    procs = [subprocess.Popen([sys.executable, str(script), str(counter), str(rounds)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(workers)]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    return int(counter.read_text()), outputs[0]


def test_flock_excludes_writers_in_other_processes(tmp_path: Path) -> None:
    total, out = _race(tmp_path, "")
    assert "backend fcntl" in out
    assert total == 3 * 40
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["counter.txt"]


def test_without_fcntl_filelock_excludes_them(tmp_path: Path) -> None:
    # a platform without fcntl (Windows): the lock is filelock's
    total, out = _race(tmp_path, "sys.modules['fcntl'] = None")
    assert "backend filelock" in out
    assert total == 3 * 40


def test_without_fcntl_or_filelock_the_run_is_told(tmp_path: Path) -> None:
    script = tmp_path / "nolock.py"
    script.write_text(textwrap.dedent("""
        import sys, warnings
        sys.modules['fcntl'] = None
        sys.modules['filelock'] = None
        from pytest_ragcost.files import LockWarning, locked
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with locked(sys.argv[1]):
                pass
        print([str(w.message) for w in seen if issubclass(w.category, LockWarning)])
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "ragcost.yaml")],
                          capture_output=True, text=True, check=True)
    assert "written without a lock" in done.stdout
    assert "pip install filelock" in done.stdout


def test_the_lock_is_reentrant_within_a_thread_and_excludes_other_threads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ragcost.yaml"
    order: list[str] = []
    entered = threading.Event()

    def other() -> None:
        with locked(tmp_path / "ragcost.items.json"):  # same directory, same lock
            order.append("other")

    with locked(path), locked(path):
        worker = threading.Thread(target=other)
        worker.start()
        entered.wait(0.3)
        order.append("first")
    worker.join(10)
    assert not worker.is_alive()
    assert order == ["first", "other"]


@pytest.mark.parametrize("depth", [1, 3])
def test_the_lock_is_released_at_every_depth(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "f"
    for _ in range(2):
        stack = [locked(path) for _ in range(depth)]
        for lock in stack:
            lock.__enter__()
        for lock in reversed(stack):
            lock.__exit__(None, None, None)
    done = threading.Event()

    def again() -> None:
        with locked(path):
            done.set()

    t = threading.Thread(target=again)
    t.start()
    t.join(10)
    assert done.is_set()
