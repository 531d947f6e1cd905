"""Load on the hot path: 16 simulated stations POST /api/v1/scans to a real `linli serve` for a bounded time.

    .venv/bin/python benchmarks/scans_load.py                      # SQLite (a temp file)
    .venv/bin/python benchmarks/scans_load.py --database postgresql://postgres@127.0.0.1:5432/linli_bench
    options: --stations 16 --seconds 15 --cards 2000

Prints accepted scans/s and latency p50/p99 as the stations saw them. The load generator shares the machine's
cores with the server, so the figures are a floor. Never a pass/fail test; the README names this file.
"""
from __future__ import annotations

import argparse
import asyncio
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def prepare(cards_wanted: int, stations_wanted: int) -> tuple[list[str], list[str]]:
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
    await run_forwards(app_name="all", migration_id="all", fake=False)
    await db.prepare()
    now = datetime.now(timezone.utc)
    t = await f.tree()
    await f.issuer(t["c1"])
    admin = await f.admin_principal(t["c1"])
    people = await Person.insert(*(Person(name=f"居民{i}", home=t["unit"], community=t["c1"]) for i in range(cards_wanted)))
    accounts = await Account.insert(*(Account(kind="person", colour="blue", holder=p["id"], name=f"居民{i}", community=t["c1"])
                                      for i, p in enumerate(people)))
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


async def station(client, credential: str, urls: list[str], item: int, until: float, latencies: list[float], outcomes: dict):
    headers = {"Authorization": f"Device {credential}"}
    rng = random.Random(credential)
    while time.perf_counter() < until:
        body = {"scan_id": str(uuid.uuid4()), "scanned_at": datetime.now(timezone.utc).isoformat(), "mode": "award",
                "card": rng.choice(urls), "details": {"item_id": item}}
        start = time.perf_counter()
        response = await client.post("/api/v1/scans", json=body, headers=headers)
        latencies.append(time.perf_counter() - start)
        outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1


async def load(base_url: str, credentials, urls, item, seconds: float) -> tuple[list[float], dict, float]:
    import httpx

    latencies: list[float] = []
    outcomes: dict[int, int] = {}
    limits = httpx.Limits(max_connections=len(credentials))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        start = time.perf_counter()
        await asyncio.gather(*(station(client, c, urls, item, start + seconds, latencies, outcomes) for c in credentials))
        elapsed = time.perf_counter() - start
    return latencies, outcomes, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=None, help="postgresql://… (default: a temporary SQLite file)")
    parser.add_argument("--stations", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    url = args.database or f"sqlite:///{folder / 'bench.sqlite3'}"
    env = {**os.environ, "LINLI_DATABASE_URL": url, "PICCOLO_CONF": "backend.piccolo_conf", "LINLI_SECRET_KEY": "b" * 64,
           "LINLI_PORT": str(args.port)}
    os.environ.update(env)
    urls, credentials, item = asyncio.run(prepare(args.cards, args.stations))
    log = open(folder / "server.log", "w")
    server = subprocess.Popen([str(ROOT / ".venv/bin/linli"), "serve", "--port", str(args.port)], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        import httpx

        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{args.port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        latencies, outcomes, elapsed = asyncio.run(load(f"http://127.0.0.1:{args.port}", credentials, urls, item, args.seconds))
    finally:
        server.terminate()
        server.wait(10)
    accepted = outcomes.get(200, 0)
    cut = statistics.quantiles(latencies, n=100)
    engine = "postgresql" if url.startswith("postgres") else "sqlite"
    print(f"engine={engine} stations={args.stations} seconds={elapsed:.1f} requests={len(latencies)} statuses={outcomes}")
    print(f"accepted scans/s={accepted / elapsed:.0f}  p50={cut[49] * 1000:.1f} ms  p99={cut[98] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
