"""Substring search with LIKE: the user's text is matched literally, never as a pattern."""

from __future__ import annotations

LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A lower-case `%text%` pattern with LIKE's wildcards in `text` escaped; use it with
    `func.lower(column).like(pattern, escape=LIKE_ESCAPE)`."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
