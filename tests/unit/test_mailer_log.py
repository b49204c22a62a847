"""The line the mailer logs for a kept message names its subject as written."""

from __future__ import annotations

import datetime as dt
import logging

from app.services.mailer import MailSettings, Transport, build_message

NOW = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def test_a_non_ascii_subject_is_logged_as_text_not_as_an_object(tmp_path, caplog):
    settings = MailSettings(sender="MentorHub <hub@example.org>", keep_dir=str(tmp_path))
    msg = build_message(
        settings,
        to="Gabriel Müller <g@example.org>",
        subject="Gabriel Müller is still waiting for your answer",
        text="Hello",
        now=NOW,
    )
    with caplog.at_level(logging.INFO, logger="app.services.mailer"), Transport(settings) as t:
        t.send(msg, now=NOW)
    [line] = [r.getMessage() for r in caplog.records if "mail kept" in r.getMessage()]
    assert "subject='Gabriel Müller is still waiting for your answer'" in line
