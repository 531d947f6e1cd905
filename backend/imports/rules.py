"""Pure decisions for bringing residents in from a sheet: decode the file, find the columns, check each row.

No database, no web: bytes and plain data in, clean rows or reason codes out.

Decisions (the README's import section repeats them):
- Required columns: 姓名 (name), 网格 (grid), 楼栋 (building). 单元 (unit), 小区 (compound), 手机 (phone),
  党员, 楼栋长 and 期初积分 are optional. Unknown columns (序号, 备注 …) are ignored.
- The header is the first row (among the first ten) that names at least one known column, so a title row above
  it is fine. Row numbers in errors are the sheet's own row numbers (the header usually being row 1).
- A row's place must exist under the chosen community: grid + building (+ unit when given) are matched by name
  (after NFKC, so full-width "１号楼" matches "1号楼"). With a unit the person's home is the unit node, without
  one the building node. A grid/building/unit name combination that exists in two compounds is ambiguous
  unless a 小区 column says which.
- A duplicate is the same name with the same phone (or, without a phone, the same name at the same place), twice
  in the file (the later rows are flagged) or already registered in the community.
- Opening points go to the person's first account: red for a party member, else green for a building lead,
  else blue. A party member who is also a lead gets a red and a green account.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Iterable, Iterator

from backend.errors import InvalidInput
from backend.ledger.rules import MAX_POINTS_PER_POSTING

MAX_BYTES = 10 * 1024 * 1024
MAX_MB = MAX_BYTES // (1024 * 1024)
MAX_ROWS = 50_000
MAX_NAME = 64  # Person.name
HEADER_SEARCH_ROWS = 10
OPENING_MEMO = "导入期初积分"

FIELDS = ("name", "phone", "compound", "grid", "building", "unit", "party_member", "building_lead", "opening_points")
REQUIRED = ("name", "grid", "building")
# the header a person writes -> our field; matched after normalise_header()
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字", "居民姓名", "name", "full name"),
    "phone": ("手机", "手机号", "手机号码", "联系电话", "电话", "联系方式", "phone", "mobile", "phone number"),
    "compound": ("小区", "compound"),
    "grid": ("网格", "所属网格", "grid"),
    "building": ("楼栋", "楼号", "楼", "building"),
    "unit": ("单元", "单元号", "unit"),
    "party_member": ("党员", "是否党员", "政治面貌", "party member", "party"),
    "building_lead": ("楼栋长", "是否楼栋长", "楼长", "building lead", "lead"),
    "opening_points": ("期初积分", "积分", "opening points", "opening", "points"),
}
# how a missing column is named in the missing_columns message (the sheet's own words, then ours)
COLUMN_TITLES = {"name": "姓名/name", "grid": "网格/grid", "building": "楼栋/building"}
TEMPLATE_HEADER = ("姓名", "手机", "网格", "楼栋", "单元", "党员", "楼栋长", "期初积分")

YES = frozenset({"是", "y", "yes", "1", "true", "t", "√", "✓", "✔", "有"})
NO = frozenset({"否", "n", "no", "0", "false", "f", "", "无", "-", "—"})
# a 政治面貌 column says it in words
PARTY_YES = frozenset({"党员", "中共党员", "预备党员", "中共预备党员"})
PARTY_NO = frozenset({"群众", "团员", "共青团员", "民主党派", "无党派人士"})

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_NOTE = re.compile(r"[(（\[【].*?[)）\]】]")
_HEADER_NOISE = re.compile(r"[\s_\-*＊:：]+")


# ---- reading the file -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sheet:
    header_row: int  # the sheet's row number of the header
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[Any, ...]], ...]  # (sheet row number, cells) of every non-empty row below the header


def check_size(size: int) -> None:
    if size == 0:
        raise InvalidInput("file_required", field="file")
    if size > MAX_BYTES:
        raise InvalidInput("file_too_large", field="file", max_mb=MAX_MB)


def read_sheet(filename: str, content: bytes, max_rows: int = MAX_ROWS) -> Sheet:
    """An .xlsx workbook (its active sheet) or a CSV file in UTF-8 (with or without BOM), UTF-16 or GBK."""
    check_size(len(content))
    if content.startswith(b"PK\x03\x04"):
        lines = _xlsx_rows(content)
    elif filename.lower().endswith((".xlsx", ".xlsm", ".xls")) or content.startswith(b"\xd0\xcf\x11\xe0"):
        raise InvalidInput("unreadable_file", field="file")  # an old .xls, or not a workbook at all
    else:
        lines = _csv_rows(decode_text(content))
    return _find_header(lines, max_rows)


def decode_text(content: bytes) -> str:
    """UTF-8 (a BOM is dropped), UTF-16 with BOM, else GB18030 — the superset of GBK that Chinese Excel writes."""
    if content.startswith(codecs.BOM_UTF8):
        encodings = ("utf-8-sig",)
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8", "gb18030")
    for encoding in encodings:
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise InvalidInput("unreadable_file", field="file")


def _csv_rows(text: str) -> Iterator[tuple[Any, ...]]:
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count)
    try:
        for cells in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            yield tuple(cells)
    except csv.Error as exc:
        raise InvalidInput("unreadable_file", field="file") from exc


def _xlsx_rows(content: bytes) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise InvalidInput("unreadable_file", field="file") from exc
    except Exception as exc:  # openpyxl raises its own types for broken parts (InvalidFileException, lxml errors)
        raise InvalidInput("unreadable_file", field="file") from exc
    try:
        sheet = workbook.active or (workbook.worksheets[0] if workbook.worksheets else None)
        if sheet is None:
            raise InvalidInput("empty_sheet")
        try:
            yield from sheet.iter_rows(values_only=True)
        except InvalidInput:
            raise
        except Exception as exc:  # a corrupt sheet part shows only while reading it
            raise InvalidInput("unreadable_file", field="file") from exc
    finally:
        workbook.close()


def _blank(cells: Iterable[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _find_header(lines: Iterable[tuple[Any, ...]], max_rows: int) -> Sheet:
    header: tuple[str, ...] | None = None
    header_row = 0
    first_nonblank: tuple[str, ...] | None = None
    rows: list[tuple[int, tuple[Any, ...]]] = []
    for number, cells in enumerate(lines, start=1):
        if header is None:
            if _blank(cells):
                continue
            texts = tuple(cell_text(c) for c in cells)
            first_nonblank = first_nonblank or texts
            if any(header_field(t) for t in texts):
                header, header_row = texts, number
            elif number >= HEADER_SEARCH_ROWS:
                break
            continue
        if _blank(cells):
            continue
        if len(rows) >= max_rows:
            raise InvalidInput("too_many_rows", field="file", max=max_rows)
        rows.append((number, tuple(cells)))
    if header is None:
        if first_nonblank is None:
            raise InvalidInput("empty_sheet", field="file")
        header = first_nonblank
    map_columns(header)
    if not rows:
        raise InvalidInput("empty_sheet", field="file")
    return Sheet(header_row, header, tuple(rows))


# ---- the header -------------------------------------------------------------------------------------------------

def normalise_header(text: str) -> str:
    """'姓名（必填）*' -> '姓名', 'Party_Member' -> 'partymember'."""
    text = unicodedata.normalize("NFKC", text)
    text = _NOTE.sub("", text)
    return _HEADER_NOISE.sub("", text).casefold()


_ALIASES = {normalise_header(alias): name for name, aliases in HEADER_ALIASES.items() for alias in aliases}


def header_field(text: str) -> str | None:
    return _ALIASES.get(normalise_header(text)) if text else None


def map_columns(header: Iterable[str]) -> dict[str, int]:
    """field -> column index (the first column with that meaning wins); the required ones must be there."""
    columns: dict[str, int] = {}
    for index, text in enumerate(header):
        name = header_field(text)
        if name and name not in columns:
            columns[name] = index
    missing = [COLUMN_TITLES[f] for f in REQUIRED if f not in columns]
    if missing:
        raise InvalidInput("missing_columns", field="file", columns="、".join(missing))
    return columns


# ---- places -----------------------------------------------------------------------------------------------------

def place_key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


@dataclass(frozen=True)
class Place:
    node_id: int
    compound: str  # normalised compound name, "" when the tree has none
    label: str  # "东园小区 / 第一网格 / 1号楼 / 1单元"


@dataclass(frozen=True)
class PlaceIndex:
    by_names: dict[tuple[str, str, str], tuple[Place, ...]]

    def resolve(self, compound: str, grid: str, building: str, unit: str) -> tuple[Place | None, str | None]:
        """(place, None) or (None, "unknown_place" | "ambiguous_place")."""
        found = self.by_names.get((place_key(grid), place_key(building), place_key(unit)), ())
        if compound:
            found = tuple(p for p in found if p.compound == place_key(compound))
        if not found:
            return None, "unknown_place"
        if len(found) > 1:
            return None, "ambiguous_place"
        return found[0], None


def place_index(nodes: Iterable[dict]) -> PlaceIndex:
    """From the community's subtree (dicts with id, kind, name, path): every building and unit by its names."""
    nodes = list(nodes)
    by_id = {n["id"]: n for n in nodes}
    index: dict[tuple[str, str, str], list[Place]] = {}
    for node in nodes:
        if node["kind"] not in ("building", "unit"):
            continue
        names: dict[str, str] = {}
        for part in node["path"].strip("/").split("/"):
            ancestor = by_id.get(int(part))
            if ancestor is not None:
                names[ancestor["kind"]] = ancestor["name"]
        if "grid" not in names or "building" not in names:
            continue
        key = (place_key(names["grid"]), place_key(names["building"]), place_key(names.get("unit", "")))
        label = " / ".join(names[k] for k in ("compound", "grid", "building", "unit") if k in names)
        index.setdefault(key, []).append(Place(node["id"], place_key(names.get("compound", "")), label))
    return PlaceIndex({k: tuple(v) for k, v in index.items()})


