"""What the bless lock costs: flock on the directory (POSIX) against filelock's lock file
(what Windows uses), measured in one run.

    python benchmarks/bench_bless_lock.py

Prints the import time of each backend (in a fresh interpreter, median of 5) and the
time to take and release the lock (median of 2,000 cycles), and their ratios.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time


def _import_ms(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; " \
           "print((time.perf_counter() - t) * 1000)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(5)]
    return statistics.median(runs)


def _cycle_us(take: object, release: object, n: int = 2000) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        take()  # type: ignore[operator]
        release()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e6


def main() -> None:
    import fcntl

    import filelock

    with tempfile.TemporaryDirectory() as tmp:
        fd = os.open(tmp, os.O_RDONLY)
        flock_us = _cycle_us(lambda: fcntl.flock(fd, fcntl.LOCK_EX),
                             lambda: fcntl.flock(fd, fcntl.LOCK_UN))
        os.close(fd)

        def open_flock() -> None:
            held = os.open(tmp, os.O_RDONLY)
            fcntl.flock(held, fcntl.LOCK_EX)
            os.close(held)

        flock_open_us = _cycle_us(open_flock, lambda: None)
        lock = filelock.FileLock(os.path.join(tmp, ".ragcost.lock"))
        filelock_us = _cycle_us(lock.acquire, lock.release)
    fcntl_ms, filelock_ms = _import_ms("fcntl"), _import_ms("filelock")
    print("bless lock cost (2 cores, shared machine)")
    print(f"  import fcntl          {fcntl_ms:8.2f} ms")
    print(f"  import filelock       {filelock_ms:8.2f} ms   ({filelock_ms / fcntl_ms:.0f}x)")
    print(f"  flock cycle           {flock_us:8.1f} us")
    print(f"  open+flock+close      {flock_open_us:8.1f} us   (what files.locked does)")
    print(f"  filelock cycle        {filelock_us:8.1f} us   "
          f"({filelock_us / flock_open_us:.1f}x open+flock)")


if __name__ == "__main__":
    main()
