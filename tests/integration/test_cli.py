"""The `linli` command line, run as the installed console script in a subprocess: the real entry point,
and its own event loop (pytest-asyncio keeps one running in this process)."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from backend.cli import main
from backend.people import service as people
from tests import factories as f

LINLI = str(Path(sys.executable).parent / "linli")
COMMANDS = (
    [], ["db"], ["db", "migrate"], ["db", "check"], ["demo"], ["demo", "load"], ["serve"],
    ["users"], ["users", "create"], ["ledger"], ["ledger", "verify"],
)


def linli(*args: str, url: str | None = None, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `linli ARGS` against `url` (default: the test database)."""
    env = {**os.environ, "LINLI_DATABASE_URL": url or os.environ["LINLI_DATABASE_URL"]}
    return subprocess.run([LINLI, *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def fresh_sqlite(tmp_path) -> str:
    """A database file nobody has migrated."""
    return f"sqlite:///{tmp_path / 'fresh.sqlite3'}"


@pytest.fixture
def migrated_sqlite(fresh_sqlite) -> str:
    done = linli("db", "migrate", url=fresh_sqlite)
    assert done.returncode == 0, done.stderr
    return fresh_sqlite


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "linli")
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")


def test_migrate_brings_a_new_database_up_to_date(fresh_sqlite):
    behind = linli("db", "check", url=fresh_sqlite)
    assert behind.returncode == 1
    pending = int(behind.stdout.split("pending migrations:")[1])
    assert pending > 0 and "linli db migrate" in behind.stderr

    first = linli("db", "migrate", url=fresh_sqlite)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"applied {pending} migration(s)"
    again = linli("db", "migrate", url=fresh_sqlite)
    assert again.returncode == 0 and "up to date" in again.stdout

    ready = linli("db", "check", url=fresh_sqlite)
    assert ready.returncode == 0 and ready.stdout.strip() == "pending migrations: 0"


@pytest.mark.db
async def test_ledger_verify_exits_1_once_a_balance_is_tampered_with(clean_db):
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    _, alice = await f.person_account("王小明", t["unit"], t["c1"])
    await f.award(issuer, alice, 20, t["c1"])

    ok = linli("ledger", "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "ledger OK: 2 accounts, 1 transactions"

    await clean_db.run_ddl(f"UPDATE points_account SET balance = balance + 5 WHERE id = {alice}")
    bad = linli("ledger", "verify")
    assert bad.returncode == 1
    assert f"balance_mismatch: account {alice} has balance 25, its postings sum to 20" in bad.stdout
    assert "1 problem" in bad.stderr


@pytest.mark.db
async def test_users_create_grants_a_role_and_reports_domain_errors(clean_db):
    t = await f.tree()
    made = linli("users", "create", "wang", "--display-name", "王主任", "--role", "community_admin",
                 "--node", str(t["c1"]), "--password-stdin", stdin="correct horse\n")
    assert made.returncode == 0, made.stderr
    who = await people.authenticate("wang", "correct horse", f.NOW)
    assert who.display_name == "王主任" and who.roles == {"community_admin"}

    taken = linli("users", "create", "wang", "--display-name", "又一个", "--password-stdin", stdin="correct horse\n")
    assert taken.returncode == 1 and "username_taken" in taken.stderr
    short = linli("users", "create", "li", "--display-name", "李", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "password_too_short" in short.stderr
    nobody = linli("users", "create", "li", "--display-name", "李", "--person", "999999", "--password-stdin",
                   stdin="correct horse\n")
    assert nobody.returncode == 1 and "person_not_found" in nobody.stderr
    assert linli("users", "create", "li", "--display-name", "李", "--role", "mayor", "--node", "1",
                 "--password-stdin", stdin="correct horse\n").returncode == 2  # click rejects the choice


def test_users_create_asks_for_the_password_twice(migrated_sqlite):
    made = linli("users", "create", "zhao", "--display-name", "赵", url=migrated_sqlite, stdin="pass-word-1\npass-word-1\n")
    assert made.returncode == 0, made.stderr
    assert "created user 'zhao'" in made.stdout


def test_demo_load_is_idempotent(migrated_sqlite):
    started = time.perf_counter()
    loaded = linli("demo", "load", url=migrated_sqlite)
    took = time.perf_counter() - started
    assert loaded.returncode == 0, loaded.stderr
    assert "300 residents" in loaded.stdout and "linli-demo-2026" in loaded.stdout and "resident1" in loaded.stdout
    print(f"linli demo load took {took:.1f} s")  # a figure for the record (pytest -s), not a pass/fail timing

    again = linli("demo", "load", url=migrated_sqlite)
    assert again.returncode == 0 and "already loaded" in again.stdout
    verified = linli("ledger", "verify", url=migrated_sqlite)
    assert verified.returncode == 0 and verified.stdout.startswith("ledger OK: 338 accounts")


def test_serve_fails_fast_when_the_database_is_unreachable():
    started = time.perf_counter()
    result = linli("serve", url="postgresql://postgres@127.0.0.1:1/none", timeout=30)
    assert result.returncode == 2
    assert time.perf_counter() - started < 15
    assert result.stderr.startswith("linli: cannot reach the database")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_serve_fails_fast_on_an_unmigrated_database(fresh_sqlite):
    result = linli("serve", url=fresh_sqlite, timeout=30)
    assert result.returncode == 2
    assert "run `linli db migrate`" in result.stderr and result.stderr.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_the_app_on_a_ready_database(migrated_sqlite):
    port = _free_port()
    env = {**os.environ, "LINLI_DATABASE_URL": migrated_sqlite}
    server = subprocess.Popen([LINLI, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.poll() is None:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        assert server.poll() is None, server.stdout.read()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            assert s.recv(64).startswith(b"HTTP/1.1 ")
    finally:
        server.terminate()
        server.wait(timeout=15)
