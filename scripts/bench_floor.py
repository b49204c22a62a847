"""The floor for `scripts/bench_load.py`: the cheapest page Flask can serve.

One route rendering a small template, no database, no session, no extensions. Served by the
same gunicorn.conf.py (workers, threads) as MentorHub in the same run, it shows how many
requests per second the server configuration and the load generator manage on this machine
before MentorHub's own work starts: the ratio of MentorHub's throughput to this floor is the
number issue 9 budgets (at least 40 %).
"""

from __future__ import annotations

from flask import Flask, render_template_string

app = Flask(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><main><h1>{{ title }}</h1><p>{{ text }}</p></main></body></html>"""


@app.get("/")
def floor() -> str:
    return render_template_string(PAGE, title="Floor", text="A bare Flask page.")


@app.get("/healthz")
def healthz() -> str:
    return "ok"
