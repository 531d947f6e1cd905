"""Seconds to render 1,000 cards as a PDF and as SVG pages.

Usage: .venv/bin/python benchmarks/cards_sheet.py [cards]   (default 1000)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cards import (  # noqa: E402
    CardFace,
    card_number_from_serial,
    card_url,
    generate_card_id,
    new_signing_key,
    render_sheet_pdf,
    render_sheet_svg,
    sign_card,
)

NAMES = ["张伟", "王秀英", "李娜", "欧阳建国", "刘洋", "陈静"]
COLOURS = ["red", "blue", "green", "organisation"]


def main(count: int) -> None:
    private_key, _ = new_signing_key()
    started = time.perf_counter()
    faces = [
        CardFace(
            holder_name=NAMES[i % len(NAMES)],
            colour=COLOURS[i % len(COLOURS)],
            community="阳光社区居委会",
            url=card_url("https://linli.example.cn", sign_card(generate_card_id(), 1, private_key)),
            card_number=card_number_from_serial(100_000 + i),
        )
        for i in range(count)
    ]
    print(f"sign {count} tokens:  {time.perf_counter() - started:6.2f} s")

    started = time.perf_counter()
    pdf = render_sheet_pdf(faces)
    print(f"PDF, {count} cards:   {time.perf_counter() - started:6.2f} s  ({len(pdf) / 1e6:.1f} MB, cold: font loaded)")

    started = time.perf_counter()
    pages = render_sheet_svg(faces)
    size = sum(len(page.encode()) for page in pages)
    print(f"SVG, {count} cards:   {time.perf_counter() - started:6.2f} s  ({len(pages)} pages, {size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
