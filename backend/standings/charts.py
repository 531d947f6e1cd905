"""Server-rendered SVG charts: no script, readable on a phone and a TV, with a title and description for screen
readers (the pages also show the numbers as a table)."""
from __future__ import annotations

from html import escape
from itertools import count

_ids = count(1)
BAR = "#a4161a"  # the site's red: 7.6:1 on white
INK = "#1a1a1a"


def _nice_max(value: int) -> int:
    """A round top for the axis: 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(title: str, desc: str, labels: list[str], values: list[int], width: int = 640, height: int = 280) -> str:
    """Vertical bars, one per label (months), value written above each bar."""
    uid = next(_ids)
    left, right, top, bottom = 48, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max(values, default=0))
    slot = plot_w / max(1, len(values))
    bar_w = slot * 0.62
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="chart-t{uid} chart-d{uid}">',
             f'<title id="chart-t{uid}">{escape(title)}</title><desc id="chart-d{uid}">{escape(desc)}</desc>']
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#767676" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 5:.1f}" text-anchor="end" font-size="14" fill="{INK}">'
                     f'{round(top_value * fraction)}</text>')
    for i, (label, value) in enumerate(zip(labels, values)):
        h = plot_h * value / top_value if value > 0 else 0
        x = left + slot * i + (slot - bar_w) / 2
        parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{BAR}"/>')
        if value:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 6:.1f}" text-anchor="middle" '
                         f'font-size="13" fill="{INK}">{value}</text>')
        parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{height - bottom + 20:.1f}" text-anchor="middle" font-size="14" '
                     f'fill="{INK}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def share_chart(title: str, desc: str, items: list[tuple[str, int]], width: int = 640) -> str:
    """Horizontal bars for a mix (categories), with each share in per cent."""
    uid = next(_ids)
    row, label_w, top = 34, 150, 10
    height = top * 2 + row * max(1, len(items))
    total = sum(v for _, v in items) or 1
    biggest = max((v for _, v in items), default=1) or 1
    plot_w = width - label_w - 110
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-labelledby="chart-t{uid} chart-d{uid}">',
             f'<title id="chart-t{uid}">{escape(title)}</title><desc id="chart-d{uid}">{escape(desc)}</desc>']
    for i, (label, value) in enumerate(items):
        y = top + row * i
        w = plot_w * value / biggest
        parts.append(f'<text x="{label_w - 8}" y="{y + 22}" text-anchor="end" font-size="16" fill="{INK}">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 6}" width="{w:.1f}" height="22" fill="{BAR}"/>')
        parts.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 22}" font-size="15" fill="{INK}">'
                     f'{value} ({100 * value / total:.0f}%)</text>')
    parts.append("</svg>")
    return "".join(parts)
