"""What an upload may be, and the size of an image read from its first bytes."""

from __future__ import annotations

import struct

import pytest

from parley.chat.attachments import clean_filename, content_type_allowed
from parley.chat.imagesize import image_size
from parley.protocol.errors import BadRequest
from tests.support.images import png

pytestmark = pytest.mark.unit


def test_a_png_gives_its_size_from_its_header() -> None:
    assert image_size(png(640, 480)[:32]) == (640, 480)


def test_a_gif_gives_its_size_from_its_header() -> None:
    assert image_size(b"GIF89a" + struct.pack("<HH", 300, 200) + b"\x00" * 8) == (300, 200)


def test_a_jpeg_gives_its_size_from_its_frame_after_other_segments() -> None:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    sof0 = b"\xff\xc0" + struct.pack(">HBHH", 11, 8, 768, 1024) + b"\x01\x01\x11\x00"
    assert image_size(b"\xff\xd8" + app0 + sof0) == (1024, 768)


def test_a_webp_gives_its_size_in_each_of_its_three_encodings() -> None:
    riff = b"RIFF\x00\x00\x00\x00WEBP"
    lossy = riff + b"VP8 " + b"\x00" * 4 + b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", 50, 40)
    bits = (50 - 1) | ((40 - 1) << 14)
    lossless = riff + b"VP8L" + b"\x00" * 4 + b"\x2f" + bits.to_bytes(4, "little")
    extended = (
        riff + b"VP8X" + b"\x00" * 8 + (49).to_bytes(3, "little") + (39).to_bytes(3, "little")
    )

    assert image_size(lossy) == (50, 40)
    assert image_size(lossless) == (50, 40)
    assert image_size(extended) == (50, 40)


@pytest.mark.parametrize(
    "head", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a\x01"]
)
def test_anything_else_or_too_short_gives_no_size(head: bytes) -> None:
    assert image_size(head) is None


@pytest.mark.parametrize(
    ("content_type", "allowed"),
    [
        ("image/png", True),
        ("IMAGE/WEBP", True),
        ("application/pdf", True),
        ("text/html", False),
        ("application/x-msdownload", False),
        ("imagex/png", False),
    ],
)
def test_accepted_types_come_from_the_settings_with_families(content_type, allowed) -> None:
    assert content_type_allowed(content_type) is allowed


def test_a_filename_keeps_only_its_last_segment_and_printable_characters() -> None:
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\me\\photo 1.png") == "photo 1.png"
    assert clean_filename("bad\x00\x1bname.txt") == "badname.txt"


@pytest.mark.parametrize("name", ["", "   ", "dir/", "..", "\x07"])
def test_a_filename_with_nothing_left_is_refused(name: str) -> None:
    with pytest.raises(BadRequest):
        clean_filename(name)
