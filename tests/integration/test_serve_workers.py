"""`linli serve --workers N`: several server processes for PostgreSQL; SQLite is served by one."""
import os
import subprocess
import sys
from pathlib import Path

LINLI = str(Path(sys.executable).parent / "linli")


def test_more_than_one_worker_is_refused_on_sqlite(tmp_path):
    env = {**os.environ, "LINLI_DATABASE_URL": f"sqlite:///{tmp_path / 'one.sqlite3'}"}
    result = subprocess.run([LINLI, "serve", "--workers", "2"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == "linli: --workers above 1 needs PostgreSQL (SQLite is served by one process)\n"
