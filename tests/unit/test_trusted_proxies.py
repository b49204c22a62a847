"""TRUSTED_PROXY_HOPS: behind a load balancer the client is the forwarded address."""

from __future__ import annotations

from flask import Flask, request

from app import trust_proxies


def whoami_app(hops: int) -> Flask:
    app = Flask(__name__)
    app.config["TRUSTED_PROXY_HOPS"] = hops
    trust_proxies(app)

    @app.get("/whoami")
    def whoami() -> str:
        return f"{request.remote_addr} {request.scheme}"

    return app


def ask(app: Flask, forwarded_for: str) -> str:
    response = app.test_client().get(
        "/whoami",
        headers={"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the load balancer
    )
    return response.get_data(as_text=True)


def test_without_trusted_proxies_the_peer_is_the_client():
    assert ask(whoami_app(0), "203.0.113.7") == "10.0.0.2 http"


def test_one_trusted_proxy_gives_the_member_s_address_and_scheme():
    assert ask(whoami_app(1), "203.0.113.7") == "203.0.113.7 https"


def test_a_client_cannot_forge_an_address_past_the_trusted_proxy():
    # The client sent "1.2.3.4" itself; the proxy appended the real peer: only that counts.
    assert ask(whoami_app(1), "1.2.3.4, 203.0.113.7") == "203.0.113.7 https"
