"""Goals and action items of a mentor and mentee pair (issue 8)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

bp = Blueprint("goals", __name__, url_prefix="/mentor-hub")


def goals_panel(booking: Any, viewer: Any) -> dict[str, Any]:
    """What the session detail's panel needs (templates/sessions/_goals.html)."""
    return {}
