"""Generate Linli's app icons into frontend/static/icons/ (the PNGs and the SVG are committed).

Design: the scheme's deep red, a white house with a red heart in it ("neighbours who care").
One geometry in a 100x100 design space feeds both the SVG and the PNGs (drawn 4x larger, then downscaled
for smooth edges). Run: /work/main/.venv/bin/python frontend/make_icons.py
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent / "static" / "icons"
RED = "#a4161a"
WHITE = "#ffffff"
SUPERSAMPLE = 4

Point = tuple[float, float]

# House: roof with eaves and a body, centred on (50, 50), spanning x 12..88 and y 16..84.
HOUSE: list[Point] = [(50, 16), (88, 50), (78, 50), (78, 84), (22, 84), (22, 50), (12, 50)]


def heart(cx: float = 50, cy: float = 65, scale: float = 1.0, steps: int = 120) -> list[Point]:
    """The classic parametric heart, centred on (cx, cy)."""
    pts = []
    for i in range(steps):
        t = 2 * math.pi * i / steps
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        pts.append((cx + x * scale, cy - (y + 2.5) * scale))  # +2.5 centres it vertically
    return pts


def transform(points: list[Point], scale: float, size: int) -> list[Point]:
    """Design space (100x100, motif centred on 50,50) -> pixels, shrinking the motif about the centre."""
    k = size / 100
    return [((50 + (x - 50) * scale) * k, (50 + (y - 50) * scale) * k) for x, y in points]


def render(size: int, *, motif_scale: float, corner: float) -> Image.Image:
    """corner: corner radius as a fraction of size (0 = full-bleed square)."""
    big = size * SUPERSAMPLE
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if corner:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=round(corner * big), fill=RED)
    else:
        draw.rectangle((0, 0, big, big), fill=RED)
    draw.polygon(transform(HOUSE, motif_scale, big), fill=WHITE)
    draw.polygon(transform(heart(), motif_scale, big), fill=RED)
    return img.resize((size, size), Image.LANCZOS)


def svg() -> str:
    def pts(points: list[Point]) -> str:
        return " ".join(f"{x:.2f},{y:.2f}" for x, y in points)

    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" role="img" aria-label="Linli">\n'
        f'  <rect width="100" height="100" rx="18" fill="{RED}"/>\n'
        f'  <polygon points="{pts(transform(HOUSE, 0.9, 100))}" fill="{WHITE}"/>\n'
        f'  <polygon points="{pts(transform(heart(steps=60), 0.9, 100))}" fill="{RED}"/>\n'
        "</svg>\n"
    )


def max_radius(scale: float) -> float:
    """Farthest motif point from the centre, as a fraction of the icon size."""
    return max(math.hypot(x - 50, y - 50) for x, y in transform(HOUSE, scale, 100)) / 100


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    # Maskable: full-bleed background, motif inside the central 80% circle (radius 0.40) with a margin.
    maskable_scale = 0.75
    assert max_radius(maskable_scale) < 0.40, max_radius(maskable_scale)
    icons = {
        "icon-192.png": render(192, motif_scale=0.9, corner=0.18),
        "icon-512.png": render(512, motif_scale=0.9, corner=0.18),
        "maskable-512.png": render(512, motif_scale=maskable_scale, corner=0),
        "apple-touch-icon-180.png": render(180, motif_scale=0.8, corner=0),  # iOS rounds corners itself
        "favicon-32.png": render(32, motif_scale=1.0, corner=0.12),
    }
    for name, img in icons.items():
        if name.startswith(("maskable", "apple")):
            img = img.convert("RGB")  # no transparency where the platform masks the icon
        img.save(OUT / name, optimize=True)
    (OUT / "icon.svg").write_text(svg(), encoding="utf-8")


if __name__ == "__main__":
    main()
