"""`linli serve --workers N`: N server processes, each listening on its own socket bound to the same port
(SO_REUSEPORT), so the kernel spreads new connections over them by hash.

uvicorn's own --workers shares one listening socket, and the process that wakes first accepts every connection
waiting: 16 stations connecting at once landed 16/0 or 15/1 on two workers (benchmarks/scans_load.py), and one
process did nearly all the work while the other idled. Stations keep their connections open, so that stays."""
from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time

import uvicorn
from uvicorn.config import STARTUP_FAILURE

APP = "backend.app:create_app"


def balanced() -> bool:
    """Whether this system spreads connections over sockets sharing a port (Linux does; others may not)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, shared: bool = True) -> socket.socket:
    """shared: one of the workers' sockets on this port; else one that fails if anything listens there already."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _leave_with(parent: int) -> None:
    """A worker whose supervisor died (killed outright) shuts down too, rather than serve on alone, unsupervised."""
    while os.getppid() == parent:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown


def _worker(host: str, port: int, access_log: bool) -> None:
    threading.Thread(target=_leave_with, args=(os.getppid(),), daemon=True).start()
    config = uvicorn.Config(APP, factory=True, host=host, port=port, access_log=access_log)
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def run(host: str, port: int, workers: int, access_log: bool) -> int:
    """Serve until SIGINT/SIGTERM, replacing a worker that dies; the exit status (1: a worker could not start)."""
    # the port is free: one clear error here rather than one per worker. Not SO_REUSEPORT: that bind would succeed
    # beside another `linli serve --workers` on the port, and the two would silently share its connections
    try:
        listening_socket(host, port, shared=False).close()
    except OSError as exc:
        print(f"linli: cannot listen on {host}:{port} ({exc.strerror or exc})", file=sys.stderr)
        return 1
    spawn = multiprocessing.get_context("spawn")
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: stopping.append(number))

    def start() -> multiprocessing.Process:
        process = spawn.Process(target=_worker, args=(host, port, access_log), daemon=False)
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    shown = f"[{host}]" if ":" in host else host
    print(f"linli: serving http://{shown}:{port} with {workers} worker processes, a socket each", file=sys.stderr)
    status = 0
    while not stopping:
        time.sleep(0.5)
        for i, process in enumerate(processes):
            if process.is_alive() or stopping:
                continue
            if process.exitcode == STARTUP_FAILURE:  # the app or the database is broken: every restart would fail
                print(f"linli: worker {process.pid} failed to start; stopping", file=sys.stderr)
                stopping.append(0)
                status = 1
                break
            print(f"linli: worker {process.pid} died (exit {process.exitcode}); starting another", file=sys.stderr)
            processes[i] = start()
    for process in processes:  # each finishes its requests in flight (uvicorn's graceful shutdown)
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
    return status
