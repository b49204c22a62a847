"""app/logs.py on its own: formats, levels, masking, the request id filter."""

from __future__ import annotations

import io
import json
import logging
import sys
import time

import pytest
from flask import Flask, g

from app.config import ConfigError, load_config
from app.logs import (
    HANDLER_NAME,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    configure_logging,
    log_format,
    log_level,
    make_handler,
    mask_emails,
)


def _record(msg: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("mentorhub.test", logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"ENV_NAME": "production"}, "json"),
        ({"ENV_NAME": "development"}, "text"),
        ({"ENV_NAME": "testing"}, "text"),
        ({"ENV_NAME": "production", "LOG_FORMAT": "text"}, "text"),
        ({"ENV_NAME": "development", "LOG_FORMAT": " JSON "}, "json"),
    ],
)
def test_json_in_production_text_elsewhere_and_the_setting_wins(config, expected):
    assert log_format(config) == expected


def test_an_unknown_format_or_level_fails_at_start_up():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        log_format({"LOG_FORMAT": "xml"})
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        log_level({"LOG_LEVEL": "LOUD"})


def test_levels():
    assert log_level({"ENV_NAME": "production"}) == logging.INFO
    assert log_level({"ENV_NAME": "testing"}) == logging.WARNING
    assert log_level({"ENV_NAME": "production", "LOG_LEVEL": "debug"}) == logging.DEBUG


def test_the_sample_rate_setting_is_checked(monkeypatch):
    monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", "0.05")
    assert load_config({"ENV_NAME": "testing"})["SENTRY_TRACES_SAMPLE_RATE"] == 0.05
    monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", "")
    assert load_config({"ENV_NAME": "testing"})["SENTRY_TRACES_SAMPLE_RATE"] == 0.0
    for bad in ("lots", "1.5", "-0.1"):
        monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", bad)
        with pytest.raises(ConfigError):
            load_config({"ENV_NAME": "testing"})


def test_emails_are_masked_wherever_they_are():
    assert mask_emails("to a.b+c@mail.example.co.uk, x@y.org.") == "to [email], [email]."
    assert mask_emails("no address @ here, nor user@localhost") == (
        "no address @ here, nor user@localhost"
    )


def test_a_json_line_parses_and_carries_the_extra_fields():
    line = JsonFormatter().format(_record("job %s", "x@y.org", request_id="r1", rows=3))
    entry = json.loads(line)
    assert entry["msg"] == "job [email]"
    assert (entry["level"], entry["logger"], entry["request_id"], entry["rows"]) == (
        "info",
        "mentorhub.test",
        "r1",
        3,
    )
    assert entry["ts"].endswith("+00:00")


def test_a_json_line_with_an_exception_is_still_one_line():
    try:
        raise ValueError("bad mail for q@r.io")
    except ValueError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert "ValueError: bad mail for [email]" in entry["exc"]


def test_the_text_line_is_readable():
    record = _record("request", request_id=None, status=200, route="/x/<int:id>")
    line = TextFormatter().format(record)
    assert line.endswith("INFO mentorhub.test [-] request status=200 route=/x/<int:id>")


def test_the_filter_adds_the_request_id_inside_a_request_and_none_outside():
    app = Flask(__name__)
    outside = _record()
    RequestIdFilter().filter(outside)
    assert outside.request_id is None  # type: ignore[attr-defined]
    with app.test_request_context():
        g.request_id = "abc"
        inside = _record()
        RequestIdFilter().filter(inside)
    assert inside.request_id == "abc"  # type: ignore[attr-defined]


def test_a_handler_writes_json_lines_with_the_request_id():
    stream = io.StringIO()
    logger = logging.getLogger("mentorhub.unit-test")
    handler = make_handler(stream, "json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        app = Flask(__name__)
        with app.test_request_context():
            g.request_id = "req-7"
            logger.info("inside")
        logger.info("outside", extra={"started": time.perf_counter() > 0})
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["request_id"], outside["request_id"]) == ("req-7", None)
    assert outside["started"] is True


def test_the_app_handler_writes_json_to_stdout_once_however_many_apps(capsys):
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        for _ in range(2):
            app = Flask(__name__)
            app.config.update(ENV_NAME="production", LOG_FORMAT="", LOG_LEVEL="")
            configure_logging(app)
        assert [h.get_name() for h in root.handlers].count(HANDLER_NAME) == 1
        logging.getLogger("mentorhub.unit-stdout").info("to stdout", extra={"rows": 2})
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.handlers[:] = before
        root.setLevel(level)
    [line] = [json.loads(raw) for raw in capsys.readouterr().out.splitlines()]
    assert (line["msg"], line["rows"], line["level"]) == ("to stdout", 2, "info")
