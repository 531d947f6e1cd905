"""Two independent QR decoders, so a code that only one library reads does not pass."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image
from pyzbar.pyzbar import ZBarSymbol
from pyzbar.pyzbar import decode as zbar_decode


def as_image(image: Image.Image | bytes) -> Image.Image:
    """The image flattened on white, as it would look printed or on screen."""
    image = image if isinstance(image, Image.Image) else Image.open(io.BytesIO(image))
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    return image


def zbar_texts(image: Image.Image | bytes) -> list[str]:
    return [symbol.data.decode("utf-8") for symbol in zbar_decode(as_image(image), symbols=[ZBarSymbol.QRCODE])]


def zxing_texts(image: Image.Image | bytes) -> list[str]:
    gray = as_image(image).convert("L")
    return [result.text for result in zxingcpp.read_barcodes(gray, formats=zxingcpp.BarcodeFormat.QRCode)]


def both_decoders(image: Image.Image | bytes) -> tuple[list[str], list[str]]:
    return zbar_texts(image), zxing_texts(image)
