"""A station without a network (issue 5): the scan screen loads from the service worker's cache, scans are judged on
the device and queued in IndexedDB, survive closing the browser, and replay exactly once when the network is back —
through a server answering 503 for a while. Refusals stay listed for the operator; two offline stations spending the
same points meet the server's conflict policy (backend/scans/offline.py)."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from playwright.sync_api import expect

from e2e.conftest import CHROMIUM_ARGS, LINLI, ROOT, assert_accessible
from e2e.db import query

FIXTURES = Path(__file__).parent / "fixtures"

# an offline-capable station (check-in, award, shop) with its goods and today's event; paired directly
STATION = """
import asyncio, json, sys
from datetime import date, datetime, timedelta, timezone
from backend import db
from backend.accounts.tables import Account
from backend.catalog import service as catalog
from backend.catalog.tables import Item
from backend.community.tables import Node
from backend.events import service as events
from backend.people import service as people
from backend.people.tables import User
from backend.redemption import service as redemption
from backend.stations import service as stations

async def main(name, price, limit, checkin):
    await db.prepare()
    try:
        now = datetime.now(timezone.utc)
        admin = await people.principal((await User.select(User.id).where(User.username == "admin").first())["id"])
        community = (await Node.select(Node.id).where(Node.kind == "community").order_by(Node.id).first())["id"]
        category = await catalog.add_category(community, "离线测试")
        item = await catalog.add_item(category, name + "奖励", 3, date(2026, 1, 1))
        shop = (await Account.select(Account.id).where((Account.kind == "shop") & (Account.community == community)).first())["id"]
        goods = await redemption.add_goods(admin, community, name + "肥皂", price, 1000)
        modes = ["checkin", "award", "redeem_shop"] if checkin else ["award", "redeem_shop"]
        station = await stations.create_station(admin, community, name, "centre", modes, award_items=[item],
                                                receiving_account_id=shop, pin_threshold=None, offline_limit=limit)
        event = await events.create_event(admin, community, name + "活动", "活动室", now - timedelta(hours=1),
                                          now + timedelta(hours=3), points_per_hour=10) if checkin else None
        credential = await stations.pair(await stations.new_pairing_code(admin, station, name + "平板", now), now)
        print(json.dumps({"station": station, "credential": credential, "item": item, "goods": goods, "event": event,
                          "community": community}))
    finally:
        await db.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"))
"""


# a card reported lost at the desk: its id goes on the revocation list the station caches
REPORT_LOST = """
import asyncio, sys
from datetime import datetime, timezone
from backend import db
from backend.people import service as people
from backend.people.tables import User
from backend.servicecards import service as cards

async def main(number):
    await db.prepare()
    try:
        admin = await people.principal((await User.select(User.id).where(User.username == "admin").first())["id"])
        await cards.report_lost(admin, (await cards.card_by_number(number)).pk, datetime.now(timezone.utc))
    finally:
        await db.close()

