"""Feedback on sessions and the mentee's answer to attendance records (issue 8)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

bp = Blueprint("feedback", __name__, url_prefix="/mentor-hub")


def feedback_panel(booking: Any, viewer: Any) -> dict[str, Any]:
    """What the session detail's panel needs (templates/sessions/_feedback.html)."""
    return {}
