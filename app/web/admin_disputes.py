"""Disputed attendance records for admins (issue 8)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_disputes", __name__, url_prefix="/admin/mentorship")
