"""A mentor's photo in a real browser: a file over the cap is refused before it is sent;
a real photo uploads and shows in the live preview."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.conftest import MENTOR, sign_in, visit

pytestmark = pytest.mark.e2e


def png(size: int = 400) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (15, 98, 254)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_photo_too_large_is_refused_before_upload_and_a_good_one_is_kept(page: Page) -> None:
    sign_in(page, MENTOR)
    visit(page, "/mentor-hub/profile")
    uploads: list[str] = []
    page.on(
        "request",
        lambda r: uploads.append(r.url) if r.method == "POST" and "/photo" in r.url else None,
    )

    field = page.locator("#photo-file")
    field.set_input_files(
        {
            "name": "huge.jpg",
            "mimeType": "image/jpeg",
            "buffer": b"\xff\xd8" + b"0" * (6 * 1024 * 1024),
        }
    )
    expect(page.locator("#photo-file-error")).to_contain_text("larger than 5 MB")
    expect(field).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Upload photo").click()
    expect(page.locator("#photo-file-error")).to_contain_text("larger than 5 MB")
    assert uploads == []  # nothing was sent

    field.set_input_files({"name": "me.png", "mimeType": "image/png", "buffer": png()})
    if not uploads:  # the form may upload on choosing; otherwise press the button
        page.get_by_role("button", name="Upload photo").click()
    expect(page.locator("#profile-photo img.mh-avatar--photo")).to_be_visible()
    src = page.locator("#profile-photo img.mh-avatar--photo").get_attribute("src") or ""
    assert re.search(r"/media/photos/[0-9a-f]{32}-(full|thumb)\.webp$", src)
