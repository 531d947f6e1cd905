"""Degraded "phone photos" of a card, generated deterministically for the photo decoding tests and benchmark."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator

import cairosvg
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from cards import CardFace, card_number_from_serial
from cards.sheet import CARD_HEIGHT, CARD_WIDTH, PAGE_WIDTH, card_origin, render_sheet_svg

Degrade = Callable[[Image.Image, random.Random], Image.Image]

# A close phone photo after the upload's downscaling: a QR module is about 6 px.
PHOTO_DPI = 220


def printed_card(url: str, dpi: int = PHOTO_DPI) -> Image.Image:
    """A real printed card: the first card of a rendered sheet page."""
    face = CardFace("王秀英", "red", "阳光社区居委会", url, card_number_from_serial(4711))
    page = Image.open(io.BytesIO(cairosvg.svg2png(bytestring=render_sheet_svg([face])[0].encode(), dpi=dpi)))
    page = page.convert("RGB")
    px = page.width / PAGE_WIDTH
    x, y = card_origin(0)
    return page.crop((round(x * px), round(y * px), round((x + CARD_WIDTH) * px), round((y + CARD_HEIGHT) * px)))


def _table(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A cluttered background: a brown table with some objects, so the card is not alone on white.

    Drawn at a quarter of the size and enlarged, which softens it like an out-of-focus background (and is fast).
    """
    small = (max(1, size[0] // 4), max(1, size[1] // 4))
    table = Image.new("RGB", small, (150, 120, 90))
    draw = ImageDraw.Draw(table)
    for _ in range(40):
        x, y = rng.randrange(small[0]), rng.randrange(small[1])
        w, h = rng.randrange(5, max(6, small[0] // 4)), rng.randrange(5, max(6, small[1] // 4))
        shade = tuple(rng.randrange(60, 220) for _ in range(3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)((x, y, x + w, y + h), fill=shade)
    return table.resize(size, Image.Resampling.BILINEAR)


def _on_table(card: Image.Image, rng: random.Random) -> Image.Image:
    """The card in the middle of a table, with a quarter of its size as margin on each side."""
    size = (round(card.width * 1.5), round(card.height * 1.5))
    photo = _table(size, rng)
    photo.paste(card, ((size[0] - card.width) // 2, (size[1] - card.height) // 2))
    return photo


def rotated(angle: float) -> Degrade:
    def apply(card: Image.Image, rng: random.Random) -> Image.Image:
        photo = _on_table(card, rng)
        return photo.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(150, 120, 90))

    return apply


def perspective(strength: float) -> Degrade:
    """The card seen from an angle: the right edge pushed away, appearing 1 / (1 + strength) as tall."""

    def apply(card: Image.Image, rng: random.Random) -> Image.Image:
        photo = _on_table(card, rng)
        w, h = photo.size
        d = strength * h / 2
        # Output corners (tl, tr, br, bl) map to these input corners: the right edge appears shorter.
        src = [(0, 0), (w, -d), (w, h + d), (0, h)]
        dst = [(0, 0), (w, 0), (w, h), (0, h)]
        coefficients = _coefficients(dst, src)
        return photo.transform(
            photo.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC, fillcolor=(150, 120, 90)
        )

    return apply


def blurred(radius: float) -> Degrade:
    return lambda card, rng: _on_table(card, rng).filter(ImageFilter.GaussianBlur(radius))


def noisy(amplitude: int) -> Degrade:
    return lambda card, rng: _add_noise(_on_table(card, rng), rng, amplitude)


def dim(low: int, high: int) -> Degrade:
    """Low contrast in a dark room: every level squeezed into [low, high]."""

    def apply(card: Image.Image, rng: random.Random) -> Image.Image:
        photo = _on_table(card, rng)
        return photo.point(lambda v: low + v * (high - low) // 255)

    return apply


def jpeg(quality: int, factor: float) -> Degrade:
    def apply(card: Image.Image, rng: random.Random) -> Image.Image:
        photo = _on_table(card, rng)
        photo = photo.resize((round(photo.width * factor), round(photo.height * factor)), Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue()))

    return apply


def small_in_large(card_width: int, photo_size: tuple[int, int]) -> Degrade:
    def apply(card: Image.Image, rng: random.Random) -> Image.Image:
        photo = _table(photo_size, rng)
        small = card.resize((card_width, round(card.height * card_width / card.width)), Image.Resampling.LANCZOS)
        x = rng.randrange(photo_size[0] - small.width)
        y = rng.randrange(photo_size[1] - small.height)
        photo.paste(small, (x, y))
        return photo

    return apply


def phone_photo(angle: float, strength: float, radius: float, amplitude: int, quality: int) -> Degrade:
    """Several defects at once, as a hurried phone photo has them."""

    def apply(card: Image.Image, rng: random.Random) -> Image.Image:
        photo = perspective(strength)(card, rng)
        photo = photo.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(150, 120, 90))
        photo = photo.filter(ImageFilter.GaussianBlur(radius))
        photo = _add_noise(photo, rng, amplitude)
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue()))

    return apply


def _add_noise(photo: Image.Image, rng: random.Random, amplitude: int) -> Image.Image:
    photo = photo.convert("L")
    # Sum of two uniform bytes: a triangular, roughly Gaussian, noise centred on 0.
    a = Image.frombytes("L", photo.size, rng.randbytes(photo.width * photo.height))
    b = Image.frombytes("L", photo.size, rng.randbytes(photo.width * photo.height))
    noise = ImageChops.add(a, b, scale=2).point(lambda v: 128 + (v - 127) * amplitude // 64)
    return ImageChops.add(photo, noise, scale=1, offset=-128)


# Category -> variants, for a card image about 740 px wide; "small" puts the card far away in a 12-megapixel frame.
CATEGORIES: dict[str, list[Degrade]] = {
    "rotation": [rotated(a) for a in (15, 24, 32, 40)],
    "perspective": [perspective(s) for s in (0.1, 0.2, 0.3, 0.4)],
    # zbar's limit is a blur radius of about half a module (3 px here): the last variant is beyond it on purpose.
    "blur": [blurred(r) for r in (1.5, 2.5, 3.0, 4.0)],
    "noise": [noisy(a) for a in (30, 50, 70, 90)],
    "dim": [dim(40, 100), dim(20, 60), dim(100, 140), dim(0, 30)],
    "jpeg": [jpeg(q, f) for q, f in ((20, 1.0), (10, 0.8), (5, 0.7), (15, 0.5))],
    "small": [small_in_large(w, (4000, 3000)) for w in (900, 700, 550, 450)],
    "phone": [phone_photo(12, 0.2, 1.5, 30, 40), phone_photo(-25, 0.3, 2.0, 40, 25)],
}


def samples(card: Image.Image, seed: int = 1) -> Iterator[tuple[str, int, bytes]]:
    """(category, variant index, JPEG bytes as a phone would upload them) for every variant of the card image."""
    for category, variants in CATEGORIES.items():
        for index, degrade in enumerate(variants):
            rng = random.Random(f"{seed}-{category}-{index}")
            photo = degrade(card.convert("RGB"), rng)
            buffer = io.BytesIO()
            photo.convert("RGB").save(buffer, "JPEG", quality=90)
            yield category, index, buffer.getvalue()


def _coefficients(target: list[tuple[float, float]], source: list[tuple[float, float]]) -> list[float]:
    """Pillow's PERSPECTIVE coefficients mapping output points `target` to input points `source`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return _solve(rows, rhs)


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8x8): numpy is not a dependency."""
    n = len(rhs)
    a = [row[:] + [value] for row, value in zip(matrix, rhs)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col:
                f = a[r][col] / a[col][col]
                a[r] = [x - f * y for x, y in zip(a[r], a[col])]
    return [a[r][n] / a[r][r] for r in range(n)]
