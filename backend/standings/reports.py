"""Exports: the same rows as the screen, as .xlsx (openpyxl) or .csv (UTF-8 with BOM, so Excel reads Chinese)."""
from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from openpyxl.styles import Font

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_csv(headers: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(title: str, headers: list[str], rows: list[list], heading: str | None = None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    if heading:
        ws.append([heading])
        ws["A1"].font = Font(bold=True, size=14)
    ws.append(headers)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append(row)
    for i, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[i - 1])) for r in rows[:200]]) + 4
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(60, width * 1.6)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
