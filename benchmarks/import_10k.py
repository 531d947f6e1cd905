"""Import 10,000 residents from an .xlsx: how long parse + preview and the commit take. Figures, not pass/fail.

    .venv/bin/python benchmarks/import_10k.py                      # a temporary SQLite database
    LINLI_BENCH_PG=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/import_10k.py
                                                                   # ... and PostgreSQL: a scratch database is
                                                                   # created next to the one named, then dropped
Options: --rows N (default 10000), --compare-record (also time ledger.record() per person for the openings,
the path the bulk writer replaces).

Each engine runs in its own process (the piccolo engine is fixed when backend.piccolo_conf is imported).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def make_xlsx(rows: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("居民")
    ws.append(["姓名", "手机", "网格", "楼栋", "单元", "党员", "楼栋长", "期初积分"])
    for i in range(rows):
        ws.append([f"居民{i:05d}", f"13{i % 10}{i:08d}", f"第{i % 4 + 1}网格", f"{i % 10 + 1}号楼", f"{i % 3 + 1}单元",
                   "是" if i % 3 == 0 else "否", "是" if i % 25 == 0 else "否", (i % 5) * 10])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


async def build_tree() -> int:
    from backend.accounts.tables import Account
    from backend.community import service as community

    street = await community.add_node("street", "测试街道", None)
    c1 = await community.add_node("community", "东园社区", street)
    compound = await community.add_node("compound", "东园小区", c1)
    for g in range(1, 5):
        grid = await community.add_node("grid", f"第{g}网格", compound)
        for b in range(1, 11):
            building = await community.add_node("building", f"{b}号楼", grid)
            for u in range(1, 4):
                await community.add_node("unit", f"{u}单元", building)
    await Account.insert(Account(kind="issuer", name="积分发放", community=c1, may_go_negative=True))
    return c1


async def run_one(rows: int, compare_record: bool) -> dict:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from backend import db
    from backend.imports import rules, service
    from backend.ledger import service as ledger
    from backend.people import service as people

    result = await run_forwards(app_name="all", migration_id="all", fake=False)
    assert result.success, result.message
    await db.prepare()
    figures: dict = {"engine": "postgres" if os.environ["LINLI_DATABASE_URL"].startswith("postgres") else "sqlite", "rows": rows}
    try:
        community_id = await build_tree()
        user = await people.create_user("bench", "bench-password-1", "基准", role="community_admin", node_id=community_id)
        principal = await people.principal(user)

        t = time.perf_counter()
        content = make_xlsx(rows)
        figures["xlsx_generate_s"] = time.perf_counter() - t
        figures["xlsx_bytes"] = len(content)

        t = time.perf_counter()
        sheet = rules.read_sheet("bench.xlsx", content)
        figures["read_xlsx_s"] = time.perf_counter() - t

        t = time.perf_counter()
        batch_id = await service.preview(principal, community_id, "bench.xlsx", content)
        figures["preview_total_s"] = time.perf_counter() - t  # read + check + store the batch
        view = await service.view(principal, batch_id)
        assert view.meta["error_count"] == 0, view.errors[:5]
        assert len(sheet.rows) == rows

        t = time.perf_counter()
        committed = await service.commit(principal, batch_id, datetime_now())
        figures["commit_s"] = time.perf_counter() - t
        figures["created"] = {"people": committed.people, "accounts": committed.accounts,
                              "opening_transactions": committed.openings, "points": committed.points}

        t = time.perf_counter()
        problems = await ledger.verify()
        figures["verify_s"] = time.perf_counter() - t
        figures["verify_problems"] = len(problems)

        if compare_record:
            figures["record_per_person"] = await time_record_per_person(community_id, min(rows, 2000))
    finally:
        await db.close()
    return figures


def datetime_now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


async def time_record_per_person(community_id: int, n: int) -> dict:
    """The alternative: one ledger.record() per person (4-5 queries each) inside one transaction."""
    from backend.accounts.service import issuer_of
    from backend.accounts.tables import Account
    from backend.db import atomic
    from backend.ledger import service as ledger
    from backend.ledger.rules import PostingDraft, TransactionDraft

    issuer = await issuer_of(community_id)
    accounts = [a["id"] for a in await Account.select(Account.id).where(Account.kind == "person").limit(n)]
    now = datetime_now()
    t = time.perf_counter()
    async with atomic():
        for account_id in accounts:
            await ledger.record(TransactionDraft(kind="award", memo="基准", idempotency_key=f"bench-{account_id}",
                                                 community_id=community_id, occurred_at=now,
                                                 postings=(PostingDraft(issuer, -1), PostingDraft(account_id, 1))))
    elapsed = time.perf_counter() - t
    return {"n": len(accounts), "seconds": elapsed, "per_10k_s": elapsed / max(1, len(accounts)) * 10_000}


async def _pg_database(url: str, name: str, create: bool) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f'{"CREATE" if create else "DROP"} DATABASE {name}')
    finally:
        await connection.close()


def child(url: str, rows: int, compare_record: bool) -> dict:
    env = dict(os.environ, LINLI_DATABASE_URL=url, PICCOLO_CONF="backend.piccolo_conf", LINLI_SECRET_KEY="0" * 64)
    args = [sys.executable, __file__, "--child", "--rows", str(rows)] + (["--compare-record"] if compare_record else [])
    out = subprocess.run(args, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(f: dict) -> None:
    print(f"\n== {f['engine']}: {f['rows']:,} rows, xlsx {f['xlsx_bytes'] / 1024:.0f} KiB ==")
    print(f"  read xlsx (openpyxl, read-only)        {f['read_xlsx_s']:7.2f} s")
    print(f"  preview: read + check + store batch    {f['preview_total_s']:7.2f} s")
    c = f["created"]
    print(f"  commit (one transaction)               {f['commit_s']:7.2f} s   "
          f"{c['people']:,} people, {c['accounts']:,} accounts, {c['opening_transactions']:,} opening transactions, {c['points']:,} points")
    print(f"  ledger verify                          {f['verify_s']:7.2f} s   problems: {f['verify_problems']}")
    if "record_per_person" in f:
        r = f["record_per_person"]
        print(f"  (ledger.record per person: {r['n']:,} in {r['seconds']:.2f} s -> ~{r['per_10k_s']:.1f} s per 10,000)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--compare-record", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(asyncio.run(run_one(args.rows, args.compare_record))))
        return

    with tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp:
        report(child(f"sqlite:///{tmp}/bench.sqlite3", args.rows, args.compare_record))
    pg = os.environ.get("LINLI_BENCH_PG")
    if pg:
        name = f"linli_bench_{os.getpid()}"
        parts = urlsplit(pg)
        scratch = urlunsplit(parts._replace(path=f"/{name}"))
        asyncio.run(_pg_database(pg, name, create=True))
        try:
            report(child(scratch, args.rows, args.compare_record))
        finally:
            asyncio.run(_pg_database(pg, name, create=False))


if __name__ == "__main__":
    main()
