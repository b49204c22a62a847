"""Settings, read from the environment once at start-up.

Every variable is documented in README.md ("Configuration"). Development is the
default so that `make run` works on a fresh machine; production refuses to start
without a SECRET_KEY.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"

ENVIRONMENTS = ("development", "production", "testing")
DEV_SECRET = "dev-only-secret-key-not-for-production"  # noqa: S105 - development default


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"expected a whole number, got {value!r}") from exc


# issue 10: error tracking
def _sample_rate(value: str | None) -> float:
    """SENTRY_TRACES_SAMPLE_RATE: a share of requests traced, 0 (the default) to 1."""
    if value is None or value.strip() == "":
        return 0.0
    try:
        rate = float(value)
    except ValueError as exc:
        raise ConfigError(f"expected a number from 0 to 1, got {value!r}") from exc
    if not 0.0 <= rate <= 1.0:
        raise ConfigError(f"SENTRY_TRACES_SAMPLE_RATE must be from 0 to 1, got {value!r}")
    return rate


# end issue 10: error tracking


@dataclass(frozen=True)
class CommunityLink:
    label: str
    url: str


def parse_community_links(raw: str | None) -> list[CommunityLink]:
    """COMMUNITY_LINKS: a JSON list of {"label", "url"} objects, or "Label|url;Label|url"."""
    if not raw:
        return [
            CommunityLink("Forums", "https://community.example.org/forums"),
            CommunityLink("Events", "https://community.example.org/events"),
            CommunityLink("Blog", "https://community.example.org/blog"),
        ]
    raw = raw.strip()
    if raw.startswith("["):
        return [CommunityLink(str(i["label"]), str(i["url"])) for i in json.loads(raw)]
    links = []
    for part in raw.split(";"):
        if "|" in part:
            label, url = part.split("|", 1)
            links.append(CommunityLink(label.strip(), url.strip()))
    return links


def normalize_database_url(url: str) -> str:
    """Accept the common postgres:// spellings and route them through psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config mapping from the environment plus explicit overrides."""
    env = os.environ
    overrides = overrides or {}
    app_env = overrides.get("ENV_NAME") or env.get("MENTORHUB_ENV", "development")
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"MENTORHUB_ENV must be one of {', '.join(ENVIRONMENTS)}")
    production = app_env == "production"

    secret = env.get("SECRET_KEY", "")
    if not secret:
        if production and "SECRET_KEY" not in overrides:
            raise ConfigError("SECRET_KEY must be set in production")
        secret = DEV_SECRET

    default_db = f"sqlite:///{INSTANCE / 'mentorhub.db'}"
    mail_server = env.get("MAIL_SERVER", "")

    cfg: dict[str, Any] = {
        "ENV_NAME": app_env,
        "SECRET_KEY": secret,
        "DATABASE_URL": normalize_database_url(env.get("DATABASE_URL", default_db)),
        "BASE_URL": env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # Mail: with no MAIL_SERVER, messages are kept on disk and listed at /dev/mail.
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _int(env.get("MAIL_PORT"), 587),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), True),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL"), False),
        "MAIL_FROM": env.get("MAIL_FROM", "MentorHub <no-reply@mentorhub.test>"),
        "MAIL_KEEP_DIR": env.get("MAIL_KEEP_DIR", str(INSTANCE / "mail")),
        "REGISTRATION_OPEN": _bool(env.get("REGISTRATION_OPEN"), True),
        "LOGIN_TOKEN_MINUTES": _int(env.get("LOGIN_TOKEN_MINUTES"), 15),
        "REDIS_URL": env.get("REDIS_URL", ""),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "SIGNIN_LIMIT_PER_EMAIL": env.get("SIGNIN_LIMIT_PER_EMAIL", "5 per 15 minutes"),
        "SIGNIN_LIMIT_PER_IP": env.get("SIGNIN_LIMIT_PER_IP", "20 per 15 minutes"),
        # Proxies in front of the app that set X-Forwarded-For/-Proto/-Host (0: none, the
        # client is the TCP peer). Without it, behind a load balancer every request seems to
        # come from the proxy: per-IP limits would count all members together.
        "TRUSTED_PROXY_HOPS": _int(env.get("TRUSTED_PROXY_HOPS"), 0),
        "SCHEDULER_ENABLED": _bool(env.get("SCHEDULER_ENABLED"), app_env != "testing"),
        "SCHEDULER_HEARTBEAT_SECONDS": _int(env.get("SCHEDULER_HEARTBEAT_SECONDS"), 30),
        "COMMUNITY_NAME": env.get("COMMUNITY_NAME", "Community"),
        # Booking policy (DESIGN section 4); each refusal tells the member what to do instead.
        "BOOKING_MAX_ACTIVE_PER_MENTEE": _int(env.get("BOOKING_MAX_ACTIVE_PER_MENTEE"), 3),
        "BOOKING_MAX_NEW_PER_HOUR": _int(env.get("BOOKING_MAX_NEW_PER_HOUR"), 3),
        "MENTEE_CUTOFF_HOURS": _int(env.get("MENTEE_CUTOFF_HOURS"), 24),
        "ATTENDANCE_WINDOW_DAYS": _int(env.get("ATTENDANCE_WINDOW_DAYS"), 14),
        # Notifications (DESIGN section 5): delivery retries, reminders, prompts.
        "NOTIFY_MAX_ATTEMPTS": _int(env.get("NOTIFY_MAX_ATTEMPTS"), 8),
        "NOTIFY_BATCH_SIZE": _int(env.get("NOTIFY_BATCH_SIZE"), 100),
        "NOTIFY_BACKOFF_BASE_SECONDS": _int(env.get("NOTIFY_BACKOFF_BASE_SECONDS"), 60),
        "NOTIFY_BACKOFF_MAX_SECONDS": _int(env.get("NOTIFY_BACKOFF_MAX_SECONDS"), 6 * 3600),
        # A claimed row not marked sent within this time (a crashed sender) is due again.
        "NOTIFY_CLAIM_SECONDS": _int(env.get("NOTIFY_CLAIM_SECONDS"), 300),
        "REMINDER_HOURS": env.get("REMINDER_HOURS", "24,1"),
        # How often the header's bell asks for the unread count.
        "NOTIFY_BELL_POLL_SECONDS": _int(env.get("NOTIFY_BELL_POLL_SECONDS"), 30),
        "UNCONFIRMED_PROMPT_HOURS": _int(env.get("UNCONFIRMED_PROMPT_HOURS"), 24),
        # issue 8: feedback. Its author may edit feedback this long after giving it; the
        # mentee may confirm or dispute an attendance record this long after it is recorded.
        "FEEDBACK_EDIT_DAYS": _int(env.get("FEEDBACK_EDIT_DAYS"), 7),
        "ATTENDANCE_DISPUTE_DAYS": _int(env.get("ATTENDANCE_DISPUTE_DAYS"), 7),
        # end issue 8: feedback
        # issue 8: chat. Unread messages are mailed once they have waited this long; posts
        # per person are rate limited; the open thread and the header badge poll.
        "CHAT_UNREAD_MAIL_MINUTES": _int(env.get("CHAT_UNREAD_MAIL_MINUTES"), 15),
        "CHAT_POST_LIMIT": env.get("CHAT_POST_LIMIT", "30 per minute"),
        "CHAT_POLL_SECONDS": _int(env.get("CHAT_POLL_SECONDS"), 5),
        # end issue 8: chat
        # issue 8: at-risk pairs (app/services/at_risk.py). A pair is current with a session
        # in the lookback window; at risk with no session for QUIET_DAYS, a request waiting
        # REQUEST_HOURS, a latest rating <= LOW_RATING, or no free time in AVAILABILITY_DAYS.
        # One nudge per pair and reason per NUDGE_COOLDOWN_DAYS.
        "AT_RISK_LOOKBACK_DAYS": _int(env.get("AT_RISK_LOOKBACK_DAYS"), 90),
        "AT_RISK_QUIET_DAYS": _int(env.get("AT_RISK_QUIET_DAYS"), 21),
        "AT_RISK_REQUEST_HOURS": _int(env.get("AT_RISK_REQUEST_HOURS"), 24),
        "AT_RISK_LOW_RATING": _int(env.get("AT_RISK_LOW_RATING"), 2),
        "AT_RISK_AVAILABILITY_DAYS": _int(env.get("AT_RISK_AVAILABILITY_DAYS"), 14),
        "NUDGE_COOLDOWN_DAYS": _int(env.get("NUDGE_COOLDOWN_DAYS"), 7),
        # end issue 8: at-risk pairs
        # issue 10: stats feed. Calls to /api/v1/mentorship/stats per API token.
        "STATS_FEED_LIMIT": env.get("STATS_FEED_LIMIT", "60 per minute"),
        # end issue 10: stats feed
        # Meeting links must be https on one of these domains (or a subdomain); empty = defaults.
        "MEETING_DOMAINS": env.get("MEETING_DOMAINS", ""),
        "COMMUNITY_LINKS": parse_community_links(env.get("COMMUNITY_LINKS")),
        "DEFAULT_TIMEZONE": env.get("DEFAULT_TIMEZONE", "UTC"),
        # Cookies: Secure everywhere but plain-http development.
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "mentorhub_session",
        "PERMANENT_SESSION_LIFETIME": _int(env.get("SESSION_LIFETIME_HOURS"), 24 * 14) * 3600,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "MAX_CONTENT_LENGTH": _int(env.get("MAX_UPLOAD_MB"), 5) * 1024 * 1024,
        # Profile photos (app/services/photos.py): the file cap, the decoded-size cap that
        # stops decompression bombs, and where the re-encoded renditions are kept.
        "DIRECTORY_FACET_CACHE_SECONDS": _int(env.get("DIRECTORY_FACET_CACHE_SECONDS"), 300),
        # issue 9: how long each process keeps the admin overview's figures and the landing
        # page's numbers (0: work them out on every request). app/services/computed_cache.py.
        "ADMIN_OVERVIEW_CACHE_SECONDS": _int(env.get("ADMIN_OVERVIEW_CACHE_SECONDS"), 30),
        "LANDING_NUMBERS_CACHE_SECONDS": _int(env.get("LANDING_NUMBERS_CACHE_SECONDS"), 60),
        # ... and the directory's ranking per question (which mentors, in which order).
        "DIRECTORY_RESULTS_CACHE_SECONDS": _int(env.get("DIRECTORY_RESULTS_CACHE_SECONDS"), 15),
        # For this much longer a kept value is still shown, and worked out again after the
        # response: nobody waits for the queries (0: past its time, the visitor waits).
        "ADMIN_OVERVIEW_STALE_SECONDS": _int(env.get("ADMIN_OVERVIEW_STALE_SECONDS"), 120),
        "LANDING_NUMBERS_STALE_SECONDS": _int(env.get("LANDING_NUMBERS_STALE_SECONDS"), 600),
        "DIRECTORY_RESULTS_STALE_SECONDS": _int(env.get("DIRECTORY_RESULTS_STALE_SECONDS"), 60),
        "DIRECTORY_FACET_STALE_SECONDS": _int(env.get("DIRECTORY_FACET_STALE_SECONDS"), 3600),
        "PHOTO_MAX_BYTES": _int(env.get("PHOTO_MAX_MB"), 5) * 1024 * 1024,
        "PHOTO_MAX_PIXELS": _int(env.get("PHOTO_MAX_PIXELS"), 40_000_000),
        "UPLOAD_DIR": env.get("UPLOAD_DIR", str(INSTANCE / "uploads")),
        # issue 10: metrics. /metrics answers 404 unless one is set; with both, both must pass.
        "METRICS_TOKEN": env.get("METRICS_TOKEN", ""),
        "METRICS_ALLOW_IPS": env.get("METRICS_ALLOW_IPS", ""),
        # end issue 10: metrics
        # issue 10: logs and error tracking. LOG_FORMAT: json (production default) or text
        # (elsewhere); LOG_LEVEL: INFO (WARNING under tests). Sentry is off without a DSN.
        "LOG_FORMAT": env.get("LOG_FORMAT", ""),
        "LOG_LEVEL": env.get("LOG_LEVEL", ""),
        "SENTRY_DSN": env.get("SENTRY_DSN", ""),
        "SENTRY_TRACES_SAMPLE_RATE": _sample_rate(env.get("SENTRY_TRACES_SAMPLE_RATE")),
        "SENTRY_ENVIRONMENT": env.get("SENTRY_ENVIRONMENT", app_env),
        "SENTRY_RELEASE": env.get("SENTRY_RELEASE", ""),
        # end issue 10: logs and error tracking
        "HSTS_SECONDS": _int(env.get("HSTS_SECONDS"), 31536000 if production else 0),
        "TESTING": app_env == "testing",
    }
    cfg.update(overrides)
    cfg["DATABASE_URL"] = normalize_database_url(cfg["DATABASE_URL"])
    return cfg
