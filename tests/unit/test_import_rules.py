"""The pure import rules: decoding, the header, every row-level reason code, duplicates, the sample file."""
import codecs
import io

import pytest
from openpyxl import Workbook

from backend.errors import InvalidInput
from backend.imports import rules
from backend.web.messages import REASONS

# street 1 / community 2 / compound 3 (东园小区) / grid 4 (第一网格) / building 5 (1号楼) / units 6, 7
# and a second compound 8 (西园小区) whose grid 9 is also called 第一网格, with building 10 (1号楼) and unit 11
NODES = [
    {"id": 1, "kind": "street", "name": "测试街道", "path": "/1/"},
    {"id": 2, "kind": "community", "name": "东园社区", "path": "/1/2/"},
    {"id": 3, "kind": "compound", "name": "东园小区", "path": "/1/2/3/"},
    {"id": 4, "kind": "grid", "name": "第一网格", "path": "/1/2/3/4/"},
    {"id": 5, "kind": "building", "name": "1号楼", "path": "/1/2/3/4/5/"},
    {"id": 6, "kind": "unit", "name": "1单元", "path": "/1/2/3/4/5/6/"},
    {"id": 7, "kind": "unit", "name": "2单元", "path": "/1/2/3/4/5/7/"},
    {"id": 12, "kind": "building", "name": "2号楼", "path": "/1/2/3/4/12/"},
    {"id": 8, "kind": "compound", "name": "西园小区", "path": "/1/2/8/"},
    {"id": 9, "kind": "grid", "name": "第一网格", "path": "/1/2/8/9/"},
    {"id": 10, "kind": "building", "name": "1号楼", "path": "/1/2/8/9/10/"},
    {"id": 11, "kind": "unit", "name": "1单元", "path": "/1/2/8/9/10/11/"},
]
PLACES = rules.place_index(NODES)
HEADER = ("姓名", "手机", "网格", "楼栋", "单元", "党员", "楼栋长", "期初积分")


def row(**cells):
    base = {"name": "张三", "phone": "13800138000", "compound": "东园小区", "grid": "第一网格", "building": "1号楼", "unit": "1单元"}
    return rules.parse_row(2, base | cells, PLACES)


def codes(parsed):
    return [(e["column"], e["code"]) for e in parsed["errors"]]


def csv_bytes(lines, encoding="utf-8"):
    return "\r\n".join(",".join(cells) for cells in lines).encode(encoding)


def xlsx_bytes(lines):
    wb = Workbook()
    ws = wb.active
    for cells in lines:
        ws.append(list(cells))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ---- a clean row -----------------------------------------------------------------------------------------------

def test_a_clean_row_resolves_its_unit_and_flags():
    parsed = row(party_member="是", building_lead="否", opening_points="20")
    assert parsed == {"row": 2, "name": "张三", "phone": "13800138000", "home": 6, "place": "东园小区 / 第一网格 / 1号楼 / 1单元",
                      "party": True, "lead": False, "points": 20, "errors": []}


def test_without_a_unit_the_home_is_the_building():
    parsed = rules.parse_row(3, {"name": "李四", "grid": "第一网格", "building": "2号楼"}, PLACES)
    assert parsed["home"] == 12 and parsed["errors"] == [] and parsed["phone"] is None and parsed["points"] == 0


def test_full_width_and_spaces_are_normalised():
    parsed = row(name=" 王  五 ", phone="１３８ ００１３-８０００", unit="１单元", opening_points="１,０００")
    assert parsed["errors"] == []
    assert (parsed["name"], parsed["phone"], parsed["home"], parsed["points"]) == ("王 五", "13800138000", 6, 1000)


@pytest.mark.parametrize("phone", ["13800138000", "+8613800138000", "8613800138000", 13800138000, 13800138000.0, "138-0013-8000"])
def test_phone_forms_accepted(phone):
    assert row(phone=phone)["phone"] == "13800138000"


@pytest.mark.parametrize("value,expected", [("是", True), ("否", False), ("yes", True), ("No", False), ("1", True), ("0", False),
                                            (1, True), (0, False), (True, True), (False, False), (None, False), ("", False),
                                            ("√", True), ("TRUE", True)])
def test_flag_forms(value, expected):
    assert row(building_lead=value)["lead"] is expected


def test_political_status_words_count_for_the_party_column():
    assert row(party_member="中共党员")["party"] is True
    assert row(party_member="群众")["party"] is False
    assert codes(row(building_lead="群众")) == [("building_lead", "bad_flag")]


@pytest.mark.parametrize("value,expected", [(None, 0), ("", 0), (0, 0), (15, 15), (15.0, 15), ("15", 15), ("15.0", 15), (1_000_000, 1_000_000)])
def test_points_forms(value, expected):
    assert row(opening_points=value)["points"] == expected


# ---- every row-level reason code --------------------------------------------------------------------------------

def test_name_missing():
    assert codes(row(name="  ")) == [("name", "name_missing")]


