from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET

import cairosvg
import pytest
from PIL import Image

from cards import CardFace, card_number_from_serial, card_url, format_card_number, generate_card_id, sign_card
from cards.sheet import (
    CARD_HEIGHT,
    CARD_WIDTH,
    PAGE_HEIGHT,
    PAGE_WIDTH,
    card_origin,
    qr_box,
    render_sheet_pdf,
    render_sheet_svg,
)
from tests.cards.qr_decoders import both_decoders

DPI = 200
NAMES = ["张伟", "王秀英", "欧阳建国", "Li Ming", "阿依古丽·买买提", "李娜"]
COLOURS = ["red", "blue", "green", "organisation"]
requires_poppler = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs Debian poppler-utils")


@pytest.fixture(scope="module")
def faces(signing_key) -> list[CardFace]:
    return [
        CardFace(
            holder_name=NAMES[i % len(NAMES)],
            colour=COLOURS[i % len(COLOURS)],
            community="阳光社区居委会",
            url=card_url("https://linli.example.cn", sign_card(generate_card_id(), 1, signing_key[0])),
            card_number=card_number_from_serial(1000 + i),
        )
        for i in range(12)
    ]


@pytest.fixture(scope="module")
def pdf(faces) -> bytes:
    return render_sheet_pdf(faces)


def crop_mm(page: Image.Image, x: float, y: float, width: float, height: float) -> Image.Image:
    px = page.width / PAGE_WIDTH
    return page.crop((round(x * px), round(y * px), round((x + width) * px), round((y + height) * px)))


def assert_qr_codes_decode(pages: list[Image.Image], faces: list[CardFace]) -> None:
    for index, face in enumerate(faces):
        x, y, size = qr_box(index)
        code = crop_mm(pages[index // 10], x, y, size, size)
        assert both_decoders(code) == ([face.url], [face.url]), f"card {index}"


def test_layout_fits_a4_with_margins_for_cut_marks():
    for slot in range(10):
        x, y = card_origin(slot)
        assert 10 <= x and x + CARD_WIDTH <= PAGE_WIDTH - 10
        assert 8 <= y and y + CARD_HEIGHT <= PAGE_HEIGHT - 8
        qx, qy, size = qr_box(slot)
        assert x < qx and qx + size <= x + CARD_WIDTH and y < qy and qy + size <= y + CARD_HEIGHT


def test_svg_pages_and_their_qr_codes_decode(faces):
    pages = render_sheet_svg(faces)
    assert len(pages) == 2
    images = [
        Image.open(io.BytesIO(cairosvg.svg2png(bytestring=page.encode(), dpi=DPI))).convert("RGB") for page in pages
    ]
    assert abs(images[0].width - PAGE_WIDTH / 25.4 * DPI) < 2
    assert_qr_codes_decode(images, faces)


def test_svg_holds_the_card_text(faces):
    pages = render_sheet_svg(faces)
    texts = [element.text for page in pages for element in ET.fromstring(page).iter("{http://www.w3.org/2000/svg}text")]
    for face in faces:
        assert face.holder_name in texts and format_card_number(face.card_number) in texts
    assert texts.count("便民服务卡") == len(faces) and texts.count("卡号") == len(faces)


def test_labels_come_from_the_caller_and_text_is_escaped(faces):
    face = CardFace(
        "<Zhang & Wei>",
        "blue",
        'Sunshine "Community"',
        faces[0].url,
        faces[0].card_number,
        title="Convenience Service Card",
        number_label="Card no.",
    )
    page = render_sheet_svg([face])[0]
    texts = [element.text for element in ET.fromstring(page).iter("{http://www.w3.org/2000/svg}text")]
    assert {"<Zhang & Wei>", "Convenience Service Card", "Card no.", 'Sunshine "Community"'} <= set(texts)
    assert "便民服务卡" not in page


def test_unknown_colour_and_empty_sheet_are_rejected(faces):
    with pytest.raises(ValueError):
        CardFace("张伟", "purple", "阳光社区", faces[0].url, faces[0].card_number)  # type: ignore[arg-type]
    assert render_sheet_svg([]) == []
    with pytest.raises(ValueError):
        render_sheet_pdf([])


@requires_poppler
def test_pdf_pages_and_their_qr_codes_decode(pdf, faces, tmp_path):
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", "sheet.pdf", "page"], cwd=tmp_path, check=True)
    pages = [Image.open(path).convert("RGB") for path in sorted(tmp_path.glob("page-*.png"))]
    assert len(pages) == 2
    assert_qr_codes_decode(pages, faces)


@requires_poppler
def test_pdf_text_is_real_chinese_text(pdf, faces, tmp_path):
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", "sheet.pdf", "-"], cwd=tmp_path, check=True, capture_output=True).stdout
    text = text.decode("utf-8")
    for face in faces:
        assert face.holder_name in text and format_card_number(face.card_number) in text
    assert text.count("便民服务卡") == len(faces) and text.count("阳光社区居委会") == len(faces)


@requires_poppler
def test_pdf_embeds_a_chinese_font(pdf, tmp_path):
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", "sheet.pdf"], cwd=tmp_path, check=True, capture_output=True).stdout.decode()
    cjk = [line for line in fonts.splitlines() if "Droid" in line or "WenQuanYi" in line or "STSong" in line]
    assert cjk, fonts
    if "STSong" not in cjk[0]:
        assert " yes yes yes " in cjk[0], "embedded, subset, with a Unicode map"
