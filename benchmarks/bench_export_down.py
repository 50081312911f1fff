"""What a down exporter costs a run: one scenario of 1,200 requests of two stages, run as
``pytest --ragcost`` with OpenTelemetry span export to a healthy loopback collector, to
one that refuses connections and to one that accepts and never answers; the same for a
Pushgateway. Wall time of the whole pytest process, and the ratio to the run without
export, in one run.

    python benchmarks/bench_export_down.py [--requests N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from loopback import accepting, refusing, silent

SCENARIO = """
import pytest

@pytest.mark.ragcost(scenario="many", requests={n})
def test_many(ragcost):
    for q in ragcost.requests(list(range({n}))):
        with ragcost.stage("retrieve") as st:
            st.count(hits=q % 5)
        with ragcost.stage("generate") as st:
            st.tokens(prompt=7, completion=3)
"""


def _run(root: Path, env: dict[str, str], extra: list[str]) -> tuple[float, int, str]:
    cmd = [sys.executable, "-m", "pytest", "--ragcost", "--ragcost-history=none",
           "-p", "no:cacheprovider", "-p", "no:randomly", "-q", *extra]
    t = time.perf_counter()
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - t, done.returncode, done.stdout + done.stderr


def _healthy() -> AbstractContextManager[Any]:
    return accepting()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1200)
    n = parser.parse_args().requests
    base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base["OTEL_SDK_DISABLED"] = "false"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "test_many.py").write_text(SCENARIO.format(n=n), encoding="utf-8")
        rows: list[tuple[str, float, int, int]] = []
        seconds, code, _ = _run(root, {**base, "OTEL_TRACES_EXPORTER": "none"}, [])
        rows.append(("no export", seconds, code, 0))
        endpoints: list[tuple[str, Callable[[], AbstractContextManager[Any]]]] = [
            ("healthy", _healthy), ("refused", refusing), ("silent", silent)]
        for label, endpoint in endpoints:
            with endpoint() as where:
                url = where[0] if isinstance(where, tuple) else where
                seconds, code, out = _run(
                    root, {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": url}, [])
                noise = sum(1 for line in out.splitlines()
                            if "retrying" in line or "Transient error" in line)
                rows.append((f"OTLP {label}", seconds, code, noise))
        for label, endpoint in endpoints:
            with endpoint() as where:
                url = where[0] if isinstance(where, tuple) else where
                seconds, code, _ = _run(root, {**base, "OTEL_TRACES_EXPORTER": "none"},
                                        [f"--ragcost-prometheus=pushgateway:{url}"])
                rows.append((f"Pushgateway {label}", seconds, code, 0))
    first = rows[0][1]
    print(f"pytest --ragcost, one scenario of {n} requests, 2 cores")
    print(f"{'export':24} {'seconds':>8} {'ratio':>6} {'exit':>5} {'retry lines':>12}")
    for label, seconds, code, noise in rows:
        print(f"{label:24} {seconds:8.1f} {seconds / first:6.2f} {code:5d} {noise:12d}")


if __name__ == "__main__":
    main()