def test_name_too_long():
    parsed = row(name="张" * 65)
    assert codes(parsed) == [("name", "name_too_long")] and parsed["errors"][0]["params"] == {"max": 64}


@pytest.mark.parametrize("phone", ["1380013800", "138001380001", "23800138000", "12800138000", "1.38001E+10", "电话", 13800138000.5])
def test_bad_phone(phone):
    parsed = row(phone=phone)
    assert codes(parsed) == [("phone", "bad_phone")] and parsed["errors"][0]["params"]["value"]


def test_place_missing():
    assert codes(row(grid="")) == [("grid", "place_missing")]
    assert codes(row(building=None)) == [("building", "place_missing")]


def test_unknown_place():
    parsed = row(unit="9单元")
    assert codes(parsed) == [("unit", "unknown_place")]
    assert parsed["errors"][0]["params"] == {"place": "东园小区 / 第一网格 / 1号楼 / 9单元"}
    assert codes(row(building="99号楼", unit="")) == [("building", "unknown_place")]
    assert codes(row(compound="北园小区")) == [("unit", "unknown_place")]


def test_ambiguous_place_without_a_compound_and_resolved_with_one():
    assert codes(row(compound="")) == [("unit", "ambiguous_place")]
    assert row(compound="西园小区")["home"] == 11
    # 2单元 exists in one compound only: no compound column needed
    assert row(compound="", unit="2单元")["home"] == 7


@pytest.mark.parametrize("value", ["也许", "2", "x"])
def test_bad_flag(value):
    parsed = row(party_member=value)
    assert codes(parsed) == [("party_member", "bad_flag")] and parsed["errors"][0]["params"] == {"value": value}


@pytest.mark.parametrize("value", ["-5", -5, "1.5", 1.5, "十", 1_000_001, True])
def test_bad_points(value):
    parsed = row(opening_points=value)
    assert codes(parsed) == [("opening_points", "bad_points")]
    assert parsed["errors"][0]["params"]["max"] == 1_000_000


def test_several_errors_in_one_row_are_all_reported():
    assert codes(row(name="", phone="123", party_member="?", opening_points="-1")) == [
        ("name", "name_missing"), ("phone", "bad_phone"), ("party_member", "bad_flag"), ("opening_points", "bad_points")]


def test_every_code_has_a_message():
    produced = {"name_missing", "name_too_long", "bad_phone", "place_missing", "unknown_place", "ambiguous_place", "bad_flag",
                "bad_points", "duplicate_in_file", "already_registered", "file_required", "file_too_large", "unreadable_file",
                "missing_columns", "too_many_rows", "empty_sheet", "import_has_errors", "import_not_pending", "import_not_found",
                "community_required", "import_failed"}
    assert produced <= set(REASONS)


# ---- the sheet: duplicates, row numbers, header -----------------------------------------------------------------

def check(lines, existing=frozenset()):
    return rules.check_sheet(rules.read_sheet("people.csv", csv_bytes(lines)), PLACES, existing)


def test_duplicates_in_file_by_phone_or_by_place_and_row_numbers_of_the_sheet():
    checked = check([
        HEADER,
        ("张三", "13800138000", "第一网格", "2号楼", "", "", "", ""),  # row 2
        ("", "", "", "", "", "", "", ""),  # row 3: blank, skipped but counted in numbering
        ("张三", "13800138000", "第一网格", "2号楼", "", "", "", ""),  # row 4: same name + phone
        ("李四", "", "第一网格", "2号楼", "", "", "", ""),  # row 5
        ("李四", "", "第一网格", "2号楼", "", "", "", ""),  # row 6: same name, no phone, same place
        ("李四", "13900139000", "第一网格", "2号楼", "", "", "", ""),  # row 7: a phone makes it someone else
    ])
    assert checked.row_count == 5 and checked.error_rows == 2 and not checked.ok
    flagged = {r["row"]: r["errors"] for r in checked.rows if r["errors"]}
    assert flagged == {4: [{"column": "phone", "code": "duplicate_in_file", "params": {"first": 2}}],
                       6: [{"column": "name", "code": "duplicate_in_file", "params": {"first": 5}}]}


def test_already_registered_in_the_community():
    existing = {rules.person_key("张三", "13800138000", 99), rules.person_key("李四", None, 12)}
    checked = check([HEADER, ("张三", "13800138000", "第一网格", "2号楼", "", "", "", ""),
                     ("李四", "", "第一网格", "2号楼", "", "", "", ""), ("王五", "", "第一网格", "2号楼", "", "", "", "")], existing)
    assert [(r["row"], codes(r)) for r in checked.rows] == [
        (2, [("phone", "already_registered")]), (3, [("name", "already_registered")]), (4, [])]


def test_english_headers_notes_and_a_title_row_above_the_header():
    checked = check([
        ("东园社区居民名单", "", ""),
        ("Name", "Grid", "Building*", "Unit (optional)", "Opening_Points", "备注"),
        ("Tom", "第一网格", "1号楼", "2单元", "5", "随便写"),
    ])
    assert checked.ok and checked.rows[0]["row"] == 3 and checked.rows[0]["home"] == 7 and checked.rows[0]["points"] == 5


