"""The metrics plumbing without a database: per-app registries, bounded labels, settings."""

from __future__ import annotations

import pytest
from flask import Flask

from app.config import ConfigError
from app.web import metrics


def bare_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(config)
    metrics.init_metrics(app)

    @app.get("/things/<int:thing_id>")
    def thing(thing_id: int) -> str:
        return "ok"

    return app


def requests_count(app: Flask, **labels: str) -> float | None:
    registry = app.extensions[metrics.EXTENSION].registry
    return registry.get_sample_value("mentorhub_http_requests_total", labels)


def test_each_app_counts_its_own_requests() -> None:
    one, two = bare_app(), bare_app()
    one.test_client().get("/things/1")
    one.test_client().get("/things/2")
    labels = {"route": "/things/<int:thing_id>", "method": "GET", "status": "2xx"}
    assert requests_count(one, **labels) == 2
    assert requests_count(two, **labels) is None


def test_labels_are_the_url_rule_and_a_status_class() -> None:
    app = bare_app()
    client = app.test_client()
    client.get("/things/41")
    client.get("/elsewhere/1")
    client.open("/things/1", method="BREW")
    assert requests_count(app, route="/things/<int:thing_id>", method="GET", status="2xx") == 1
    assert requests_count(app, route="<unmatched>", method="GET", status="4xx") == 1
    # 405: no URL rule matched the method, and the method is not a label value either.
    assert requests_count(app, route="<unmatched>", method="OTHER", status="4xx") == 1
    registry = app.extensions[metrics.EXTENSION].registry
    for family in registry.collect():
        for sample in family.samples:
            assert "41" not in sample.labels.get("route", "")
            assert sample.labels.get("method", "GET") != "BREW"


def test_sign_in_outcomes_start_at_zero_and_unknown_ones_are_ignored() -> None:
    app = bare_app()
    registry = app.extensions[metrics.EXTENSION].registry
    for outcome in metrics.SIGN_IN_OUTCOMES:
        assert registry.get_sample_value("mentorhub_sign_in_total", {"outcome": outcome}) == 0
    with app.test_request_context("/"):
        metrics.count_sign_in("signed_in")
        metrics.count_sign_in("made-up")
    assert registry.get_sample_value("mentorhub_sign_in_total", {"outcome": "signed_in"}) == 1
    assert registry.get_sample_value("mentorhub_sign_in_total", {"outcome": "made-up"}) is None


def test_a_bad_allow_list_stops_the_app_from_starting() -> None:
    with pytest.raises(ConfigError, match="METRICS_ALLOW_IPS"):
        bare_app(METRICS_ALLOW_IPS="10.0.0.0/8, not-a-network")
    bare_app(METRICS_ALLOW_IPS="10.0.0.0/8, 192.0.2.7, ::1")
