"""Security headers for every response and long cache lifetimes for hashed assets."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

# No inline script or style anywhere: htmx is configured by a meta tag, and its
# indicator styles live in our CSS (includeIndicatorStyles is off).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)

YEAR = 365 * 24 * 3600


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Any) -> Any:
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config["HSTS_SECONDS"]:
            h.setdefault(
                "Strict-Transport-Security",
                f"max-age={app.config['HSTS_SECONDS']}; includeSubDomains",
            )
        if request.endpoint == "static":
            hashed = request.view_args and str(request.view_args.get("filename", "")).startswith(
                "vendor/"
            )
            if hashed or request.args.get("v"):
                h["Cache-Control"] = f"public, max-age={YEAR}, immutable"
            else:
                h["Cache-Control"] = "public, max-age=300"
        else:
            # Pages carry per-user content and CSRF tokens: never cached by shared caches.
            h.setdefault("Cache-Control", "no-store")
        if "HX-Request" not in h.get("Vary", ""):
            # One URL serves a page or, for htmx, a fragment: caches must keep them apart.
            h.add("Vary", "HX-Request")
        return response
