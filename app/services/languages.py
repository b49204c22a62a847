"""The languages mentors can say they mentor in: one canonical spelling each, so the
directory's language filter matches what profiles store."""

from __future__ import annotations

LANGUAGES: tuple[str, ...] = (
    "Arabic",
    "Bengali",
    "Bulgarian",
    "Cantonese",
    "Czech",
    "Danish",
    "Dutch",
    "English",
    "Finnish",
    "French",
    "German",
    "Greek",
    "Gujarati",
    "Hebrew",
    "Hindi",
    "Hungarian",
    "Indonesian",
    "Italian",
    "Japanese",
    "Korean",
    "Malay",
    "Mandarin",
    "Marathi",
    "Norwegian",
    "Persian",
    "Polish",
    "Portuguese",
    "Punjabi",
    "Romanian",
    "Russian",
    "Spanish",
    "Swahili",
    "Swedish",
    "Tagalog",
    "Tamil",
    "Telugu",
    "Thai",
    "Turkish",
    "Ukrainian",
    "Urdu",
    "Vietnamese",
    "Yoruba",
)
_BY_LOWER = {name.lower(): name for name in LANGUAGES}
MAX_PER_MENTOR = 6


def canonical(raw: str) -> str | None:
    """The listed spelling of a language name, or None when it is not on the list."""
    return _BY_LOWER.get(raw.strip().lower())
