"""Cache-busted static URLs: vendor files by their build manifest, our own by content hash."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import current_app, url_for


@cache
def _manifest(static_folder: str) -> dict[str, str]:
    path = Path(static_folder) / "vendor" / "manifest.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text()))


@cache
def _content_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    """URL of a static asset that may be cached for a year.

    `asset_url("carbon.css")` resolves through static/vendor/manifest.json (hashed
    names from `make assets`); `asset_url("css/app.css")` appends ?v=<content hash>.
    """
    static_folder = str(current_app.static_folder)
    manifest = _manifest(static_folder)
    if name in manifest:
        return url_for("static", filename=manifest[name])
    full = Path(static_folder) / name
    if not full.is_file():
        raise FileNotFoundError(f"static asset {name!r} does not exist (run `make assets`?)")
    return url_for("static", filename=name, v=_content_hash(str(full)))
