"""`linli serve --workers N`: several server processes for PostgreSQL, each listening on its own socket so the
connections spread over them; SQLite is served by one."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ENGINE_NAME

LINLI = str(Path(sys.executable).parent / "linli")


def test_more_than_one_worker_is_refused_on_sqlite(tmp_path):
    env = {**os.environ, "LINLI_DATABASE_URL": f"sqlite:///{tmp_path / 'one.sqlite3'}"}
    result = subprocess.run([LINLI, "serve", "--workers", "2"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == "linli: --workers above 1 needs PostgreSQL (SQLite is served by one process)\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _owners(state: str, port: int) -> list[int]:
    """The pids holding this port's sockets in `state` (ss: listening / established), one entry a socket."""
    out = subprocess.run(["ss", "-Htnp", "state", state, f"( sport = :{port} )"], capture_output=True, text=True).stdout
    return [int(pid) for pid in re.findall(r"pid=(\d+)", out)]


def _wait_for_listeners(port: int, count: int, server: subprocess.Popen, exclude=()) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        listening = [pid for pid in _owners("listening", port) if pid not in exclude]
        if len(set(listening)) == count:
            return listening
        time.sleep(0.2)
    raise AssertionError(f"{count} workers never listened on {port} (server exit {server.poll()})")


@pytest.mark.db
@pytest.mark.skipif(ENGINE_NAME != "postgres", reason="several workers serve PostgreSQL only")
def test_two_workers_each_take_a_share_of_the_connections_and_a_dead_one_is_replaced(database, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "LINLI_DATABASE_POOL"}
    log = tmp_path / "serve.log"
    server = subprocess.Popen([LINLI, "serve", "--workers", "2", "--port", str(port), "--no-access-log"], env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    connections = []
    try:
        workers = set(_wait_for_listeners(port, 2, server))
        # stations opening their connections all at once: with one shared socket, one worker took them all
        for _ in range(32):
            connections.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        for c in connections:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        for c in connections:
            assert c.recv(64).startswith(b"HTTP/1.1 200")
        shares = Counter(_owners("established", port))
        assert set(shares) == workers and sum(shares.values()) == 32
        # by hash: each of two gets at least 6 of 32 but for a chance of about 1 in 10,000
        assert min(shares.values()) >= 6, shares

        # a second server on the same port is refused, not let in to share the connections
        second = subprocess.run([LINLI, "serve", "--workers", "2", "--port", str(port)], env=env, capture_output=True,
                                text=True, timeout=60)
        assert second.returncode == 1
        assert second.stderr.endswith(f"linli: cannot listen on 127.0.0.1:{port} (Address already in use)\n")

        gone = min(workers)
        os.kill(gone, signal.SIGKILL)
        replaced = set(_wait_for_listeners(port, 2, server, exclude={gone}))
        assert gone not in replaced and len(replaced & workers) == 1
    finally:
        for c in connections:
            c.close()
        server.terminate()
        assert server.wait(timeout=30) == 0, log.read_text()
    assert _owners("listening", port) == []


@pytest.mark.db
@pytest.mark.skipif(ENGINE_NAME != "postgres", reason="several workers serve PostgreSQL only")
def test_the_workers_stop_when_their_supervisor_is_killed(database, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "LINLI_DATABASE_POOL"}
    server = subprocess.Popen([LINLI, "serve", "--workers", "2", "--port", str(port), "--no-access-log"], env=env,
                              stdout=(tmp_path / "serve.log").open("w"), stderr=subprocess.STDOUT)
    try:
        _wait_for_listeners(port, 2, server)
    finally:
        server.kill()
        server.wait(timeout=10)
    deadline = time.monotonic() + 30
    while _owners("listening", port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _owners("listening", port) == []
