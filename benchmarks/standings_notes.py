"""What the standings trigger (backend/standings/rollup.py) costs a writer: ledger transactions of two postings
(an issuer's and a person's) written the way the scan hot path writes them (db.atomic + raw SQL), with the trigger
and with it dropped, interleaved three times.

    .venv/bin/python benchmarks/standings_notes.py                 # SQLite (a temp file)
    LINLI_BENCH_PG=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/standings_notes.py
                                                                   # ... and PostgreSQL (a scratch database)
Options: --transactions N (per round, default 3000)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


async def run_one(transactions: int) -> dict:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend import db
    from backend.settings import get_settings
    from backend.standings import rollup
    from tests import factories as f

    assert (await run_forwards(app_name="all", migration_id="all", fake=False)).success
    await db.prepare()
    t = await f.tree()
    issuer = await f.issuer(t["c1"])
    people = [(await f.person_account(f"居民{i}", t["unit"], t["c1"]))[1] for i in range(100)]
    at = datetime(2026, 11, 3, 2, tzinfo=timezone.utc)
    if not db.is_postgres():
        at = str(at)
    counter = iter(range(10**9))

    async def write(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            i = next(counter)
            async with db.atomic():
                txn = (await db.fetch(
                    "INSERT INTO ledger_transaction (kind, memo, source_type, idempotency_key, community, occurred_at, "
                    "recorded_at) VALUES ('award', 'bench', 'scan', ?, ?, ?, ?) RETURNING id",
                    f"notes-{i}", t["c1"], at, at))[0]["id"]
                await db.fetch("INSERT INTO ledger_posting (txn, account, amount) VALUES (?, ?, -5), (?, ?, 5)",
                               txn, issuer, txn, people[i % len(people)])
        return (time.perf_counter() - started) / n * 1e6

    drop = "DROP TRIGGER IF EXISTS {} ON ledger_posting" if db.is_postgres() else "DROP TRIGGER IF EXISTS {}"
    await write(300)  # warm up
    with_notes, without = [], []
    for _ in range(3):
        with_notes.append(await write(transactions))
        async with db.atomic():
            await db.fetch(drop.format(rollup.TRIGGER))
        without.append(await write(transactions))
        await rollup.install(get_settings().timezone)  # the trigger back, the rollup rebuilt
    await db.close()
    return {"engine": "postgres" if db.is_postgres() else "sqlite", "with_us": statistics.median(with_notes),
            "without_us": statistics.median(without), "rounds": 3, "transactions": transactions,
            "load": " ".join(f"{x:.1f}" for x in os.getloadavg())}


def child(url: str, transactions: int) -> dict:
    env = dict(os.environ, LINLI_DATABASE_URL=url, PICCOLO_CONF="backend.piccolo_conf", LINLI_SECRET_KEY="0" * 64,
               LINLI_DATABASE_POOL="4")
    out = subprocess.run([sys.executable, __file__, "--child", "--transactions", str(transactions)], env=env, cwd=ROOT,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(r: dict) -> None:
    print(f"{r['engine']}: {r['rounds']} rounds of {r['transactions']:,} two-posting transactions, median wall time per "
          f"transaction: with the trigger {r['with_us']:.0f} µs, without {r['without_us']:.0f} µs "
          f"(+{r['with_us'] - r['without_us']:.0f} µs); load {r['load']}")


async def _pg_database(url: str, name: str, create: bool) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f'{"CREATE" if create else "DROP"} DATABASE {name}')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=3000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(asyncio.run(run_one(args.transactions))))
        return
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        report(child(f"sqlite:///{tmp}/bench.sqlite3", args.transactions))
    pg = os.environ.get("LINLI_BENCH_PG")
    if pg:
        name = f"linli_bench_notes_{os.getpid()}"
        scratch = urlunsplit(urlsplit(pg)._replace(path=f"/{name}"))
        asyncio.run(_pg_database(pg, name, create=True))
        try:
            report(child(scratch, args.transactions))
        finally:
            asyncio.run(_pg_database(pg, name, create=False))


if __name__ == "__main__":
    main()
