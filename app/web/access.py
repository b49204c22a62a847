"""Who may use a route. Every view declares exactly one level; create_app refuses to
start if one does not, and tests/integration/test_route_access.py walks them all.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC = "public"
SIGNED_IN = "signed_in"
MENTOR = "mentor"
ADMIN = "admin"
DEVELOPMENT = "development"
LEVELS = (PUBLIC, SIGNED_IN, MENTOR, ADMIN, DEVELOPMENT)


def _deny_anonymous() -> Any:
    if request.headers.get("HX-Request") == "true":
        # htmx follows HX-Redirect; a 302 would be swapped into the fragment instead.
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = url_for("auth.sign_in", next=request.full_path)
        return response
    return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))


def allow(level: str) -> Callable[[F], F]:
    """Declare and enforce who may use the decorated view."""
    if level not in LEVELS:
        raise ValueError(f"unknown access level {level!r}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if level == DEVELOPMENT and current_app.config["ENV_NAME"] == "production":
                abort(404)
            if level in (SIGNED_IN, MENTOR, ADMIN):
                if not current_user.is_authenticated:
                    return _deny_anonymous()
                if level == MENTOR and not current_user.is_mentor:
                    abort(403)
                if level == ADMIN and not current_user.is_admin:
                    abort(403)
            return view(*args, **kwargs)

        wrapped.access_level = level  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def undeclared_views(app: Any) -> list[str]:
    return sorted(
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and getattr(view, "access_level", None) is None
    )
