"""Printable sheets of CR80 cards (85.6 x 54 mm), ten per A4 page, as SVG pages or one PDF.

Cards sit in a 2 x 5 grid with narrow gutters so the colour band can bleed past the cut; cut marks in the page
margin extend every cut line. All layout is in millimetres from the page's top-left corner.
"""

from __future__ import annotations

import io
import os
import unicodedata
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from cards.number import format_card_number
from cards.qr import BORDER, BULK_MASK, dark_runs, make_qr

AccountColour = Literal["red", "blue", "green", "organisation"]
COLOURS: dict[str, str] = {"red": "#C8102E", "blue": "#1F5AA6", "green": "#1E8449", "organisation": "#6B3FA0"}

PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
CARD_WIDTH, CARD_HEIGHT = 85.6, 54.0
COLUMNS, ROWS = 2, 5
CARDS_PER_PAGE = COLUMNS * ROWS
GUTTER_X, GUTTER_Y = 6.0, 2.0
BLEED = 1.0
MARGIN_X = (PAGE_WIDTH - COLUMNS * CARD_WIDTH - (COLUMNS - 1) * GUTTER_X) / 2
MARGIN_Y = (PAGE_HEIGHT - ROWS * CARD_HEIGHT - (ROWS - 1) * GUTTER_Y) / 2
CUT_MARK_OFFSET, CUT_MARK_LENGTH, CUT_MARK_WIDTH = 1.5, 5.0, 0.2

# Card face, relative to the card's top-left corner.
BAND_HEIGHT = 12.0
INSET = 4.0
QR_SIZE = 38.0  # including the quiet zone
QR_X, QR_Y = CARD_WIDTH - 2.0 - QR_SIZE, BAND_HEIGHT + 2.0
TEXT_WIDTH = QR_X - INSET
TITLE_SIZE, COMMUNITY_SIZE, NAME_SIZE, LABEL_SIZE, NUMBER_SIZE = 5.2, 3.2, 7.0, 2.6, 4.2
TITLE_BASELINE, NAME_BASELINE, COMMUNITY_BASELINE = 8.2, 25.0, 32.0
LABEL_BASELINE, NUMBER_BASELINE = 43.0, 49.0
TEXT_COLOUR = "#1A1A1A"
# Browsers fall back glyph by glyph along this list; cairosvg uses only the first family (fonts-noto-cjk).
SVG_FONT = (
    "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC','WenQuanYi Micro Hei',"
    "'Droid Sans Fallback',sans-serif"
)
# Embedded (subset) in the PDF when present, so every reader and print shop shows the same glyphs.
CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # Debian: fonts-droid-fallback
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian: fonts-wqy-microhei
)
# Otherwise a standard Adobe CJK font, not embedded: Acrobat, PDFium and macOS substitute it, but poppler shows
# empty boxes unless fontconfig offers it a Chinese font.
PDF_FALLBACK_FONT = "STSong-Light"
PDF_NUMBER_FONT = "Helvetica-Bold"
LATIN_FONT = "Helvetica"


@dataclass(frozen=True, slots=True)
class CardFace:
    holder_name: str
    colour: AccountColour
    community: str
    url: str  # what the QR code holds: the card URL with its signed token
    card_number: str
    # Printed labels; the caller passes them translated.
    title: str = "便民服务卡"
    number_label: str = "卡号"

    def __post_init__(self) -> None:
        if self.colour not in COLOURS:
            raise ValueError(f"colour must be one of {sorted(COLOURS)}, got {self.colour!r}")


def card_origin(slot: int) -> tuple[float, float]:
    """Top-left corner (mm) of the card in position `slot` (0-9, row by row) on its page."""
    row, column = divmod(slot % CARDS_PER_PAGE, COLUMNS)
    return MARGIN_X + column * (CARD_WIDTH + GUTTER_X), MARGIN_Y + row * (CARD_HEIGHT + GUTTER_Y)


def qr_box(slot: int) -> tuple[float, float, float]:
    """(x, y, size) in mm of the QR code, quiet zone included, of the card in position `slot` on its page."""
    x, y = card_origin(slot)
    return x + QR_X, y + QR_Y, QR_SIZE


def render_sheet_svg(faces: list[CardFace]) -> list[str]:
    """One SVG document per A4 page (sizes in mm)."""
    return [_svg_page(faces[i : i + CARDS_PER_PAGE]) for i in range(0, len(faces), CARDS_PER_PAGE)]


