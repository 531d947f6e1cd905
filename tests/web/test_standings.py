"""Standings pages: the staff board and its exports (parsed back with openpyxl / csv) show the same rows, a
resident sees their own rank, the public screen opens only with its token and shows masked names."""
import csv
import io
import re
from datetime import datetime, timezone
from uuid import uuid4

import pytest
from litestar.testing import AsyncTestClient
from openpyxl import load_workbook

from backend.app import create_app
from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from tests import factories as f
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.db
NOV = "2026-11"


async def _award(issuer, account, points, community, at=datetime(2026, 11, 3, 2, tzinfo=timezone.utc)):
    await ledger.record(TransactionDraft(kind="award", memo="测试", idempotency_key=str(uuid4()), community_id=community,
                                         occurred_at=at, postings=(PostingDraft(issuer, -points), PostingDraft(account, points)),
                                         source_label="志愿服务 · 测试（5分）"))


@pytest.fixture
async def board_world(people_world):
    t = people_world["tree"]
    extra = {}
    for name, points in (("张三丰", 50), ("李秀英", 20), ("欧阳小明", 20)):
        _, account = await f.person_account(name, t["unit"], t["c1"])
        await _award(people_world["issuer"], account, points, t["c1"])
        extra[name] = account
    # people_world's 王小明 has 30 from f.award (2026-11-01)
    return {**people_world, "extra": extra}


def _page_rows(html: str) -> list[tuple[str, str, int]]:
    body = html.split('data-testid="board"', 1)[1].split("</table>", 1)[0]
    return [(rank, name.strip(), int(points)) for rank, name, points in re.findall(
        r'<td class="num">(\d+)</td>\s*<th scope="row">([^<]+)</th>.*?data-testid="earned">(-?\d+)<', body, re.S)]


async def test_staff_board_and_its_exports_match(client, board_world):
    assert (await sign_in(client, "community_admin")).status_code == 200
    page = await client.get(f"/staff/standings?period={NOV}")
    assert page.status_code == 200
    rows = _page_rows(page.text)
    assert rows == [("1", "张*丰", 50), ("2", "王*明", 30), ("3", "李*英", 20), ("3", "欧**明", 20)]
    xlsx = await client.get(f"/staff/standings/board.xlsx?community={board_world['tree']['c1']}&period={NOV}&masked=1")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [row for row in sheet.iter_rows(values_only=True)]
    assert "东园社区" in values[0][0]
    assert [(str(r[0]), r[1], r[3]) for r in values[2:]] == rows
    text = (await client.get(f"/staff/standings/board.csv?period={NOV}")).content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert [(r[0], r[1], int(r[3])) for r in lines[1:]] == rows
    # full names only when staff ask for them
    full = _page_rows((await client.get(f"/staff/standings?period={NOV}&masked=0")).text)
    assert [r[1] for r in full] == ["张三丰", "王小明", "李秀英", "欧阳小明"]


async def test_filters_and_other_pages_render(client, board_world):
    await sign_in(client, "community_admin")
    c1 = board_world["tree"]["c1"]
    for url in (f"/staff/standings?period=2026-Q4&colour=red", f"/staff/standings?period=2026&place={board_world['tree']['grid']}",
                f"/staff/standings?kind=organisation&period={NOV}", "/staff/standings/grids?period=2026-Q4",
                "/staff/standings/stars?period=2026-Q4", "/staff/standings/awards?year=2026", "/staff/standings/charts?year=2026",
                "/staff/standings/settings", f"/staff/standings/statement/{board_world['account']}?year=2026"):
        response = await client.get(url)
        assert response.status_code == 200, url
    red = _page_rows((await client.get(f"/staff/standings?period={NOV}&colour=red")).text)
    assert red == [("1", "王*明", 30)]
    grids = await client.get(f"/staff/standings/grids.xlsx?community={c1}&period=2026-Q4")
    sheet = load_workbook(io.BytesIO(grids.content)).active
    first = list(sheet.iter_rows(values_only=True))[2]
    assert first[1] == "第一网格" and first[2] == 4 and first[4] == 120 and first[5] == 30
    charts = await client.get("/staff/standings/charts?year=2026")
    assert "<svg" in charts.text and "<title" in charts.text and 'data-testid="series"' in charts.text
    assert (await client.get("/staff/standings?period=2026-13")).status_code == 400


