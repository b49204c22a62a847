"""Uploaded photos, served with long cache lifetimes (issue 6).

A photo's key is 128 random bits made by the server and a replaced photo gets a new
key, so a URL never changes meaning: it can be public and cached for a year. The key is
checked against its pattern before any path is built, so no request reaches outside
UPLOAD_DIR.

`save_upload` and `discard` are the helpers the forms that take a photo call: the first
turns a werkzeug FileStorage into a stored key (or a ValidationFailed with a `photo`
message), the second deletes the files of a replaced photo once the new key is committed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, send_file
from werkzeug.datastructures import FileStorage

from app.services import photos
from app.services.errors import ValidationFailed
from app.web.access import PUBLIC, allow

bp = Blueprint("media", __name__, url_prefix="/media")

ONE_YEAR = 31536000
# Multipart framing and the other small fields of a photo form, on top of the photo itself.
FORM_OVERHEAD_BYTES = 64 * 1024


def limits() -> photos.PhotoLimits:
    cfg = current_app.config
    return photos.PhotoLimits(
        max_bytes=int(cfg["PHOTO_MAX_BYTES"]), max_pixels=int(cfg["PHOTO_MAX_PIXELS"])
    )


def store() -> photos.PhotoStore:
    return photos.PhotoStore(Path(current_app.config["UPLOAD_DIR"]))


def request_size_cap() -> int:
    """The body size a photo form may send: the photo cap plus the form's framing."""
    return limits().max_bytes + FORM_OVERHEAD_BYTES


def too_large_message() -> str:
    return photos.too_large_message(limits().max_bytes)


def save_upload(file_storage: FileStorage | None) -> str:
    """Check, re-encode and store an uploaded photo; return its new key.

    Reads at most one byte more than the cap, so an oversized file is refused without
    being held in memory. Raises ValidationFailed (field `photo`) for a missing or empty
    file and for everything `photos.process` refuses."""
    if file_storage is None or not file_storage.filename:
        raise ValidationFailed(photos.EMPTY, field_errors={"photo": photos.EMPTY})
    cap = limits()
    data = file_storage.stream.read(cap.max_bytes + 1)
    processed = photos.process(data, cap)
    return store().save(processed)


def discard(key: str | None) -> None:
    """Delete the files of a photo that is no longer used (call after the commit)."""
    if key:
        store().delete(key)


@bp.get("/photos/<key>-<size>.webp")
@allow(PUBLIC)
def photo(key: str, size: str) -> Any:
    if not photos.is_valid_key(key) or size not in photos.SIZES:
        abort(404)
    path = store().path(key, size)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/webp", conditional=True, etag=True)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