def render_sheet_pdf(faces: list[CardFace], *, font_path: str | None = None) -> bytes:
    """A multi-page A4 PDF. `font_path` is a TrueType font with Chinese glyphs to embed; by default the first of
    CJK_FONT_FILES that exists, else STSong-Light."""
    if not faces:
        raise ValueError("no cards to print")
    font = _register_pdf_font(font_path)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle("Linli cards")
    for start in range(0, len(faces), CARDS_PER_PAGE):
        _pdf_cut_marks(canvas)
        for slot, face in enumerate(faces[start : start + CARDS_PER_PAGE]):
            _pdf_card(canvas, face, *card_origin(slot), font)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _cut_marks() -> list[tuple[float, float, float, float]]:
    """Cut marks as lines (x1, y1, x2, y2), in the page margin on the extension of every cut line."""
    xs = [MARGIN_X + column * (CARD_WIDTH + GUTTER_X) + edge for column in range(COLUMNS) for edge in (0, CARD_WIDTH)]
    ys = [MARGIN_Y + row * (CARD_HEIGHT + GUTTER_Y) + edge for row in range(ROWS) for edge in (0, CARD_HEIGHT)]
    top, bottom, left, right = ys[0], ys[-1], xs[0], xs[-1]
    near, far = CUT_MARK_OFFSET, CUT_MARK_OFFSET + CUT_MARK_LENGTH
    lines = []
    for x in xs:
        lines += [(x, top - far, x, top - near), (x, bottom + near, x, bottom + far)]
    for y in ys:
        lines += [(left - far, y, left - near, y), (right + near, y, right + far, y)]
    return lines


def _fitted_size(width: float, size: float, max_width: float) -> float:
    """Shrink a font size so text of `width` (at `size`) fits `max_width`."""
    return size if width <= max_width else size * max_width / width


def _estimated_width(text: str, size: float) -> float:
    # SVG has no font metrics at hand: CJK glyphs are one em wide, Latin ones about 0.6 em.
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else 0.6 * size for ch in text)


# --- SVG ---------------------------------------------------------------------------------------------------------


def _svg_page(faces: list[CardFace]) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PAGE_WIDTH}mm" height="{PAGE_HEIGHT}mm" '
        f'viewBox="0 0 {PAGE_WIDTH} {PAGE_HEIGHT}" font-family="{SVG_FONT}">',
        f'<rect width="{PAGE_WIDTH}" height="{PAGE_HEIGHT}" fill="#FFF"/>',
        f'<path stroke="#000" stroke-width="{CUT_MARK_WIDTH}" d="'
        + "".join(f"M{x1:.2f} {y1:.2f}L{x2:.2f} {y2:.2f}" for x1, y1, x2, y2 in _cut_marks())
        + '"/>',
    ]
    for slot, face in enumerate(faces):
        parts.append(_svg_card(face, *card_origin(slot)))
    parts.append("</svg>")
    return "\n".join(parts)


def _svg_card(face: CardFace, x: float, y: float) -> str:
    colour = COLOURS[face.colour]
    number = format_card_number(face.card_number)
    qr = make_qr(face.url, mask=BULK_MASK)
    module = QR_SIZE / (len(qr.matrix[0]) + 2 * BORDER)
    qr_path = "".join(f"M{col} {row}h{length}v1h-{length}z" for row, col, length in dark_runs(qr))

    return "".join(
        [
            f'<g transform="translate({x:.2f} {y:.2f})">',
            f'<rect x="{-BLEED}" y="{-BLEED}" width="{CARD_WIDTH + 2 * BLEED}" height="{BAND_HEIGHT + BLEED}" '
            f'fill="{colour}"/>',
            _svg_text(face.title, TITLE_BASELINE, TITLE_SIZE, "#FFF", CARD_WIDTH - 2 * INSET, bold=True),
            _svg_text(face.holder_name, NAME_BASELINE, NAME_SIZE, TEXT_COLOUR, TEXT_WIDTH, bold=True),
            _svg_text(face.community, COMMUNITY_BASELINE, COMMUNITY_SIZE, TEXT_COLOUR, TEXT_WIDTH),
            _svg_text(face.number_label, LABEL_BASELINE, LABEL_SIZE, colour, TEXT_WIDTH),
            _svg_text(number, NUMBER_BASELINE, NUMBER_SIZE, TEXT_COLOUR, TEXT_WIDTH, bold=True),
            f'<g transform="translate({QR_X + BORDER * module:.3f} {QR_Y + BORDER * module:.3f}) scale({module:.5f})">',
            f'<path fill="#000" shape-rendering="crispEdges" d="{qr_path}"/></g>',
            "</g>",
        ]
    )