async def test_statement_export_matches(client, board_world):
    await sign_in(client, "community_admin")
    account = board_world["account"]
    page = await client.get(f"/staff/standings/statement/{account}?year=2026")
    assert "2026-11" in page.text
    xlsx = await client.get(f"/staff/standings/statement/{account}?year=2026&format=xlsx")
    book = load_workbook(io.BytesIO(xlsx.content))
    months = [r for r in book.worksheets[0].iter_rows(values_only=True)][2:]
    assert ("2026-11", 30) in months and months[-1][1] == 30
    assert len(list(book.worksheets[1].iter_rows(values_only=True))) == 2  # header and the one award
    other = await client.get(f"/staff/standings/statement/{board_world['other_account']}?year=2026")
    assert other.status_code == 403  # another community's person


async def test_resident_sees_their_rank_and_masked_names(client, board_world):
    await sign_in(client, "resident")
    page = await client.get(f"/standings?period={NOV}")
    assert page.status_code == 200
    assert re.search(r'data-testid="my-rank">[^<]*\b2\b[^<]*\b4\b[^<]*30', page.text)
    assert "张三丰" not in page.text and "张*丰" in page.text
    assert 'aria-current="true"' in page.text
    assert (await client.get("/standings/statement?year=2026&format=csv")).status_code == 200


async def test_public_screen_needs_its_token(client, board_world):
    await sign_in(client, "community_admin")
    token = csrf_of((await client.get("/staff/standings/settings")).text)
    response = await client.post("/staff/standings/screen", data={"community": board_world["tree"]["c1"], "action": "new",
                                                                  "_csrf_token": token}, follow_redirects=True)
    url = re.search(r'data-testid="screen-url">([^<]+)<', response.text).group(1)
    path = "/screen/" + url.rsplit("/screen/", 1)[1]
    async with AsyncTestClient(app=create_app()) as anonymous:
        screen = await anonymous.get(path)
        assert screen.status_code == 200
        assert "张*丰" in screen.text and "张三丰" not in screen.text
        assert 'hx-trigger="every 60s"' in screen.text and 'http-equiv="refresh"' in screen.text
        assert (await anonymous.get(path + "/boards")).status_code == 200
        assert (await anonymous.get("/screen/not-the-token")).status_code == 404
        assert (await anonymous.get("/staff/standings", follow_redirects=False)).status_code in (302, 303, 401, 403)


async def test_settings_refuse_bad_input_and_keep_it(client, board_world):
    await sign_in(client, "community_admin")
    token = csrf_of((await client.get("/staff/standings/settings")).text)
    response = await client.post("/staff/standings/settings", data={
        "community": board_world["tree"]["c1"], "star_thresholds": "40,20", "red_flag_count": "2", "shortlist_size": "10",
        "_csrf_token": token})
    assert response.status_code == 400
    assert 'value="40,20"' in response.text and "flash-error" in response.text


async def test_award_flow_and_certificate(client, board_world):
    await sign_in(client, "community_admin")
    c1 = board_world["tree"]["c1"]
    token = csrf_of((await client.get("/staff/standings/awards")).text)
    await client.post("/staff/standings/awards/shortlist", data={"community": c1, "year": "2026", "category": "points_star",
                                                                 "_csrf_token": token})
    page = await client.get(f"/staff/standings/awards?community={c1}&year=2026")
    first = int(re.search(r'/staff/standings/awards/(\d+)/nominate', page.text).group(1))
    assert (await client.get(f"/staff/standings/awards/{first}/certificate.pdf")).status_code == 404  # not awarded yet
    too_early = await client.post(f"/staff/standings/awards/{first}/award", data={"_csrf_token": token})
    assert too_early.status_code == 422
    for move in ("nominate", "award"):
        assert (await client.post(f"/staff/standings/awards/{first}/{move}", data={"note": "", "_csrf_token": token}, follow_redirects=False)).status_code == 303
    pdf = await client.get(f"/staff/standings/awards/{first}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
