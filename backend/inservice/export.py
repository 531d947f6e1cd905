"""The yearly report as a spreadsheet for the member's employer (.xlsx, openpyxl). Pure: a report and the words to
label it in, in; the file's bytes out. The rows are the same as the printable page's."""
from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from backend.inservice.service import YearReport


def report_rows(report: YearReport, words: dict[str, str]) -> list[list]:
    """One row per month: month, day, how, project, in the window, late, points (what the page's table shows)."""
    rows = []
    for month, c in report.summary.months:
        if c is None:
            rows.append([month, words["not_checked_in"], "", "", "", "", 0])
        else:
            rows.append([month, c["day"].isoformat(), words[f"via_{c['via']}"], c["project_label"],
                         words["yes"] if c["in_window"] else words["no"], words["yes"] if c["late"] else words["no"],
                         c["points"]])
    return rows


def workbook(report: YearReport, words: dict[str, str]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = str(report.year)
    m = report.member
    sheet.append([words["title"]])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in ((words["name"], m["name"]), (words["employer"], m["employer"]), (words["branch"], m["branch"]),
                         (words["community"], m["community_name"]), (words["since"], m["since"].isoformat()),
                         (words["year"], report.year)):
        sheet.append([label, value])
    sheet.append([])
    header = [words[k] for k in ("month", "day", "via", "project", "in_window", "late", "points")]
    sheet.append(header)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in report_rows(report, words):
        sheet.append(row)
    sheet.append([])
    for label, value in ((words["due"], report.summary.due), (words["checked_in"], report.summary.checked_in),
                         (words["in_window_count"], report.summary.in_window),
                         (words["projects"], "、".join(report.projects)),
                         (words["check_in_points"], report.check_in_points), (words["points_earned"], report.points_earned)):
        sheet.append([label, value])
    for column, width in zip("ABCDEFG", (16, 14, 12, 36, 12, 10, 10)):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = BytesIO()
    book.save(out)
    return out.getvalue()