asyncio.run(main(sys.argv[1]))
"""


def _python(server, code: str, *args: str) -> str:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", code, *args], env=server.env, cwd=ROOT,
                          check=True, capture_output=True, text=True).stdout


def _station(server, name: str, price: int, limit: int, checkin: bool) -> dict:
    return json.loads(_python(server, STATION, name, str(price), str(limit), "1" if checkin else "0"))


def _cards(server, community: int, count: int, skip: int = 0) -> list[dict]:
    """Working cards of residents with a few points (a redemption of 5 needs them)."""
    listed = server.linli("cards", "list", "--node", str(community), "--state", "active").stdout.splitlines()
    out = []
    for line in listed:
        number, _state, masked, account = line.split("\t")
        if query(server, "SELECT 1 FROM points_account WHERE id = ? AND kind = 'person' AND balance >= 5", int(account)):
            if skip:
                skip -= 1
                continue
            out.append({"number": number, "account": int(account), "masked": masked,
                        "url": server.linli("cards", "show", number).stdout.strip()})
        if len(out) == count:
            break
    assert len(out) == count
    return out


def _card_video(server, number: str) -> Path:
    FIXTURES.mkdir(exist_ok=True)
    png, video = FIXTURES / f"offline-{number}.png", FIXTURES / f"offline-{number}.y4m"
    png.write_bytes(subprocess.run([LINLI, "cards", "show", number, "--format", "png"], env=server.env, check=True,
                                   capture_output=True).stdout)
    try:
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-loop", "1", "-i", str(png), "-vf",
                        "scale=400:400,pad=640:480:(ow-iw)/2:(oh-ih)/2:white,format=yuv420p", "-t", "3", "-r", "15",
                        str(video)], check=True)
    finally:
        png.unlink()
    return video


def _open(context, server, station: dict, mode: str | None = None):
    """The station screen in a device context; the camera stays off until asked for (it would scan at once)."""
    context.add_cookies([{"name": "linli_device", "value": station["credential"], "url": server.url}])
    page = context.pages[0] if context.pages else context.new_page()
    page.add_init_script("""(() => {
      const key = "linli.station.%d";
      if (!localStorage.getItem(key)) localStorage.setItem(key, JSON.stringify({camera: "off"}));
    })()""" % station["station"])
    page.goto(server.url + "/station")
    expect(page.get_by_test_id("pending-count")).to_be_visible()
    if mode:
        page.get_by_label(mode, exact=True).check()
    return page


def _wedge(page, code: str, expected: str = "result-ok"):
    """A keyboard-wedge scanner: the code typed fast, then Enter; wait for this scan's result."""
    page.keyboard.type(code, delay=0)
    page.keyboard.press("Enter")
    result = page.get_by_test_id(expected)
    expect(result).to_be_visible()
    page.get_by_role("button", name="下一张卡").click()
    expect(page.locator("#result .result-idle")).to_be_visible()


def _pending(page) -> int:
    counter = page.get_by_test_id("pending-count")
    expect(counter).to_be_visible()
    return int(counter.get_attribute("data-count"))


def _wait_synced(page, count: int = 0, timeout: int = 30000):
    expect(page.get_by_test_id("pending-count")).to_have_attribute("data-count", str(count), timeout=timeout)


def _queued_ids(page) -> list[dict]:
    return page.evaluate("""async () => {
      const {QueueStore} = await import("/sw-src/queue-store.mjs");
      const store = new QueueStore();
      const all = await store.all();
      await store.close();
      return all.map((r) => ({scan_id: r.scan_id, mode: r.mode, state: r.state, accepted: r.local && r.local.accepted,
                              reason: r.reason}));
    }""")