def test_missing_columns_names_them():
    with pytest.raises(InvalidInput) as err:
        rules.read_sheet("x.csv", csv_bytes([("姓名", "手机", "单元"), ("张三", "", "")]))
    assert err.value.code == "missing_columns" and err.value.params["columns"] == "网格/grid、楼栋/building"
    with pytest.raises(InvalidInput, match="missing_columns"):
        rules.read_sheet("x.csv", csv_bytes([("序号", "备注"), ("1", "x")]))


def test_empty_sheet_and_too_many_rows():
    with pytest.raises(InvalidInput, match="empty_sheet"):
        rules.read_sheet("x.csv", csv_bytes([HEADER]))
    with pytest.raises(InvalidInput, match="empty_sheet"):
        rules.read_sheet("x.csv", b"\r\n,,\r\n")
    lines = [HEADER] + [("张三", "", "第一网格", "1号楼", "", "", "", "")] * 4
    with pytest.raises(InvalidInput) as err:
        rules.read_sheet("x.csv", csv_bytes(lines), max_rows=3)
    assert err.value.code == "too_many_rows" and err.value.params["max"] == 3
    assert len(rules.read_sheet("x.csv", csv_bytes(lines), max_rows=4).rows) == 4


def test_size_limits():
    with pytest.raises(InvalidInput, match="file_required"):
        rules.read_sheet("x.csv", b"")
    with pytest.raises(InvalidInput) as err:
        rules.check_size(rules.MAX_BYTES + 1)
    assert err.value.code == "file_too_large" and err.value.params == {"field": "file", "max_mb": 10}
    rules.check_size(rules.MAX_BYTES)


# ---- decoding ---------------------------------------------------------------------------------------------------

LINES = [HEADER, ("张三", "13800138000", "第一网格", "1号楼", "2单元", "是", "否", "20")]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings(encoding):
    sheet = rules.read_sheet("people.csv", csv_bytes(LINES, encoding))
    assert sheet.header == HEADER and sheet.rows[0][1][0] == "张三"
    assert rules.check_sheet(sheet, PLACES).rows[0]["home"] == 7


def test_utf8_bom_is_not_part_of_the_first_header():
    content = codecs.BOM_UTF8 + csv_bytes(LINES)
    assert rules.read_sheet("people.csv", content).header[0] == "姓名"


def test_tab_separated_text():
    content = "\r\n".join("\t".join(cells) for cells in LINES).encode("utf-8")
    assert rules.read_sheet("people.txt", content).rows[0][1][2] == "第一网格"


def test_quoted_fields_with_commas():
    content = '姓名,网格,楼栋,备注\r\n"张三",第一网格,1号楼,"一, 二"\r\n'.encode()
    assert rules.read_sheet("x.csv", content).rows[0][1][3] == "一, 二"


@pytest.mark.parametrize("content", [b"\x00\x01\x02\xff\xfe\x00binary", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old xls", b"PK\x03\x04broken zip"])
def test_unreadable_files(content):
    with pytest.raises(InvalidInput, match="unreadable_file"):
        rules.read_sheet("people.xlsx", content)


def test_a_csv_named_xlsx_is_refused_and_an_xlsx_named_csv_is_read():
    with pytest.raises(InvalidInput, match="unreadable_file"):
        rules.read_sheet("people.xlsx", csv_bytes(LINES))
    assert rules.read_sheet("people.csv", xlsx_bytes(LINES)).rows[0][1][0] == "张三"


def test_xlsx_with_typed_cells():
    content = xlsx_bytes([("姓名", "手机", "小区", *HEADER[2:]), ("张三", 13800138000, "东园小区", "第一网格", "1号楼", "1单元", True, 0, 20), (None,) * 9,
                          ("李四", None, "", "第一网格", "1号楼", "2单元", "否", "是", 5.0)])
    checked = rules.check_sheet(rules.read_sheet("people.xlsx", content), PLACES)
    assert checked.ok, checked.rows
    assert [(r["row"], r["name"], r["phone"], r["home"], r["party"], r["lead"], r["points"]) for r in checked.rows] == [
        (2, "张三", "13800138000", 6, True, False, 20), (4, "李四", None, 7, False, True, 5)]


# ---- accounts and the sample file -------------------------------------------------------------------------------

def test_account_colours_first_one_receives_opening_points():
    assert rules.account_colours(True, True) == ("red", "green")
    assert rules.account_colours(True, False) == ("red",)
    assert rules.account_colours(False, True) == ("green",)
    assert rules.account_colours(False, False) == ("blue",)


def test_template_csv_has_a_bom_and_reads_back_clean():
    content = rules.template_csv(("第一网格", "1号楼", "2单元"))
    assert content.startswith(codecs.BOM_UTF8)
    checked = rules.check_sheet(rules.read_sheet("template.csv", content), PLACES)
    assert checked.ok and checked.row_count == 2 and {r["home"] for r in checked.rows} == {7}