# ---- one row ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    column: str | None  # a field of FIELDS, None for the whole row
    code: str
    params: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"column": self.column, "code": self.code, "params": self.params}


def cell_text(value: Any) -> str:
    """What a person sees in the cell: 13800138000.0 -> '13800138000', full-width digits -> ASCII."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return " ".join(unicodedata.normalize("NFKC", str(value)).split())


def parse_phone(value: Any) -> str | None:
    """None when blank; the 11 digits of a mainland mobile; raises ValueError otherwise."""
    text = re.sub(r"[\s\-()（）]", "", cell_text(value))
    if not text:
        return None
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not _PHONE.match(text):
        raise ValueError(text)
    return text


def parse_flag(value: Any, field_name: str = "") -> bool:
    if isinstance(value, bool):
        return value
    text = cell_text(value).casefold()
    if text in YES or (field_name == "party_member" and text in PARTY_YES):
        return True
    if text in NO or (field_name == "party_member" and text in PARTY_NO):
        return False
    raise ValueError(text)


def parse_points(value: Any) -> int:
    if value is None or isinstance(value, bool):
        if value is None:
            return 0
        raise ValueError(value)
    if isinstance(value, int):
        points = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        points = int(value)
    else:
        text = cell_text(value).replace(",", "")
        if not text:
            return 0
        if re.fullmatch(r"\d+(\.0+)?", text) is None:
            raise ValueError(text)
        points = int(text.split(".")[0])
    if points < 0 or points > MAX_POINTS_PER_POSTING:
        raise ValueError(value)
    return points


def account_colours(party_member: bool, building_lead: bool) -> tuple[str, ...]:
    """The first colour is the account that receives the opening points."""
    if party_member and building_lead:
        return ("red", "green")
    if party_member:
        return ("red",)
    if building_lead:
        return ("green",)
    return ("blue",)


def parse_row(number: int, cells: dict[str, Any], places: PlaceIndex) -> dict:
    """One sheet row -> {"row", "name", "phone", "home", "place", "party", "lead", "points", "errors"}.
    `cells` maps fields to raw cell values (missing columns simply absent)."""
    errors: list[RowError] = []
    name = cell_text(cells.get("name"))
    if not name:
        errors.append(RowError("name", "name_missing"))
    elif len(name) > MAX_NAME:
        errors.append(RowError("name", "name_too_long", {"max": MAX_NAME}))
    phone = None
    try:
        phone = parse_phone(cells.get("phone"))
    except ValueError:
        errors.append(RowError("phone", "bad_phone", {"value": cell_text(cells.get("phone"))}))
    grid, building = cell_text(cells.get("grid")), cell_text(cells.get("building"))
    unit, compound = cell_text(cells.get("unit")), cell_text(cells.get("compound"))
    home, place_label = None, " / ".join(p for p in (compound, grid, building, unit) if p)
    if not grid or not building:
        errors.append(RowError("grid" if not grid else "building", "place_missing"))
    else:
        place, problem = places.resolve(compound, grid, building, unit)
        if place is None:
            errors.append(RowError("unit" if unit else "building", problem, {"place": place_label}))
        else:
            home, place_label = place.node_id, place.label
    flags = {}
    for flag in ("party_member", "building_lead"):
        try:
            flags[flag] = parse_flag(cells.get(flag), flag)
        except ValueError:
            flags[flag] = False
            errors.append(RowError(flag, "bad_flag", {"value": cell_text(cells.get(flag))}))
    points = 0
    try:
        points = parse_points(cells.get("opening_points"))
    except ValueError:
        errors.append(RowError("opening_points", "bad_points",
                               {"value": cell_text(cells.get("opening_points")), "max": MAX_POINTS_PER_POSTING}))
    return {"row": number, "name": name, "phone": phone, "home": home, "place": place_label,
            "party": flags["party_member"], "lead": flags["building_lead"], "points": points,
            "errors": [e.as_dict() for e in errors]}


def person_key(name: str, phone: str | None, home: int | None) -> tuple:
    """Who counts as the same person: name + phone, or name + home when there is no phone."""
    return (name, "phone", phone) if phone else (name, "home", home)


# ---- the whole sheet --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checked:
    rows: list[dict]
    row_count: int
    error_rows: int  # rows with at least one error
    error_count: int  # errors in all

    @property
    def ok(self) -> bool:
        return self.error_rows == 0


def check_sheet(sheet: Sheet, places: PlaceIndex, existing: frozenset | set = frozenset()) -> Checked:
    """Every row parsed and checked, duplicates across rows (and against `existing` person_keys) flagged."""
    columns = map_columns(sheet.header)
    seen: dict[tuple, int] = {}
    rows: list[dict] = []
    error_rows = error_count = 0
    for number, cells in sheet.rows:
        values = {f: cells[i] if i < len(cells) else None for f, i in columns.items()}
        row = parse_row(number, values, places)
        if row["name"] and row["home"] is not None:
            key = person_key(row["name"], row["phone"], row["home"])
            column = "phone" if row["phone"] else "name"
            if key in seen:
                row["errors"].append(RowError(column, "duplicate_in_file", {"first": seen[key]}).as_dict())
            else:
                seen[key] = number
                if key in existing:
                    row["errors"].append(RowError(column, "already_registered").as_dict())
        if row["errors"]:
            error_rows += 1
            error_count += len(row["errors"])
        rows.append(row)
    return Checked(rows, len(rows), error_rows, error_count)


def template_rows(place: tuple[str, str, str] | None = None) -> list[tuple[str, ...]]:
    """The downloadable sample: the header and two example rows (at a real place when one is given)."""
    grid, building, unit = place or ("第一网格", "1号楼", "1单元")
    return [
        TEMPLATE_HEADER,
        ("张三", "13800138000", grid, building, unit, "是", "否", "20"),
        ("李四", "", grid, building, unit, "否", "是", "0"),
    ]


def template_csv(place: tuple[str, str, str] | None = None) -> bytes:
    """UTF-8 with a BOM, so Excel opens the Chinese headers correctly."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(template_rows(place))
    return codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8")
