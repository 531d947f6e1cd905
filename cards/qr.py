"""QR codes for card URLs. Always full QR (segno.make_qr): segno.make() picks Micro QR for short text,
which pyzbar and most phone cameras cannot read."""

from __future__ import annotations

import io

import segno

ERROR_LEVEL = "m"
BORDER = 4  # the quiet zone the QR specification requires, in modules
# Choosing the mask dominates segno's time. For bulk printing use this one: it is the mask segno itself picks
# most often for card URLs.
BULK_MASK = 2


def make_qr(url: str, *, mask: int | None = None) -> segno.QRCode:
    return segno.make_qr(url, error=ERROR_LEVEL, mask=mask)


def qr_svg(url: str, *, scale: float = 4, mask: int | None = None) -> str:
    buffer = io.BytesIO()
    # An opaque light colour: a transparent code placed on a dark background would not scan.
    make_qr(url, mask=mask).save(buffer, kind="svg", scale=scale, border=BORDER, dark="#000", light="#fff")
    return buffer.getvalue().decode("utf-8")


def qr_png(url: str, *, scale: int = 8, mask: int | None = None) -> bytes:
    buffer = io.BytesIO()
    make_qr(url, mask=mask).save(buffer, kind="png", scale=scale, border=BORDER, dark="#000", light="#fff")
    return buffer.getvalue()


def dark_runs(qr: segno.QRCode) -> list[tuple[int, int, int]]:
    """The dark modules as horizontal runs (row, first column, length), without the quiet zone.

    Drawing runs instead of single modules keeps card sheets small and fast to render.
    """
    runs = []
    for row, modules in enumerate(qr.matrix):
        start = None
        for col, dark in enumerate(modules):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                runs.append((row, start, col - start))
                start = None
        if start is not None:
            runs.append((row, start, len(modules) - start))
    return runs
