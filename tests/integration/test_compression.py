"""Static styles and scripts go out compressed; pages never do (they carry CSRF tokens)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import brotli

VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor"


def carbon_css() -> str:
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    name = next(v for k, v in manifest.items() if k.endswith(".css") and "carbon" in k)
    return "/static/vendor/" + name.split("/")[-1]


def test_the_carbon_stylesheet_is_sent_compressed_and_intact(client):
    path = carbon_css()
    plain = client.get(path)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    # Static files are streamed: deflate for a browser without brotli.
    packed = client.get(path, headers={"Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "deflate"
    assert "Accept-Encoding" in packed.headers.get("Vary", "")
    body = zlib.decompress(packed.data)
    assert body == plain.data
    assert len(packed.data) < len(plain.data) / 4


def test_brotli_when_the_browser_offers_it(client):
    response = client.get(carbon_css(), headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["Content-Encoding"] == "br"
    assert brotli.decompress(response.data) == client.get(carbon_css()).data


def test_pages_are_never_compressed(client_for):
    page = client_for("mentee").get("/mentor-hub/mentors", headers={"Accept-Encoding": "gzip, br"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Content-Encoding" not in page.headers