def _launch(playwright, profile: Path, video: Path | None = None, offline: bool = False, no_network: bool = False):
    """A persistent Chromium (the profile keeps the service worker, its caches and IndexedDB across launches).
    `no_network`: every request, the service worker's too, goes to a proxy that is not there (Playwright's offline
    emulation reaches a service worker only once it is attached, not while the browser starts)."""
    args = list(CHROMIUM_ARGS)
    if no_network:
        args += ["--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
    if video is not None:
        args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-video-capture={video}"]
    return playwright.chromium.launch_persistent_context(str(profile), executable_path="/usr/bin/chromium", args=args,
                                                         locale="zh-CN", offline=offline)


def test_offline_scans_survive_a_restart_and_a_503_and_land_exactly_once(playwright, server, tmp_path):
    station = _station(server, "离线服务台", 5, 30, checkin=True)
    cards = _cards(server, station["community"], 11)
    people, lost = cards[:10], cards[10]
    _python(server, REPORT_LOST, lost["number"])
    video = _card_video(server, people[0]["number"])
    profile = tmp_path / "profile"
    context = _launch(playwright, profile, video)
    try:
        # online: the station sees the ten cards once (so it knows their balances), and the service worker caches
        page = _open(context, server, station, "奖励")
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        for card in people:
            _wedge(page, card["url"])
        assert _pending(page) == 0
        page.reload()  # fresh offline data, now with the ten cards and their balances
        expect(page.get_by_test_id("pending-count")).to_have_attribute("data-count", "0")
        balances = {c["account"]: query(server, "SELECT balance FROM points_account WHERE id = ?", c["account"])[0][0]
                    for c in people}
        transactions = query(server, "SELECT COUNT(*) FROM ledger_transaction")[0][0]

        # offline: the screen still loads, from the service worker's cache
        context.set_offline(True)
        page.reload()
        expect(page.get_by_test_id("offline-banner")).to_be_visible()
        page.get_by_label("奖励", exact=True).check()
        # the fake camera shows the first card: one scan
        page.get_by_role("button", name="打开摄像头").click()
        result = page.get_by_test_id("result-ok")
        expect(result).to_be_visible(timeout=15000)
        expect(result.get_by_test_id("result-offline")).to_have_text("已离线保存，联网后自动上传")
        expect(result.get_by_test_id("result-holder")).to_have_text(people[0]["masked"])
        page.get_by_role("button", name="关闭摄像头").click()
        page.get_by_role("button", name="下一张卡").click()
        for card in people[1:]:
            _wedge(page, card["url"])
        page.get_by_label("签到", exact=True).check()
        page.get_by_label("活动", exact=True).select_option(str(station["event"]))
        page.get_by_label("扫码枪或卡号").focus()
        for card in people[:9]:
            _wedge(page, card["url"])
        _wedge(page, lost["url"], expected="result-fail")
        page.get_by_label("超市商品", exact=True).check()
        page.get_by_label("商品", exact=True).select_option(str(station["goods"]))
        page.get_by_label("扫码枪或卡号").focus()
        for card in people:
            _wedge(page, card["url"])
        assert _pending(page) == 30
        assert_accessible(page)
    finally:
        context.close()

    # the browser closed and opened again, still without a network: the queue is still there
    context = _launch(playwright, profile, offline=True, no_network=True)
    try:
        page = _open(context, server, station)
        assert _pending(page) == 30
        queued = _queued_ids(page)
        assert len(queued) == 30 and {q["state"] for q in queued} == {"pending"}
        ids = [q["scan_id"] for q in queued]
        marks = ",".join("?" * len(ids))
        assert query(server, f"SELECT COUNT(*) FROM scan WHERE scan_id IN ({marks})", *ids) == [(0,)]
        assert query(server, "SELECT COUNT(*) FROM ledger_transaction")[0][0] == transactions

        # the network is back but the server answers 503: every scan stays queued, nothing is recorded
        answers, server_down = [], [True]

        def batch(route):
            answers.append(503 if server_down[0] else 200)
            if server_down[0]:
                route.fulfill(status=503, body='{"reason": "busy"}', content_type="application/json",
                              headers={"Retry-After": "2"})
            else:  # the real server's answer (fetched by Playwright: this browser's own network is still cut)
                route.fulfill(response=route.fetch())

        context.route("**/api/v1/scans/batch", batch)
        context.set_offline(False)
        page.wait_for_function("() => navigator.onLine")
        for _ in range(50):
            if answers:
                break
            page.wait_for_timeout(100)
        assert answers, "the replay asked the server"
        page.wait_for_timeout(500)
        assert _pending(page) == 30
        assert query(server, f"SELECT COUNT(*) FROM scan WHERE scan_id IN ({marks})", *ids) == [(0,)]

        # the server recovers: the retry timer (after the Retry-After) sends them, once each
        server_down[0] = False
        _wait_synced(page)
        assert 200 in answers and answers.index(200) > 0
        rows = query(server, f"SELECT scan_id, mode, accepted, reason, txn, offline FROM scan WHERE scan_id IN ({marks})", *ids)
        assert len(rows) == 30 and all(r[5] == 1 for r in rows)
        accepted = [r for r in rows if r[2]]
        refused = [r for r in rows if not r[2]]
        assert len(accepted) == 29 and [(r[1], r[3]) for r in refused] == [("checkin", "revoked")]
        # one ledger transaction per accepted award and redemption (a check-in writes points at check-out)
        for scan_id, mode, _a, _r, txn, _o in accepted:
            keys = query(server, "SELECT COUNT(*) FROM ledger_transaction WHERE idempotency_key = ?", f"scan:{scan_id}")
            assert keys == [(1,)] if mode in ("award", "redeem_shop") else [(0,)], (mode, keys)
        assert query(server, "SELECT COUNT(*) FROM ledger_transaction")[0][0] == transactions + 20
        assert query(server, "SELECT COUNT(*) FROM event_attendance WHERE event = ?", station["event"]) == [(9,)]
        stays = {r[0] for r in query(server, "SELECT checkin_scan FROM event_attendance WHERE event = ?", station["event"])}
        assert stays == {r[0] for r in accepted if r[1] == "checkin"}
        for card in people:
            assert query(server, "SELECT balance FROM points_account WHERE id = ?", card["account"]) == [
                (balances[card["account"]] + 3 - 5,)]

        # the refusal stays with the operator: a note on the scan screen and the list with its reason
        note = page.get_by_test_id("queue-refused")
        expect(note).to_contain_text("服务器拒绝的扫码：1 条")
        note.get_by_role("link").click()
        expect(page).to_have_url(re.compile(r"/station/queue$"))
        row = page.locator("[data-testid=queued-scan][data-state=refused]")
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("queued-answer")).to_have_text("这张卡已挂失或已换卡，不能再使用。")
        expect(page.locator("[data-testid=queued-scan][data-state=done]")).to_have_count(29)
        assert_accessible(page)
    finally:
        context.close()
        video.unlink()


