"""Monthly leaderboard on 100,000 accounts and 1,000,000 postings: p50/p99 per engine. Target: under 100 ms.

    .venv/bin/python benchmarks/leaderboard.py                     # a temporary SQLite database
    LINLI_BENCH_PG=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/leaderboard.py
                                                                   # ... and PostgreSQL (a scratch database is
                                                                   # created next to the one named, then dropped)
Options: --accounts N --postings N --months N --runs N

Measured, after benchmarks/standings_data.py has written the ledger (the standings trigger noting every posting,
as in production), and the first read has folded those notes into the rollup (timed too):
  - "month board": standings.service.leaderboard (top 10 of last month, read from the monthly rollup) rendered
    with the board template; the quarter's and year's boards (the service only);
  - "HTTP page": GET /staff/standings?period=<last month> through the real app (top 50, alliance merchants);
  - rebuilding the rollup from the whole ledger (what start-up does after a change of time zone), then checking
    it equals the ledger's sums.
Wall-clock p50/p99 are what a user waits; the CPU p50 of this process (which includes SQLite's work, not the
PostgreSQL server's) and the load average show how much a busy machine stretched them.
Each engine runs in its own process (the piccolo engine is fixed when backend.piccolo_conf is imported).
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
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def _percentiles(samples: list[float], cpu: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50_ms": statistics.median(ordered) * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, "runs": len(ordered),
            "cpu_p50_ms": statistics.median(cpu) * 1000}


async def _time(fn, runs: int) -> dict:
    for _ in range(3):  # warm caches and the connection
        await fn()
    samples, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        await fn()
        samples.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return _percentiles(samples, cpu)


async def run_one(accounts: int, postings: int, months: int, runs: int) -> dict:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    result = await run_forwards(app_name="all", migration_id="all", fake=False)
    assert result.success, result.message

    from backend import db
    from backend.app import create_app, jinja_environment
    from backend.clock import local_date
    from backend.people import service as people
    from backend.settings import get_settings
    from backend.standings import rules, service
    from backend.standings.web import HELPERS
    from benchmarks.standings_data import generate

    await db.prepare()
    figures: dict = {"engine": "postgres" if os.environ["LINLI_DATABASE_URL"].startswith("postgres") else "sqlite"}
    try:
        started = time.perf_counter()
        data = await generate(accounts, postings, months)
        figures["generate_s"] = time.perf_counter() - started
        figures["data"] = {k: data[k] for k in ("accounts", "transactions", "postings")}
        community = data["community_id"]
        from backend.standings import rollup

        started = time.perf_counter()
        figures["fold_postings"] = await rollup.catch_up()
        figures["fold_s"] = time.perf_counter() - started
        from datetime import datetime, timezone

        month = rules.period_of("month", local_date(datetime.now(timezone.utc))).previous()
        figures["month"] = month.key
        env = jinja_environment(get_settings())
        template = env.get_template("standings/_board_table.html")

        async def service_and_template() -> None:
            rows = await service.leaderboard(service.Scope(community), month, limit=10)
            assert len(rows) == 10
            template.render(rows=rows, caption_id="b", highlight=None, statement_links=False, period=month, **HELPERS)

        await db.engine().run_ddl("ANALYZE")
        figures["service_month"] = await _time(service_and_template, runs)

        async def board(period) -> None:
            assert len(await service.leaderboard(service.Scope(community), period, limit=10)) == 10

        quarter, year = rules.period_of("quarter", month.first_day()), rules.period_of("year", month.first_day())
        figures["service_quarter"] = await _time(lambda: board(quarter), max(5, runs // 5))
        figures["service_year"] = await _time(lambda: board(year), max(5, runs // 5))
        started = time.perf_counter()
        await rollup.install(get_settings().timezone)
        figures["rebuild_s"] = time.perf_counter() - started
        assert await rollup.differences(get_settings().timezone) == []

        from litestar.testing import AsyncTestClient

        from tests.web.conftest import csrf_of

        await people.create_user("bench-admin", "bench-password-1", "基准", role="community_admin", node_id=community)
        # the app opens (and closes) its own PostgreSQL pool in the test client's event loop
        await db.close()
        async with AsyncTestClient(app=create_app()) as client:
            login = await client.get("/login")
            await client.post("/login", data={"username": "bench-admin", "password": "bench-password-1",
                                              "_csrf_token": csrf_of(login.text)})

            async def page() -> None:
                response = await client.get(f"/staff/standings?community={community}&period={month.key}")
                assert response.status_code == 200 and 'data-testid="board"' in response.text

            figures["http_page"] = await _time(page, runs)
        # on a shared machine other work stretches wall-clock times; the CPU figure (SQLite runs in this process,
        # PostgreSQL in its server) and the load say how much
        figures["load"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    finally:
        await db.close()
    return figures


def child(url: str, args: argparse.Namespace) -> dict:
    env = dict(os.environ, LINLI_DATABASE_URL=url, PICCOLO_CONF="backend.piccolo_conf", LINLI_SECRET_KEY="0" * 64)
    command = [sys.executable, __file__, "--child", "--accounts", str(args.accounts), "--postings", str(args.postings),
               "--months", str(args.months), "--runs", str(args.runs)]
    out = subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(f: dict) -> None:
    d = f["data"]
    print(f"\n== {f['engine']}: {d['accounts']:,} accounts, {d['transactions']:,} transactions, {d['postings']:,} postings "
          f"(generated in {f['generate_s']:.1f} s); board of {f['month']} ==")
    for key, label in (("service_month", "month board: service + template"),
                       ("service_quarter", "quarter board (service)"),
                       ("service_year", "year board (service)"),
                       ("http_page", "HTTP /staff/standings (top 50 + merchants)")):
        r = f[key]
        print(f"  {label:<44} p50 {r['p50_ms']:7.1f} ms   p99 {r['p99_ms']:7.1f} ms   ({r['runs']} runs; "
              f"this process's CPU p50 {r['cpu_p50_ms']:.1f} ms)")
    print(f"  first read after the bulk load: folding {f['fold_postings']:,} noted postings into the rollup took {f['fold_s']:.1f} s")
    print(f"  rebuilding the rollup from the whole ledger (then checked equal to it): {f['rebuild_s']:.1f} s")
    print(f"  load average while measuring: {f['load']}")


async def _pg_database(url: str, name: str, create: bool) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f'{"CREATE" if create else "DROP"} DATABASE {name}')
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(asyncio.run(run_one(args.accounts, args.postings, args.months, args.runs))))
        return
    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        report(child(f"sqlite:///{tmp}/bench.sqlite3", args))
    pg = os.environ.get("LINLI_BENCH_PG")
    if pg:
        name = f"linli_bench_lb_{os.getpid()}"
        scratch = urlunsplit(urlsplit(pg)._replace(path=f"/{name}"))
        asyncio.run(_pg_database(pg, name, create=True))
        try:
            report(child(scratch, args))
        finally:
            asyncio.run(_pg_database(pg, name, create=False))


if __name__ == "__main__":
    main()
