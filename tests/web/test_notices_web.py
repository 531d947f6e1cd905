"""The monthly notice through the test client: staff close a month from the form (and cannot close it twice),
publish it, a resident sees their highlighted line and objects, staff resolve with a ledger correction; the .xlsx
and .csv exports carry the fingerprint and the same lines as the page."""
import csv
import re
from datetime import datetime, timezone
from io import BytesIO, StringIO
from uuid import uuid4

import pytest
from openpyxl import load_workbook

from backend.ledger import service as ledger
from backend.ledger.rules import PostingDraft, TransactionDraft
from backend.ledger.tables import LedgerTransaction
from backend.notices.tables import Notice, NoticeLine, Objection
from tests import factories as f
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.db

OCT = datetime(2026, 10, 12, 3, 0, tzinfo=timezone.utc)
RED = "红色账户（党员）"


@pytest.fixture
async def october(people_world):
    t = people_world["tree"]
    for points, account in ((12, people_world["account"]),):
        await ledger.record(TransactionDraft(kind="award", memo="十月", idempotency_key=str(uuid4()), community_id=t["c1"],
                                             occurred_at=OCT, postings=(PostingDraft(people_world["issuer"], -points),
                                                                        PostingDraft(account, points))))
    _, neighbour = await f.person_account("张三丰", t["unit"], t["c1"], colour="green")
    await ledger.record(TransactionDraft(kind="hours", memo="十月", idempotency_key=str(uuid4()), community_id=t["c1"],
                                         occurred_at=OCT, postings=(PostingDraft(people_world["issuer"], -20),
                                                                    PostingDraft(neighbour, 20))))
    return people_world | {"neighbour": neighbour}


async def post_form(client, page_url: str, url: str, data: dict, follow: bool = False):
    page = await client.get(page_url)
    return await client.post(url, data={"_csrf_token": csrf_of(page.text), **data}, follow_redirects=follow)


async def close_october(client) -> int:
    response = await post_form(client, "/staff/notices", "/staff/notices", {"community": "", "month": "2026-10"})
    assert response.status_code == 400
    c1 = re.search(r'<option value="(\d+)"', (await client.get("/staff/notices")).text).group(1)
    response = await post_form(client, "/staff/notices", "/staff/notices", {"community": c1, "month": "2026-10"})
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[3].split("?")[0])


