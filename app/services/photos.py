"""Profile photos: check an upload, re-encode it, keep it under a server-made name.

An upload is untrusted bytes. The rules, in the order they are applied:

- the size is capped before anything is decoded (`PhotoLimits.max_bytes`);
- the type is decided by the content: Pillow must recognise a JPEG, PNG, WebP or GIF
  (its first frame); the file name and the browser's content type are ignored;
- the pixel count is read from the header and capped BEFORE the pixels are decoded, so a
  small file that inflates to gigabytes (a decompression bomb) never gets decoded;
- a truncated or damaged file is refused (a full decode is forced; Pillow's
  LOAD_TRUNCATED_IMAGES stays False);
- the EXIF orientation is applied, then the picture is re-encoded as WebP from its pixels
  only: GPS position, camera make, comments and every other piece of metadata are gone;
- it is centre-cropped to a square and kept in two sizes, `full` (512 px) and `thumb`
  (128 px), under a fresh random key, so a replaced photo never serves a stale cache.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageOps, UnidentifiedImageError

from app.services.errors import ValidationFailed

FULL_PX = 512
THUMB_PX = 128
SIZES = ("thumb", "full")
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
KEY_PATTERN = re.compile(r"^[0-9a-f]{32}$")
WEBP_QUALITY = 85

NOT_A_PHOTO = "That file is not a photo. Upload a JPEG, PNG or WebP image."
DAMAGED = "That photo is damaged or incomplete. Save it again, or choose another one."
EMPTY = "Choose a photo to upload."


class PhotoLimits(NamedTuple):
    max_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class ProcessedPhoto:
    """The two WebP renditions of one uploaded photo, metadata-free."""

    thumb: bytes
    full: bytes


def _megabytes(n: int) -> str:
    mb = n / (1024 * 1024)
    return f"{mb:.0f} MB" if mb >= 1 and mb == int(mb) else f"{mb:.1f} MB"


def too_large_message(max_bytes: int) -> str:
    """The sentence shown for a file over the size cap (the web layer reuses it for 413)."""
    return (
        f"That photo is larger than {_megabytes(max_bytes)}. "
        "Choose a smaller one, or export it at a lower resolution."
    )


def _too_many_pixels_message(max_pixels: int) -> str:
    return (
        f"That photo has too many pixels (the limit is {max_pixels // 1_000_000} megapixels). "
        "Export it at a lower resolution and try again."
    )


def _fail(message: str) -> ValidationFailed:
    return ValidationFailed(message, field_errors={"photo": message})


def process(data: bytes, limits: PhotoLimits) -> ProcessedPhoto:
    """Validate an uploaded photo and return its square WebP renditions.

    Raises ValidationFailed with a `photo` field error for an empty file, a file over
    `limits.max_bytes`, anything that is not a JPEG/PNG/WebP/GIF by content, a picture
    over `limits.max_pixels` (checked from the header, before decoding) and a truncated
    or damaged file."""
    if not data:
        raise _fail(EMPTY)
    if len(data) > limits.max_bytes:
        raise _fail(too_large_message(limits.max_bytes))
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise _fail(_too_many_pixels_message(limits.max_pixels)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _fail(NOT_A_PHOTO) from None
    with image:
        width, height = image.size
        if width < 1 or height < 1:
            raise _fail(NOT_A_PHOTO)
        if width * height > limits.max_pixels:
            raise _fail(_too_many_pixels_message(limits.max_pixels))
        try:
            image.seek(0)  # an animation keeps its first frame
            image.load()  # forces the full decode: a truncated file fails here
            upright = ImageOps.exif_transpose(image)
        except Image.DecompressionBombError:
            raise _fail(_too_many_pixels_message(limits.max_pixels)) from None
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombWarning):
            raise _fail(DAMAGED) from None
    pixels = _plain_pixels(upright)
    full = ImageOps.fit(pixels, (FULL_PX, FULL_PX), Image.Resampling.LANCZOS)
    thumb = full.resize((THUMB_PX, THUMB_PX), Image.Resampling.LANCZOS)
    return ProcessedPhoto(thumb=_webp(thumb), full=_webp(full))


def _plain_pixels(image: Image.Image) -> Image.Image:
    """A fresh RGB (or RGBA when it has transparency) image with no `info` carried over."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    converted = image.convert("RGBA" if has_alpha else "RGB")
    clean = Image.new(converted.mode, converted.size)
    clean.paste(converted)
    return clean


def _webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # No exif/icc_profile/xmp arguments: the encoder writes pixels only.
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    return out.getvalue()


class PhotoStore:
    """Photos on disk as `<root>/<key>-<size>.webp`; the key is 128 random bits."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def save(self, photo: ProcessedPhoto) -> str:
        """Write both renditions under a new random key and return the key."""
        self.root.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(16)
        for size, data in (("thumb", photo.thumb), ("full", photo.full)):
            self._write_atomically(self.path(key, size), data)
        return key

    def delete(self, key: str) -> None:
        """Remove both renditions; a missing file or an invalid key is not an error."""
        if not is_valid_key(key):
            return
        for size in SIZES:
            self.path(key, size).unlink(missing_ok=True)

    def path(self, key: str, size: str) -> Path:
        """Where a rendition lives. Raises ValueError for a key or size not made here
        (the key pattern is what keeps a request path out of other directories)."""
        if not is_valid_key(key) or size not in SIZES:
            raise ValueError("not a photo key or size")
        return self.root / f"{key}-{size}.webp"

    def _write_atomically(self, target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def is_valid_key(key: str | None) -> bool:
    return bool(key) and KEY_PATTERN.fullmatch(key or "") is not None
