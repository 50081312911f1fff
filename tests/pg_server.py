"""A throwaway PostgreSQL server for the history tests: Debian's postgresql 15, started in a
temporary data directory on 127.0.0.1 and a free port, stopped when the tests end.

PostgreSQL refuses to run as root, so as root (CI) it runs as the ``postgres`` user
through ``runuser``. Without the server binaries the tests are skipped with the reason,
unless ``RAGCOST_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

PG_BIN = Path(os.environ.get("RAGCOST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class Unavailable(Exception):
    """Why no server can be started here (the skip reason)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        msg = "running as root and there is no 'postgres' user to run the server as"
        raise Unavailable(msg) from None
    if shutil.which("runuser") is None:
        raise Unavailable("running as root and runuser(1) is missing")
    return ["runuser", "-u", "postgres", "--"], user.pw_uid, user.pw_gid


@contextlib.contextmanager
def postgres_server(
    *, durable: bool = False, settings: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Iterator[str]:
    """Start a server; yields a ``postgresql://`` URL of its ``postgres`` database.

    The tests' server skips fsync (its data is thrown away); ``durable`` keeps it, as a
    real server does, for timings (benchmarks/bench_history_scale.py). ``settings`` are
    further ``-c name=value`` server settings; ``base_dir`` where the data directory goes
    (default: the system's temporary directory)."""
    if not (PG_BIN / "pg_ctl").exists():
        msg = f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql)"
        raise Unavailable(msg)
    prefix, uid, gid = _as_server_user()
    base = Path(tempfile.mkdtemp(prefix="ragcost-pg-", dir=base_dir))
    data = base / "data"
    if uid is not None and gid is not None:
        os.chown(base, uid, gid)
    base.chmod(0o700)
    port = _free_port()

    def run(*args: str) -> None:
        done = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = (base / "server.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            msg = f"{' '.join(args[:1])} failed: {done.stderr.strip()} {done.stdout.strip()} {tail}"
            raise RuntimeError(msg)

    try:
        run(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8")
        extra = "".join(f" -c {k}={v}" for k, v in (settings or {}).items())
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log"), "-w",
            "-t", "60", "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1{'' if durable else ' -F'}"
            f"{extra}", "start")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(
                [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                 "stop"],
                capture_output=True, timeout=60, check=False,
            )
        shutil.rmtree(base, ignore_errors=True)
