"""A printable award certificate (A4 landscape PDF). The CJK font is embedded the way the card sheets do it
(cards/sheet.py): a Chinese TrueType font from the system when there is one, else a standard Adobe CJK font."""
from __future__ import annotations

import io
import os

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from cards.sheet import CJK_FONT_FILES, PDF_FALLBACK_FONT

RED = "#a4161a"


def _font() -> str:
    path = next((p for p in CJK_FONT_FILES if os.path.exists(p)), None)
    name = f"CardFont:{path}" if path else PDF_FALLBACK_FONT
    # registration is global in reportlab and parsing a CJK font is slow: once per process
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, path) if path else UnicodeCIDFont(PDF_FALLBACK_FONT))
    return name


def _runs(text: str, font: str) -> list[tuple[str, str]]:
    """(font, text) pieces: characters the CJK font lacks (Droid Sans Fallback has no Latin digits) go in Helvetica."""
    glyphs = getattr(getattr(pdfmetrics.getFont(font), "face", None), "charToGlyph", None)
    runs: list[tuple[str, str]] = []
    for ch in text:
        run_font = font if glyphs is None or ord(ch) in glyphs else "Helvetica"
        if runs and runs[-1][0] == run_font:
            runs[-1] = (run_font, runs[-1][1] + ch)
        else:
            runs.append((run_font, ch))
    return runs


def _draw(canvas: Canvas, text: str, font: str, size: float, x: float, y: float, align: str = "centre") -> None:
    runs = _runs(text, font)
    width = sum(pdfmetrics.stringWidth(run, run_font, size) for run_font, run in runs)
    x = x - width / 2 if align == "centre" else x - width
    for run_font, run in runs:
        canvas.setFont(run_font, size)
        canvas.drawString(x, y, run)
        x += pdfmetrics.stringWidth(run, run_font, size)


def certificate_pdf(*, title: str, award: str, name: str, citation: str, issuer: str, date_text: str) -> bytes:
    font = _font()
    buffer = io.BytesIO()
    width, height = landscape(A4)
    canvas = Canvas(buffer, pagesize=(width, height))
    canvas.setTitle(f"{award} · {name}")
    canvas.setStrokeColor(RED)
    canvas.setLineWidth(6)
    canvas.rect(28, 28, width - 56, height - 56)
    canvas.setLineWidth(1.5)
    canvas.rect(40, 40, width - 80, height - 80)
    canvas.setFillColor(RED)
    _draw(canvas, title, font, 54, width / 2, height - 140)
    canvas.setFillColor("#1a1a1a")
    _draw(canvas, name, font, 40, width / 2, height - 240)
    _draw(canvas, citation, font, 22, width / 2, height - 300)
    canvas.setFillColor(RED)
    _draw(canvas, f"“{award}”", font, 44, width / 2, height - 380)
    canvas.setFillColor("#1a1a1a")
    _draw(canvas, issuer, font, 20, width - 90, 120, "right")
    _draw(canvas, date_text, font, 20, width - 90, 88, "right")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