def page_rows(html: str) -> list[list[str]]:
    table = html.split('data-testid="notice-lines"')[1].split("</table>")[0]
    rows = []
    for tr in re.findall(r'<tr id="line-\d+".*?</tr>', table, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", tr, re.S)]
        rows.append(cells[:6])
    return rows


async def test_staff_close_publish_resident_objects_staff_resolve(client, october):
    assert (await sign_in(client, "community_admin")).status_code == 200
    notice_id = await close_october(client)
    page = await client.get(f"/staff/notices/{notice_id}")
    assert page.status_code == 200
    fingerprint = (await Notice.select(Notice.fingerprint).where(Notice.id == notice_id).first())["fingerprint"]
    assert f'data-value="{fingerprint}"' in page.text
    # the interface speaks Chinese by default
    assert page_rows(page.text)[:2] == [["1", "张*丰", "绿色账户（楼栋长）", "第一网格 · 1号楼", "20", "20"],
                                        ["2", "王*明", RED, "第一网格 · 1号楼", "12", "12"]]
    again = await post_form(client, "/staff/notices", "/staff/notices",
                            {"community": str(october["tree"]["c1"]), "month": "2026-10"})
    assert again.status_code == 422 and "本社区 2026-10 已经结算过了" in again.text
    still_open = await post_form(client, "/staff/notices", "/staff/notices",
                                 {"community": str(october["tree"]["c1"]), "month": "2099-01"})
    assert still_open.status_code == 422 and "2099-01 还没有结束" in still_open.text

    # a draft is not shown to residents
    published = await post_form(client, f"/staff/notices/{notice_id}", f"/staff/notices/{notice_id}/publish", {"days": "7"})
    assert published.status_code == 303
    await client.post("/logout", data={"_csrf_token": csrf_of((await client.get("/")).text)})

    assert (await sign_in(client, "resident")).status_code == 200
    mine = await client.get("/notice")
    assert mine.status_code == 200 and 'data-testid="my-line"' in mine.text and 'aria-current="true"' in mine.text
    neighbour_line = (await NoticeLine.select(NoticeLine.id).where(NoticeLine.account == october["neighbour"]).first())["id"]
    empty = await post_form(client, "/notice", f"/notice/lines/{neighbour_line}/objections", {"reason": "  "})
    assert empty.status_code == 400 and 'role="alert"' in empty.text
    sent = await post_form(client, "/notice", f"/notice/lines/{neighbour_line}/objections", {"reason": "他十月只值班了一次"}, True)
    assert sent.status_code == 200 and "等待工作人员处理" in sent.text
    await client.post("/logout", data={"_csrf_token": csrf_of((await client.get("/")).text)})

    assert (await sign_in(client, "community_admin")).status_code == 200
    objection = (await Objection.select(Objection.id).first())["id"]
    staff_page = await client.get(f"/staff/notices/{notice_id}")
    assert "他十月只值班了一次" in staff_page.text
    for bad_points in ("abc", "-5", "0"):
        bad = await post_form(client, f"/staff/notices/{notice_id}", f"/staff/notices/{notice_id}/objections/{objection}",
                              {"decision": "upheld", "resolution": "核实后冲正", "points": bad_points})
        assert bad.status_code == 400
    # the page offers the line's earnings of the month to reverse
    hours = (await LedgerTransaction.select(LedgerTransaction.id).where(LedgerTransaction.kind == "hours").first())["id"]
    assert f'name="reverses" value="{hours}"' in staff_page.text
    done = await post_form(client, f"/staff/notices/{notice_id}", f"/staff/notices/{notice_id}/objections/{objection}",
                           {"decision": "upheld", "resolution": "核实后冲正", "points": "", "reverses": str(hours)})
    assert done.status_code == 303
    stored = await Objection.select().where(Objection.id == objection).first()
    txn = await LedgerTransaction.select().where(LedgerTransaction.id == stored["correction_txn"]).first()
    assert stored["state"] == "upheld" and txn["kind"] == "reversal" and txn["reverses"] == hours
    assert stored["correction_points"] == -20 and await f.balance(october["neighbour"]) == 0
    # the frozen line did not change
    assert (await NoticeLine.select(NoticeLine.earned).where(NoticeLine.id == neighbour_line).first())["earned"] == 20
    early = await post_form(client, f"/staff/notices/{notice_id}", f"/staff/notices/{notice_id}/finalise", {})
    assert early.status_code == 422 and "居民仍可提出异议" in early.text


async def test_exports_match_the_page_and_carry_the_fingerprint(client, october):
    assert (await sign_in(client, "community_admin")).status_code == 200
    notice_id = await close_october(client)
    page = await client.get(f"/staff/notices/{notice_id}")
    shown = page_rows(page.text)
    fingerprint = (await Notice.select(Notice.fingerprint).where(Notice.id == notice_id).first())["fingerprint"]

    xlsx = await client.get(f"/notices/{notice_id}/notice.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(BytesIO(xlsx.content)).active
    values = [[("" if v is None else str(v)) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert ["指纹", fingerprint] == values[2][:2]
    header = values.index(["名次", "姓名", "账户", "网格与楼栋", "本月获得", "累计获得"])
    assert values[header + 1:] == shown

    text = (await client.get(f"/notices/{notice_id}/notice.csv")).content.decode("utf-8-sig")
    rows = list(csv.reader(StringIO(text)))
    assert rows[2] == ["指纹", fingerprint]
    assert [r for r in rows[rows.index(values[header]) + 1:]] == shown

    printed = await client.get(f"/notices/{notice_id}/print")
    assert printed.status_code == 200 and fingerprint[:8] in printed.text


async def test_residents_do_not_see_drafts_or_other_communities(client, october):
    assert (await sign_in(client, "community_admin")).status_code == 200
    notice_id = await close_october(client)
    await client.post("/logout", data={"_csrf_token": csrf_of((await client.get("/")).text)})
    assert (await sign_in(client, "resident")).status_code == 200
    page = await client.get("/notice")
    assert page.status_code == 200 and "还没有发布月度公示" in page.text
    assert (await client.get(f"/notices/{notice_id}/notice.csv")).status_code == 403
    assert (await client.get(f"/staff/notices/{notice_id}")).status_code == 403
