"""Build the schema-2 (pytest-ragcost 0.2) history stores the migration tests open.

The stores are written by the 0.2 code itself, not imitated: this script extracts the
package and the quick-start example at COMMIT (git archive), runs the quick-start twice
under that code (a bless, then a plain run) into a SQLite file and into a throwaway
PostgreSQL 15, and keeps the SQLite file and a plain-SQL dump of the database here.

    python tests/data/history_v2/make.py [COMMIT]     # default: the commit named below
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
#: the last commit whose history is schema version 2
COMMIT = "3a3df3b"

sys.path.insert(0, str(ROOT / "tests"))
from pg_server import PG_BIN, postgres_server  # noqa: E402


def main(commit: str) -> None:
    with tempfile.TemporaryDirectory(prefix="ragcost-v2-") as tmp:
        work = Path(tmp)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "pytest_ragcost", "examples/quickstart"],
            capture_output=True, check=True,
        ).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(work, filter="data")
        # a repository, so the runs carry a commit and a branch as a user's do
        git = ["git", "-C", str(work), "-c", "user.name=ragcost", "-c", "user.email=r@c"]
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "quick-start at 0.2"], check=True)
        env = {**os.environ, "PYTHONPATH": str(work), "RAGCOST_AB_SIDE": ""}
        env.pop("GITHUB_STEP_SUMMARY", None)
        sqlite = HERE / "history.sqlite3"
        sqlite.unlink(missing_ok=True)
        with postgres_server() as url:
            for history in (str(sqlite), url):
                for flags in (["--ragcost-update"], []):
                    subprocess.run(
                        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--ragcost",
                         f"--ragcost-history={history}", "--ragcost-requests=6", *flags],
                        cwd=work / "examples" / "quickstart", env=env, check=True,
                    )
            dump = subprocess.run(
                [str(PG_BIN / "pg_dump"), "--no-owner", "--no-privileges", "--inserts", url],
                capture_output=True, text=True, check=True,
            ).stdout
        # pg_dump's psql-only meta-commands (\\restrict) are not SQL
        lines = [line for line in dump.splitlines() if not line.startswith("\\")]
        (HERE / "postgres.sql").write_text("\n".join(lines) + "\n")
        print(f"wrote {sqlite} and {HERE / 'postgres.sql'} from {commit}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else COMMIT)
