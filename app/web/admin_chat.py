"""Reported chat messages for admins (issue 8)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_chat", __name__, url_prefix="/admin/mentorship")