def test_two_offline_stations_spend_the_same_points_and_the_second_is_flagged(browser, server):
    community = query(server, "SELECT id FROM community_node WHERE kind = 'community' ORDER BY id LIMIT 1")[0][0]
    card = _cards(server, community, 1, skip=12)[0]  # not one the first test used
    balance = query(server, "SELECT balance FROM points_account WHERE id = ?", card["account"])[0][0]
    # each station may let the card spend one redemption offline, and the card's points cover one, not two
    price = (balance + 3 * 2) // 2 + 1
    a = _station(server, "东门服务站", price, price, checkin=False)
    b = _station(server, "西门服务站", price, price, checkin=False)
    pages = []
    try:
        for station in (a, b):
            context = browser.new_context(locale="zh-CN")
            page = _open(context, server, station, "奖励")
            _wedge(page, card["url"])  # online: the station sees the card (+3)
            page.reload()
            expect(page.get_by_test_id("pending-count")).to_have_attribute("data-count", "0")
            pages.append(page)
        total = balance + 6
        assert price <= total < 2 * price
        for page, station in zip(pages, (a, b)):
            page.context.set_offline(True)
            page.get_by_label("超市商品", exact=True).check()
            page.get_by_label("商品", exact=True).select_option(str(station["goods"]))
            page.get_by_label("扫码枪或卡号").focus()
            _wedge(page, card["url"])
            assert _pending(page) == 1
        for page in pages:
            page.context.set_offline(False)  # the page's "online" event replays its queue
            _wait_synced(page)
        rows = query(server, "SELECT accepted, reason, flags FROM scan WHERE account = ? AND mode = 'redeem_shop' "
                             "ORDER BY id", card["account"])
        assert [(r[0], r[1]) for r in rows] == [(1, "ok"), (1, "ok")]
        assert [json.loads(r[2]) for r in rows] == [[], ["overdraft"]]
        # the account shows what it owes
        assert query(server, "SELECT balance FROM points_account WHERE id = ?", card["account"]) == [(total - 2 * price,)]
        assert total - 2 * price < 0
    finally:
        for page in pages:
            page.context.close()
