"""Find card codes in photos of cards (phone uploads, webcam stills) with zbar.

Real photos are rotated, tilted, blurred, noisy, dim or show a small card on a large table; zbar reads a clean
image well, so this tries a sequence of cleaned-up variants, cheapest and likeliest first, and stops at the
first one that yields a card code.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image, ImageChops, ImageFilter, ImageOps, UnidentifiedImageError
from pyzbar.pyzbar import ZBarSymbol
from pyzbar.pyzbar import decode as zbar_decode

from cards.token import CardCodeError, extract_token

# zbar's time grows with the pixel count; a card QR stays readable at this size unless it is tiny in the frame,
# and for that case the full resolution is tried last.
WORKING_SIZE = 1600
MAX_PIXELS = 40_000_000


class NoCodeFound(ValueError):
    pass


def decode_photo(image_bytes: bytes) -> list[str]:
    """Return the card tokens found in the photo, in the order zbar found them; raise NoCodeFound if none."""
    gray = _load_gray(image_bytes)
    for candidate in _candidates(gray):
        tokens = _card_tokens(candidate)
        if tokens:
            return tokens
    raise NoCodeFound("no card code found in the photo")


def _load_gray(image_bytes: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(image_bytes))
        if image.width * image.height > MAX_PIXELS:
            raise NoCodeFound(f"photo too large: {image.width}x{image.height}")
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            # Transparent pixels are often black underneath: flatten on white like a viewer would.
            image = image.convert("RGBA")
            background = Image.new("RGBA", image.size, "white")
            image = Image.alpha_composite(background, image)
        return image.convert("L")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise NoCodeFound(f"not a readable image: {error}") from None


def _card_tokens(image: Image.Image) -> list[str]:
    tokens = []
    for symbol in zbar_decode(image, symbols=[ZBarSymbol.QRCODE]):
        try:
            token = extract_token(symbol.data.decode("utf-8"))
        except (UnicodeDecodeError, CardCodeError):
            continue  # some other QR code in the picture
        if token not in tokens:
            tokens.append(token)
    return tokens


def _candidates(gray: Image.Image) -> Iterator[Image.Image]:
    base = _fit(gray, WORKING_SIZE)
    yield base
    stretched = ImageOps.autocontrast(base, cutoff=1)
    yield stretched
    yield ImageOps.equalize(base)
    sharpened = _sharpen(stretched)
    yield sharpened
    for threshold in (96, 128, 160):
        yield _binarize(stretched, threshold)
    yield _adaptive_binarize(base)
    # Noise: a median filter removes speckles that break the finder patterns.
    yield sharpened.filter(ImageFilter.MedianFilter(3))
    yield stretched.filter(ImageFilter.MedianFilter(5))
    # Blur: a strong unsharp mask, then a threshold against the local mean, restores module edges.
    yield _adaptive_binarize(stretched.filter(ImageFilter.UnsharpMask(radius=3, percent=400, threshold=0)))
    # Blur and noise again: fewer, larger pixels average them out.
    for factor in (0.75, 0.5, 0.35):
        small = _scale(stretched, factor)
        yield small
        yield _sharpen(small)
        yield _adaptive_binarize(small)
    # A small code in a large photo needs the pixels the working size threw away.
    if max(gray.size) > WORKING_SIZE:
        full = ImageOps.autocontrast(gray, cutoff=1)
        yield full
        yield _adaptive_binarize(full)
    else:
        yield _scale(stretched, 2)


def _sharpen(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.UnsharpMask(radius=3, percent=200, threshold=0))


def _fit(image: Image.Image, size: int) -> Image.Image:
    factor = size / max(image.size)
    return _scale(image, factor) if factor < 1 else image


def _scale(image: Image.Image, factor: float) -> Image.Image:
    width, height = max(1, round(image.width * factor)), max(1, round(image.height * factor))
    return image.resize((width, height), Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.BICUBIC)


def _binarize(image: Image.Image, threshold: int) -> Image.Image:
    return image.point(lambda value: 255 if value >= threshold else 0)


def _adaptive_binarize(image: Image.Image) -> Image.Image:
    """Threshold each pixel against its neighbourhood's mean, which survives uneven light and shadows."""
    radius = max(8, min(image.size) // 40)
    local_mean = image.filter(ImageFilter.BoxBlur(radius))
    # (pixel - mean + 128) crosses 128 where the pixel crosses its local mean; a small bias keeps flat areas white.
    difference = ImageChops.subtract(image, local_mean, scale=1, offset=128)
    return difference.point(lambda value: 255 if value >= 122 else 0)