def _svg_text(value: str, baseline: float, size: float, fill: str, max_width: float, bold: bool = False) -> str:
    size = _fitted_size(_estimated_width(value, size), size, max_width)
    weight = ' font-weight="bold"' if bold else ""
    return f'<text x="{INSET}" y="{baseline}" font-size="{size:.2f}" fill="{fill}"{weight}>{escape(value)}</text>'


# --- PDF ---------------------------------------------------------------------------------------------------------


def _register_pdf_font(font_path: str | None) -> str:
    if font_path is None:
        font_path = next((path for path in CJK_FONT_FILES if os.path.exists(path)), None)
    if font_path is None:
        name, make_font = PDF_FALLBACK_FONT, lambda: UnicodeCIDFont(PDF_FALLBACK_FONT)
    else:
        name, make_font = f"CardFont:{font_path}", lambda: TTFont(f"CardFont:{font_path}", font_path)
    # Registration is global in reportlab and parsing a CJK font takes a while: do it once per process.
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(make_font())
    return name


def _font_runs(text: str, font_name: str) -> list[tuple[str, str]]:
    """Split text into (font, run) pieces: characters the font lacks (Droid Sans Fallback has CJK only) are set in
    Helvetica."""
    glyphs = getattr(getattr(pdfmetrics.getFont(font_name), "face", None), "charToGlyph", None)
    runs: list[tuple[str, str]] = []
    for ch in text:
        run_font = font_name if glyphs is None or ord(ch) in glyphs else LATIN_FONT
        if runs and runs[-1][0] == run_font:
            runs[-1] = (run_font, runs[-1][1] + ch)
        else:
            runs.append((run_font, ch))
    return runs


def _pdf_cut_marks(canvas: Canvas) -> None:
    canvas.setLineWidth(CUT_MARK_WIDTH * mm)
    canvas.setStrokeColor("#000000")
    canvas.lines([(x1 * mm, _pdf_y(y1), x2 * mm, _pdf_y(y2)) for x1, y1, x2, y2 in _cut_marks()])


def _pdf_y(y: float) -> float:
    return (PAGE_HEIGHT - y) * mm


def _pdf_card(canvas: Canvas, face: CardFace, x: float, y: float, font: str) -> None:
    colour = COLOURS[face.colour]
    canvas.setFillColor(colour)
    band_width, band_height = (CARD_WIDTH + 2 * BLEED) * mm, (BAND_HEIGHT + BLEED) * mm
    canvas.rect((x - BLEED) * mm, _pdf_y(y + BAND_HEIGHT), band_width, band_height, stroke=0, fill=1)

    def text(value: str, baseline: float, size: float, max_width: float, font_name: str = font) -> None:
        runs = _font_runs(value, font_name)
        size_pt = size * mm
        width = sum(pdfmetrics.stringWidth(run, run_font, size_pt) for run_font, run in runs)
        size_pt = _fitted_size(width, size_pt, max_width * mm)
        line = canvas.beginText((x + INSET) * mm, _pdf_y(y + baseline))
        for run_font, run in runs:
            line.setFont(run_font, size_pt)
            line.textOut(run)
        canvas.drawText(line)

    canvas.setFillColor("#FFFFFF")
    text(face.title, TITLE_BASELINE, TITLE_SIZE, CARD_WIDTH - 2 * INSET)
    canvas.setFillColor(TEXT_COLOUR)
    text(face.holder_name, NAME_BASELINE, NAME_SIZE, TEXT_WIDTH)
    text(face.community, COMMUNITY_BASELINE, COMMUNITY_SIZE, TEXT_WIDTH)
    text(format_card_number(face.card_number), NUMBER_BASELINE, NUMBER_SIZE, TEXT_WIDTH, PDF_NUMBER_FONT)
    canvas.setFillColor(colour)
    text(face.number_label, LABEL_BASELINE, LABEL_SIZE, TEXT_WIDTH)

    qr = make_qr(face.url, mask=BULK_MASK)
    module = QR_SIZE / (len(qr.matrix[0]) + 2 * BORDER)
    canvas.saveState()
    # Module units with y pointing down, so the runs are drawn with small integers.
    canvas.transform(
        module * mm, 0, 0, -module * mm, (x + QR_X + BORDER * module) * mm, _pdf_y(y + QR_Y + BORDER * module)
    )
    canvas.setFillColor("#000000")
    # One path of `re` operators written directly: reportlab's path object formats each float in Python, which
    # made the QR codes take most of the rendering time.
    canvas.addLiteral("".join(f"{col} {row} {length} 1 re\n" for row, col, length in dark_runs(qr)) + "f")
    canvas.restoreState()
