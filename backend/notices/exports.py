"""The notice as a spreadsheet (.xlsx) and as CSV, with its fingerprint in the file, so whoever keeps an export can
later check that the published history was not rewritten. Column headings come translated from the web layer."""
from __future__ import annotations

import csv
from io import BytesIO, StringIO

from openpyxl import Workbook
from openpyxl.styles import Font

COLUMNS = ("rank", "name", "colour", "place", "earned", "to_date")


def _header(notice: dict, words: dict[str, str]) -> list[list[str]]:
    return [[words["title"], f"{notice['community_name']} · {notice['month']}"],
            [words["state"], words["state_" + notice["state"]]],
            [words["fingerprint"], notice["fingerprint"]],
            [words["previous_fingerprint"], notice["previous_fingerprint"] or "—"],
            [words["transactions"], str(notice["txn_count"])],
            []]


def _row(line: dict, words: dict[str, str]) -> list:
    colour = words.get("colour_" + (line["colour"] or line["account_kind"]), "")
    return [line["rank"], line["name"], colour, line["place"], line["earned"], line["to_date"]]


def workbook(notice: dict, lines: list[dict], words: dict[str, str]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = notice["month"]
    for row in _header(notice, words):
        sheet.append(row)
    sheet.append([words[c] for c in COLUMNS])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for line in lines:
        sheet.append(_row(line, words))
    sheet.column_dimensions["B"].width = 70  # room for the fingerprint
    sheet.column_dimensions["D"].width = 24
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(notice: dict, lines: list[dict], words: dict[str, str]) -> str:
    out = StringIO()
    writer = csv.writer(out)
    for row in _header(notice, words):
        writer.writerow(row)
    writer.writerow([words[c] for c in COLUMNS])
    for line in lines:
        writer.writerow(_row(line, words))
    return "\ufeff" + out.getvalue()  # the BOM makes Excel read it as UTF-8
