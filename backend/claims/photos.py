"""Evidence photos: checked, re-encoded and stored under the upload directory with a random name.

Re-encoding every upload (JPEG or PNG in, JPEG out, at most 1600 px on the long side) means what is kept is
pixels only: no EXIF (a phone's GPS position of the resident's home), no embedded scripts or odd formats, and a
predictable size. Files are served only through the claims' access-checked route, never as static files."""
from __future__ import annotations

import os
import re
import secrets
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from backend.errors import InvalidInput
from backend.settings import get_settings

MAX_MB = 8
MAX_BYTES = MAX_MB * 1024 * 1024
MAX_SIDE = 1600
# refuse to decode images that would take gigabytes in memory (a "decompression bomb" PNG is a few KB)
MAX_PIXELS = 50_000_000
FORMATS = ("JPEG", "PNG")
_NAME = re.compile(r"^[A-Za-z0-9_-]{22}\.jpg$")


def reencode(content: bytes) -> bytes:
    """The photo as a clean JPEG, upright, resized to fit MAX_SIDE; InvalidInput when it is not one we take."""
    if len(content) > MAX_BYTES:
        raise InvalidInput("file_too_large", field="photo", max_mb=MAX_MB)
    try:
        with Image.open(BytesIO(content)) as image:
            if image.format not in FORMATS:
                raise InvalidInput("photo_not_image", field="photo")
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput("photo_too_many_pixels", field="photo")
            upright = ImageOps.exif_transpose(image)  # phones store portrait photos sideways plus an EXIF turn
            upright.thumbnail((MAX_SIDE, MAX_SIDE))
            out = BytesIO()
            _flatten(upright).save(out, "JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput("photo_not_image", field="photo") from None
    return out.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no transparency, and a transparent PNG would otherwise turn black."""
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def folder() -> Path:
    return get_settings().upload_dir / "claims"


def store(jpeg: bytes) -> str:
    """Write the re-encoded photo under a random name (written whole, then renamed: never half a file)."""
    name = secrets.token_urlsafe(16) + ".jpg"
    target = folder()
    target.mkdir(parents=True, exist_ok=True)
    partial = target / f".{name}.part"
    partial.write_bytes(jpeg)
    os.replace(partial, target / name)
    return name


def path_of(name: str) -> Path:
    """The stored file; the name comes from the database, but is checked anyway so it can never leave the folder."""
    if not _NAME.match(name):
        raise InvalidInput("photo_not_image")
    return folder() / name


def remove(name: str) -> None:
    path_of(name).unlink(missing_ok=True)
