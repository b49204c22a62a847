"""Chat between a mentor and a mentee (issue 8): threads, messages, reports."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

bp = Blueprint("chat", __name__, url_prefix="/mentor-hub")


def chat_panel(booking: Any, viewer: Any) -> dict[str, Any]:
    """What the session detail's panel needs (templates/sessions/_chat_link.html)."""
    return {}
