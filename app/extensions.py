"""Flask extensions, created once and bound to the app in create_app."""

from __future__ import annotations

from flask import request
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

login_manager = LoginManager()
compress = Compress()
csrf = CSRFProtect()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)


def email_rate_key() -> str:
    """Rate-limit sign-in requests per address, whatever IP they come from."""
    return "email:" + (request.form.get("email") or "").strip().lower()
