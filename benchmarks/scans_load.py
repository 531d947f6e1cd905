"""Load on the hot path: 16 simulated stations POST /api/v1/scans to a real `linli serve` for a bounded time.

    .venv/bin/python benchmarks/scans_load.py                      # SQLite (a temp file)
    .venv/bin/python benchmarks/scans_load.py --database postgresql://postgres@127.0.0.1:5432/linli_bench --workers 2
    options: --stations 16 --seconds 15 --cards 2000 --workers 1 (PostgreSQL only: more server processes)
             --access-log (serve with uvicorn's line a request; by default `linli serve --no-access-log`)
    .venv/bin/python benchmarks/scans_load.py --in-process 2000    # no server: CPU per scan through the app

Each station has its own device credential and keeps one HTTP/1.1 keep-alive connection; every scan has a new
scan_id and a random card (mode "award"). Prints accepted scans/s and latency p50/p99 as the stations saw them,
the CPU the load generator, the server and (PostgreSQL) the database's backends used per scan, and checks in the
database afterwards that every accepted scan wrote exactly one ledger transaction (and that the ledger adds up).
The load generator shares the
machine's cores with the server (it is a bare asyncio client to keep its share small), so the figures are a
floor. `--in-process N` skips HTTP and the network: it drives the ASGI app directly and prints its CPU per scan,
the figure to steer by on a busy machine. Never a pass/fail test; the README names this file.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def prepare(cards_wanted: int, stations_wanted: int) -> tuple[list[str], list[str], int]:
    """Schema, a community with residents and cards, an award station and one paired device per simulated station."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend import db
    from backend.accounts.tables import Account
    from backend.catalog import service as catalog
    from backend.people.tables import Person
    from backend.servicecards import service as cards
    from backend.stations import service as stations
    from tests import factories as f

    if db.engine().engine_type == "postgres":
        await db.engine().run_ddl("DROP SCHEMA public CASCADE")
        await db.engine().run_ddl("CREATE SCHEMA public")
    result = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not result.success:
        raise SystemExit(f"migrations failed: {result.message}")
    await db.prepare()
    now = datetime.now(timezone.utc)
    t = await f.tree()
    await f.issuer(t["c1"])
    admin = await f.admin_principal(t["c1"])
    # in slices: PostgreSQL takes at most 32,767 bound parameters a statement
    people, accounts = [], []
    for start in range(0, cards_wanted, 1000):
        people += await Person.insert(*(Person(name=f"居民{i}", home=t["unit"], community=t["c1"])
                                        for i in range(start, min(start + 1000, cards_wanted))))
    for start in range(0, len(people), 1000):
        accounts += await Account.insert(*(Account(kind="person", colour="blue", holder=p["id"], name=f"居民{i}",
                                                   community=t["c1"])
                                           for i, p in enumerate(people[start:start + 1000], start)))
    key = await cards.ensure_signing_key(now)
    async with db.atomic():
        pks = await cards.insert_cards([a["id"] for a in accounts], key["key_id"], None, now)
    urls = [await cards.card_url(await cards.card(pk)) for pk in pks]
    item = await catalog.add_item(await catalog.add_category(t["c1"], "志愿服务"), "值班", 5, date(2020, 1, 1))
    station = await stations.create_station(admin, t["c1"], "压测服务站", "centre", ["award"], award_items=[item])
    credentials = []
    for i in range(stations_wanted):
        code = await stations.new_pairing_code(admin, station, f"设备{i}", now)
        credentials.append(await stations.pair(code, now))
    await db.close()
    return urls, credentials, item


def scan_body(rng: random.Random, urls: list[str], item: int) -> bytes:
    return json.dumps({"scan_id": str(uuid.uuid4()), "scanned_at": datetime.now(timezone.utc).isoformat(), "mode": "award",
                       "card": rng.choice(urls), "details": {"item_id": item}}).encode()


# --- the load generator: a bare HTTP/1.1 keep-alive client, so that it takes little of the shared CPU ----------

