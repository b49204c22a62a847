"""Pairs at risk for admins, with a one-click nudge (issue 8)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_pairs", __name__, url_prefix="/admin/mentorship")
