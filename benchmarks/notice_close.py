"""Closing a month into the monthly public notice on 100,000 accounts and 1,000,000 postings. Figures, not pass/fail.

    .venv/bin/python benchmarks/notice_close.py                    # a temporary SQLite database
    LINLI_BENCH_PG=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/notice_close.py
                                                                   # ... and PostgreSQL: a scratch database is
                                                                   # created next to the one named, then dropped
Options: --accounts N (default 100000), --postings N (default 1000000), --months N (default 12).

The ledger comes from benchmarks/standings_data.py (one community, postings spread over the last N months up to
now). Every completed month is then closed in order, as staff would over a year: each close writes one line per
person/organisation account (set-based INSERT … SELECT) and fingerprints the month's transactions, chained to the
previous notice. Then `verify_chain()` (what `linli ledger verify` adds) recomputes every fingerprint.
Each engine runs in its own process (the piccolo engine is fixed when backend.piccolo_conf is imported).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


async def run_one(accounts: int, postings: int, months: int) -> dict:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend import db
    from backend.clock import local_date
    from backend.notices import rules, service
    from backend.notices.tables import Notice, NoticeLine
    from benchmarks.standings_data import generate

    result = await run_forwards(app_name="all", migration_id="all", fake=False)
    assert result.success, result.message
    await db.prepare()
    figures: dict = {"engine": "postgres" if os.environ["LINLI_DATABASE_URL"].startswith("postgres") else "sqlite"}
    try:
        t = time.perf_counter()
        data = await generate(accounts=accounts, postings=postings, months=months)
        figures["generate_s"] = time.perf_counter() - t
        figures["accounts"], figures["postings"], figures["transactions"] = data["accounts"], data["postings"], data["transactions"]
        community = data["community_id"]
        now = datetime.now(timezone.utc)
        month = rules.month_of(local_date(data["start"]))
        current = rules.month_of(local_date(now))
        closes = []
        while month < current:
            t = time.perf_counter()
            notice_id = await service.close_month(None, community, month, now)
            elapsed = time.perf_counter() - t
            notice = await Notice.select(Notice.txn_count).where(Notice.id == notice_id).first()
            closes.append({"month": month, "seconds": elapsed, "transactions": notice["txn_count"],
                           "lines": await NoticeLine.count().where(NoticeLine.notice == notice_id)})
            month = rules.next_month(month)
        figures["closes"] = closes
        t = time.perf_counter()
        problems = await service.verify_chain()
        figures["verify_chain_s"] = time.perf_counter() - t
        figures["verify_problems"] = len(problems)
        t = time.perf_counter()
        await service.published_board(community)
        figures["board_s"] = time.perf_counter() - t
    finally:
        await db.close()
    return figures


async def _pg_database(url: str, name: str, create: bool) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f'{"CREATE" if create else "DROP"} DATABASE {name}')
    finally:
        await connection.close()


def child(url: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ, LINLI_DATABASE_URL=url, PICCOLO_CONF="backend.piccolo_conf", LINLI_SECRET_KEY="0" * 64)
    command = [sys.executable, __file__, "--child", "--accounts", str(args.accounts), "--postings", str(args.postings),
               "--months", str(args.months)]
    out = subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(f: dict) -> None:
    print(f"\n== {f['engine']}: {f['accounts']:,} accounts, {f['postings']:,} postings "
          f"({f['transactions']:,} transactions), generated in {f['generate_s']:.1f} s ==")
    for c in f["closes"]:
        print(f"  close {c['month']}   {c['seconds']:7.2f} s   {c['lines']:,} lines, {c['transactions']:,} transactions fingerprinted")
    seconds = [c["seconds"] for c in f["closes"]]
    if seconds:
        print(f"  closing a month: slowest {max(seconds):.2f} s, mean {sum(seconds) / len(seconds):.2f} s")
    print(f"  verify the chain of {len(seconds)} notices   {f['verify_chain_s']:7.2f} s   problems: {f['verify_problems']}")
    print(f"  published_board (public screen read)        {f['board_s'] * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(asyncio.run(run_one(args.accounts, args.postings, args.months))))
        return

    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        report(child(f"sqlite:///{tmp}/bench.sqlite3", args))
    pg = os.environ.get("LINLI_BENCH_PG")
    if pg:
        name = f"linli_bench_notice_{os.getpid()}"
        parts = urlsplit(pg)
        scratch = urlunsplit(parts._replace(path=f"/{name}"))
        asyncio.run(_pg_database(pg, name, create=True))
        try:
            report(child(scratch, args))
        finally:
            asyncio.run(_pg_database(pg, name, create=False))


if __name__ == "__main__":
    main()
