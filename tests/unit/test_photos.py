"""Profile photos: only real, sane pictures get in, and nothing but their pixels survives."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from app.services import photos
from app.services.errors import ValidationFailed
from app.services.photos import PhotoLimits, PhotoStore

LIMITS = PhotoLimits(max_bytes=5 * 1024 * 1024, max_pixels=40_000_000)
RED, BLUE = (220, 30, 30), (20, 40, 220)


def jpeg(size: tuple[int, int] = (400, 200), *, orientation: int | None = None) -> bytes:
    """Top half red, bottom half blue; with camera EXIF (make, GPS) and an orientation."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0], size[1] // 2))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Industries"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPSInfo
    if orientation is not None:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif, comment=b"secret note")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit PNG of width x height that compresses to a few tens of kilobytes:
    rows are streamed into the compressor, the 400 megapixels are never allocated."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    idat = b"".join(parts)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def refused(data: bytes, limits: PhotoLimits = LIMITS) -> str:
    with pytest.raises(ValidationFailed) as info:
        photos.process(data, limits)
    message = info.value.field_errors["photo"]
    assert message == info.value.message
    return message


def test_a_text_file_named_like_a_photo_is_refused() -> None:
    message = refused(b"Dear diary, today I renamed a text file to holiday.jpg.\n" * 20)
    assert message == "That file is not a photo. Upload a JPEG, PNG or WebP image."


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_other_image_types_are_refused(fmt: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), RED).save(out, fmt)
    assert "not a photo" in refused(out.getvalue())


def test_an_svg_is_refused() -> None:
    assert "not a photo" in refused(b'<svg xmlns="http://www.w3.org/2000/svg"></svg>')


def test_an_empty_file_is_refused() -> None:
    assert refused(b"") == "Choose a photo to upload."


def test_a_30_mb_file_is_refused_before_decoding() -> None:
    data = jpeg() + b"\x00" * (30 * 1024 * 1024)
    assert "larger than 5 MB" in refused(data)


def test_the_size_message_follows_the_limit() -> None:
    data = jpeg() + b"\x00" * (3 * 1024 * 1024)
    assert "larger than 2 MB" in refused(data, PhotoLimits(2 * 1024 * 1024, 10**6))


def test_a_20000_by_20000_pixel_image_is_refused_from_its_header() -> None:
    data = huge_png()
    assert len(data) < 1024 * 1024  # small on disk: only the header gives it away
    message = refused(data)
    assert "too many pixels" in message
    assert "40 megapixels" in message


def test_a_picture_over_pillows_own_bomb_limit_is_refused_too() -> None:
    # Even with a generous configured cap, Pillow's DecompressionBombError is a refusal.
    assert "too many pixels" in refused(huge_png(30_000, 30_000), PhotoLimits(10**8, 10**10))


def test_a_truncated_photo_is_refused() -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    whole = jpeg((800, 600))
    message = refused(whole[: len(whole) // 2])
    assert "damaged or incomplete" in message


def test_a_truncated_png_is_refused() -> None:
    out = io.BytesIO()
    Image.effect_noise((300, 300), 64).save(out, "PNG")
    data = out.getvalue()
    assert refused(data[: len(data) // 2])


def test_a_valid_photo_comes_back_square_in_two_sizes_without_metadata() -> None:
    original = jpeg((400, 200))
    assert b"SpyCam" in original and b"secret note" in original
    result = photos.process(original, LIMITS)
    for data, side in ((result.full, 512), (result.thumb, 128)):
        assert b"SpyCam" not in data and b"secret note" not in data
        image = Image.open(io.BytesIO(data))
        assert image.format == "WEBP"
        assert image.size == (side, side)
        assert len(image.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)


def test_the_exif_orientation_is_applied_before_cropping() -> None:
    # Orientation 6: the camera was turned; viewers rotate the picture 90 degrees clockwise,
    # so the red top half ends up on the right.
    result = photos.process(jpeg((400, 200), orientation=6), LIMITS)
    image = Image.open(io.BytesIO(result.full)).convert("RGB")
    right, left = image.getpixel((450, 256)), image.getpixel((60, 256))
    assert isinstance(right, tuple) and isinstance(left, tuple)
    assert right[0] > 150 and right[2] < 100, right
    assert left[2] > 150 and left[0] < 100, left


def test_png_with_transparency_and_gif_first_frame_are_accepted() -> None:
    png = io.BytesIO()
    Image.new("RGBA", (100, 60), (0, 0, 0, 0)).save(png, "PNG")
    assert Image.open(io.BytesIO(photos.process(png.getvalue(), LIMITS).thumb)).size == (128, 128)
    gif = io.BytesIO()
    frames = [Image.new("P", (50, 50), i) for i in range(3)]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(photos.process(gif.getvalue(), LIMITS).full)).size == (512, 512)


def test_webp_input_is_accepted() -> None:
    out = io.BytesIO()
    Image.new("RGB", (700, 900), RED).save(out, "WEBP")
    assert photos.process(out.getvalue(), LIMITS).full


def test_the_store_saves_under_random_keys_and_deletes(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path / "uploads")
    processed = photos.process(jpeg(), LIMITS)
    first, second = store.save(processed), store.save(processed)
    assert first != second and photos.is_valid_key(first)
    assert store.path(first, "full").read_bytes() == processed.full
    assert store.path(first, "thumb").read_bytes() == processed.thumb
    store.delete(first)
    assert not store.path(first, "full").exists() and not store.path(first, "thumb").exists()
    assert store.path(second, "full").exists()
    store.delete(first)  # twice is fine
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == sorted(
        [f"{second}-full.webp", f"{second}-thumb.webp"]
    )


@pytest.mark.parametrize(
    ("key", "size"),
    [
        ("../../etc/passwd", "full"),
        ("0" * 32, "huge"),
        ("A" * 32, "full"),
        ("0" * 31, "thumb"),
        ("0" * 32 + "/..", "thumb"),
    ],
)
def test_the_store_refuses_keys_and_sizes_it_did_not_make(
    tmp_path: Path, key: str, size: str
) -> None:
    store = PhotoStore(tmp_path)
    with pytest.raises(ValueError, match="not a photo key"):
        store.path(key, size)
    store.delete(key)  # silently nothing
