"""PROMETHEUS_MULTIPROC_DIR (several gunicorn workers): a scrape adds up every process's
counts. prometheus_client picks its storage at import, so each "worker" is a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WORKER = """
import sys
from app import create_app
app = create_app({"ENV_NAME": "testing", "SKIP_DB_CONFIGURE": True, "SECRET_KEY": "x",
                  "SCHEDULER_ENABLED": False, "METRICS_TOKEN": "t"})
client = app.test_client()
for _ in range(int(sys.argv[1])):
    client.get("/no/such/page")
if sys.argv[2] != "-":  # the scrape goes to a file: the logs may go to stdout
    with open(sys.argv[2], "w") as out:
        out.write(client.get("/metrics", headers={"Authorization": "Bearer t"}).text)
"""


def run_worker(env: dict[str, str], requests: int, scrape_to: Path | None = None) -> None:
    subprocess.run(
        [sys.executable, "-c", WORKER, str(requests), str(scrape_to or "-")],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )


def test_a_scrape_adds_up_every_worker(tmp_path: Path) -> None:
    shared = tmp_path / "prometheus"
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared), "MENTORHUB_ENV": "testing"}
    run_worker(env, 2)
    run_worker(env, 3)
    run_worker(env, 1, scrape_to=tmp_path / "scrape.txt")
    text = (tmp_path / "scrape.txt").read_text()
    wanted = {"route": "<unmatched>", "method": "GET", "status": "4xx"}
    counts = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "mentorhub_http_requests_total" and s.labels == wanted
    ]
    assert counts == [6]
    assert "mentorhub_database_up 0.0" in text  # no database in this test: reported, no 500
