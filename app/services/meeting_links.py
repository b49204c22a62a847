"""Meeting links: https only, on an allow-listed video domain (DESIGN section 6).

A link is shown to both participants and mailed in calendar invites, so a typo or a
look-alike domain would send people to the wrong place; the allow-list keeps that
to the video services the program actually uses.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from app.services.errors import ValidationFailed

DEFAULT_DOMAINS: tuple[str, ...] = (
    "zoom.us",
    "meet.google.com",
    "teams.microsoft.com",
    "teams.live.com",
    "whereby.com",
    "meet.jit.si",
    "webex.com",
)
MAX_LENGTH = 500


def parse_domains(raw: str | None) -> tuple[str, ...]:
    """`MEETING_DOMAINS` as comma-separated domains; empty means the defaults."""
    names = tuple(d.strip().lower().lstrip(".") for d in (raw or "").split(",") if d.strip())
    return names or DEFAULT_DOMAINS


def _allowed(host: str, domains: tuple[str, ...]) -> bool:
    # A subdomain of an allowed domain is fine (us02web.zoom.us); "zoom.us.evil.example" is not.
    return any(host == d or host.endswith("." + d) for d in domains)


def normalize(raw: str, domains: tuple[str, ...], *, field: str = "meeting_url") -> str | None:
    """The link to store, or None when left empty. Raises ValidationFailed with a message."""
    text = (raw or "").strip()
    if not text:
        return None
    if len(text) > MAX_LENGTH:
        raise ValidationFailed(field_errors={field: f"Use at most {MAX_LENGTH} characters."})
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise ValidationFailed(
            field_errors={field: "Enter a full link, like https://zoom.us/j/123."}
        ) from None
    if parts.scheme.lower() != "https":
        raise ValidationFailed(field_errors={field: "The link must start with https://."})
    if not host or parts.username or parts.password or port not in (None, 443):
        raise ValidationFailed(
            field_errors={field: "Enter a full link, like https://zoom.us/j/123."}
        )
    if not _allowed(host, domains):
        raise ValidationFailed(
            field_errors={field: "Use a link from one of: " + ", ".join(domains) + "."}
        )
    return text