async def station(port: int, credential: str, urls: list[str], item: int, until: float, latencies: list[float],
                  outcomes: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"POST /api/v1/scans HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Device {credential}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()
    rng = random.Random(credential)
    try:
        while time.perf_counter() < until:
            body = scan_body(rng, urls, item)
            start = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            status_line, _, headers = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in headers.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            status = int(status_line.split()[1])
            outcomes[status] = outcomes.get(status, 0) + 1
    finally:
        writer.close()


async def load(port: int, credentials, urls, item, seconds: float) -> tuple[list[float], dict, float]:
    latencies: list[float] = []
    outcomes: dict[int, int] = {}
    start = time.perf_counter()
    await asyncio.gather(*(station(port, c, urls, item, start + seconds, latencies, outcomes) for c in credentials))
    return latencies, outcomes, time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its waited-for children (uvicorn's workers), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return total / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(int(c)) for c in children)


def database_cpu_seconds(url: str) -> float | None:
    """PostgreSQL: user + system CPU of the backends serving this database (their titles name it), from /proc.
    Backends that end during the run take their CPU with them, so only the server's pooled connections count."""
    if not url.startswith("postgres"):
        return None
    name = urlsplit(url).path.lstrip("/")  # also for a socket's URL: postgresql://user@/name?host=/var/run/postgresql
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if title.startswith("postgres: ") and f" {name} " in title:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    return total


async def check_exactly_once(accepted_seen: int) -> str:
    """Accepted scans == their ledger transactions, one each, and the ledger adds up."""
    from backend import db
    from backend.ledger import service as ledger

    await db.prepare()
    try:
        scans = (await db.fetch("SELECT COUNT(*) AS n FROM scan WHERE accepted"))[0]["n"]
        with_txn = (await db.fetch("SELECT COUNT(DISTINCT txn) AS n FROM scan WHERE accepted AND txn IS NOT NULL"))[0]["n"]
        txns = (await db.fetch("SELECT COUNT(*) AS n FROM ledger_transaction WHERE source_type = 'scan'"))[0]["n"]
        problems = await ledger.verify()
    finally:
        await db.close()
    ok = accepted_seen == scans == with_txn == txns and not problems
    return (f"{'OK' if ok else 'MISMATCH'}: accepted answers={accepted_seen} accepted scans stored={scans} "
            f"distinct transactions of accepted scans={with_txn} scan transactions={txns} ledger problems={len(problems)}")


# --- no server: the ASGI app driven directly, for CPU per scan ------------------------------------------------------

async def in_process(scans: int, stations_wanted: int, cards_wanted: int) -> None:
    from backend import db
    from backend.app import create_app

    urls, credentials, item = await prepare(cards_wanted, stations_wanted)
    await db.prepare()
    app = create_app()
    statuses: dict[int, int] = {}

    async def one(credential: str, rng: random.Random) -> None:
        body = scan_body(rng, urls, item)
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/api/v1/scans", "raw_path": b"/api/v1/scans", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"bench"), (b"content-type", b"application/json"),
                             (b"authorization", f"Device {credential}".encode()), (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 1), "server": ("bench", 80), "state": {}}
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    async def run(per_station: int) -> None:
        async def each(credential: str) -> None:
            rng = random.Random(credential)
            for _ in range(per_station):
                await one(credential, rng)
        await asyncio.gather(*(each(c) for c in credentials))

    await run(20)  # warm up: imports, caches, the query plans
    warm_accepted = statuses.get(200, 0)
    statuses.clear()
    url = os.environ["LINLI_DATABASE_URL"]
    backends = database_cpu_seconds(url)
    cpu, wall = time.process_time(), time.perf_counter()
    await run(max(1, scans // len(credentials)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    backends = database_cpu_seconds(url) - backends if backends is not None else None
    done = sum(statuses.values())
    await db.close()
    engine = "postgresql" if db.is_postgres() else "sqlite"
    print(f"engine={engine} in-process scans={done} statuses={statuses}")
    print(f"CPU per scan={cpu / done * 1000:.3f} ms  (wall {wall / done * 1000:.3f} ms per scan, {done / wall:.0f} scans/s on one core)"
          + (f"; PostgreSQL backends {backends / done * 1000:.3f} ms" if backends is not None else ""))
    print(await check_exactly_once(warm_accepted + statuses.get(200, 0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=None, help="postgresql://… (default: a temporary SQLite file)")
    parser.add_argument("--stations", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL only)")
    parser.add_argument("--in-process", type=int, default=0, metavar="SCANS", help="no server: CPU per scan")
    parser.add_argument("--access-log", action="store_true", help="serve with uvicorn's access log (off by default)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    url = args.database or f"sqlite:///{folder / 'bench.sqlite3'}"
    env = {**os.environ, "LINLI_DATABASE_URL": url, "PICCOLO_CONF": "backend.piccolo_conf", "LINLI_SECRET_KEY": "b" * 64,
           "LINLI_PORT": str(args.port)}
    os.environ.update(env)
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    if args.in_process:
        asyncio.run(in_process(args.in_process, args.stations, args.cards))
        return
    urls, credentials, item = asyncio.run(prepare(args.cards, args.stations))
    log = open(folder / "server.log", "w")
    command = [str(ROOT / ".venv/bin/linli"), "serve", "--port", str(args.port), "--workers", str(args.workers),
               "--access-log" if args.access_log else "--no-access-log"]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        import httpx

        for _ in range(200):
            try:
                httpx.get(f"http://127.0.0.1:{args.port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        for _ in range(300):  # every worker up (each logs this once)
            if (folder / "server.log").read_text().count("Application startup complete") >= args.workers:
                break
            time.sleep(0.1)
        server_cpu, client_cpu, database_cpu = cpu_seconds(server.pid), time.process_time(), database_cpu_seconds(url)
        latencies, outcomes, elapsed = asyncio.run(load(args.port, credentials, urls, item, args.seconds))
        server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu, time.process_time() - client_cpu
        if database_cpu is not None:
            database_cpu = database_cpu_seconds(url) - database_cpu
    finally:
        server.terminate()
        server.wait(20)
    accepted = outcomes.get(200, 0)
    cut = statistics.quantiles(latencies, n=100)
    engine = "postgresql" if url.startswith("postgres") else "sqlite"
    print(f"engine={engine} stations={args.stations} workers={args.workers} seconds={elapsed:.1f} "
          f"requests={len(latencies)} statuses={outcomes}")
    print(f"accepted scans/s={accepted / elapsed:.0f}  p50={cut[49] * 1000:.1f} ms  p99={cut[98] * 1000:.1f} ms")
    database = "" if database_cpu is None else f"PostgreSQL backends {database_cpu / len(latencies) * 1000:.2f} ms, "
    print(f"CPU per request: server {server_cpu / len(latencies) * 1000:.2f} ms, {database}load generator "
          f"{client_cpu / len(latencies) * 1000:.2f} ms ({client_cpu:.1f} s in all); load average {os.getloadavg()[0]:.1f}")
    print(asyncio.run(check_exactly_once(accepted)))


if __name__ == "__main__":
    main()
