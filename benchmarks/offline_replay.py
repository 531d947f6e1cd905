"""Offline replay: 1,000 scans queued on a station (in the browser's IndexedDB) replay to a real `linli serve`.

    .venv/bin/python benchmarks/offline_replay.py                  # 1,000 scans, SQLite (a temp file)
    options: --scans 1000 --cards 200 --port 8766 --database postgresql://…

A fresh database with residents, cards and an award station; Chromium (Debian's /usr/bin/chromium, driven by
Playwright) opens the paired device's queue page, queues the scans as the station does offline
(service-worker/src/queue-store.mjs, each with its device verdict), then times the replay in the page
(replay.mjs replayOnce -> POST /api/v1/scans/batch, 500 a request) until nothing is pending. Afterwards it checks in
the database that every scan arrived exactly once and wrote exactly one ledger transaction, and that a second
replay sends nothing. Target: under 10 s for 1,000. Never a pass/fail test; the README names this file.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def prepare(cards_wanted: int) -> tuple[list[str], str, int]:
    """Schema, a community with residents and cards, an award station and one paired device."""
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
    people = await Person.insert(*(Person(name=f"居民{i}", home=t["unit"], community=t["c1"]) for i in range(cards_wanted)))
    accounts = await Account.insert(*(Account(kind="person", colour="blue", holder=p["id"], name=f"居民{i}", community=t["c1"])
                                      for i, p in enumerate(people)))
    key = await cards.ensure_signing_key(now)
    async with db.atomic():
        pks = await cards.insert_cards([a["id"] for a in accounts], key["key_id"], None, now)
    urls = [await cards.card_url(await cards.card(pk)) for pk in pks]
    item = await catalog.add_item(await catalog.add_category(t["c1"], "志愿服务"), "值班", 5, date(2020, 1, 1))
    station = await stations.create_station(admin, t["c1"], "离线压测服务站", "centre", ["award"], award_items=[item])
    credential = await stations.pair(await stations.new_pairing_code(admin, station, "离线平板", now), now)
    await db.close()
    return urls, credential, item


async def check_exactly_once(scan_ids: list[str]) -> str:
    from backend import db
    from backend.ledger.tables import LedgerTransaction
    from backend.scans.tables import Scan

    await db.prepare()
    try:
        rows = await Scan.select(Scan.scan_id, Scan.accepted, Scan.offline)
        arrived = [str(r["scan_id"]) for r in rows]
        keys = {r["idempotency_key"] for r in await LedgerTransaction.select(LedgerTransaction.idempotency_key)}
    finally:
        await db.close()
    wanted = set(scan_ids)
    stored = [s for s in arrived if s in wanted]
    transactions = sum(1 for s in scan_ids if f"scan:{s}" in keys)
    ok = len(stored) == len(wanted) == len(set(stored)) == transactions
    return (f"exactly once: {'yes' if ok else 'NO'} — {len(stored)} of {len(wanted)} scans stored "
            f"({len(set(stored))} distinct), {transactions} ledger transactions")


QUEUE = """async ({urls, item, count, device}) => {
  const {QueueStore} = await import("/sw-src/queue-store.mjs");
  const store = new QueueStore();
  const ids = [];
  const start = Date.now() - count * 1000;
  for (let i = 0; i < count; i += 1) {
    const scan = {scan_id: crypto.randomUUID(), scanned_at: new Date(start + i * 1000).toISOString(), mode: "award",
                  card: urls[i % urls.length], details: {item_id: item}, device_id: device,
                  local: {accepted: true, reason: "ok", points: 5}};
    await store.add(scan);
    ids.push(scan.scan_id);
  }
  await store.close();
  return ids;
}"""

REPLAY = """async () => {
  const {QueueStore} = await import("/sw-src/queue-store.mjs");
  const {replayOnce} = await import("/sw-src/replay.mjs");
  const store = new QueueStore();
  const started = performance.now();
  let requests = 0, rounds = 0;
  while (await store.count(["pending", "sending"]) > 0 && rounds < 50) {
    const summary = await replayOnce({store, force: true});
    requests += summary.requests;
    rounds += 1;
  }
  const ms = performance.now() - started;
  const done = await store.count("done");
  const again = await replayOnce({store, force: true});
  await store.close();
  return {ms, requests, rounds, done, again_sent: again.sent};
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scans", type=int, default=1000)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="linli-offline-bench-"))
    url = args.database or f"sqlite:///{folder / 'bench.sqlite3'}"
    env = {**os.environ, "LINLI_DATABASE_URL": url, "PICCOLO_CONF": "backend.piccolo_conf", "LINLI_SECRET_KEY": "b" * 64,
           "LINLI_PORT": str(args.port), "LINLI_BASE_URL": f"http://127.0.0.1:{args.port}"}
    os.environ.update(env)
    urls, credential, item = asyncio.run(prepare(args.cards))
    log = open(folder / "server.log", "w")
    server = subprocess.Popen([str(ROOT / ".venv/bin/linli"), "serve", "--port", str(args.port)], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        import httpx
        from playwright.sync_api import sync_playwright

        base = f"http://127.0.0.1:{args.port}"
        for _ in range(200):
            try:
                httpx.get(base + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
            # no service worker: it would start replaying while the scans are still being queued; the page alone
            # replays here, so the time measured is the whole replay
            context = browser.new_context(locale="zh-CN", service_workers="block")
            context.add_cookies([{"name": "linli_device", "value": credential, "url": base}])
            page = context.new_page()
            page.goto(base + "/station/queue")  # the list page: it shows the queue and replays only when asked
            device = int(credential.split(".")[0])
            queued_at = time.perf_counter()
            ids = page.evaluate(QUEUE, {"urls": urls, "item": item, "count": args.scans, "device": device})
            queued = time.perf_counter() - queued_at
            result = page.evaluate(REPLAY)
            browser.close()
    finally:
        server.terminate()
        server.wait(20)
    engine = "postgresql" if url.startswith("postgres") else "sqlite"
    print(f"engine={engine} scans={args.scans} cards={args.cards}; queued in the browser in {queued:.1f} s")
    print(f"replay: {result['ms'] / 1000:.2f} s for {args.scans} scans ({args.scans / (result['ms'] / 1000):.0f} scans/s), "
          f"{result['requests']} requests in {result['rounds']} rounds; {result['done']} done in IndexedDB; "
          f"a second replay sent {result['again_sent']}")
    print(asyncio.run(check_exactly_once(ids)))


if __name__ == "__main__":
    main()
