"""WSGI entry point: `flask --app wsgi run`, `gunicorn wsgi:app`, and the CLI commands.

The in-process scheduler starts here only when MENTORHUB_START_SCHEDULER=1 (`make run`
sets it), so that CLI commands such as `init-db` never start one. gunicorn starts it
per worker in gunicorn.conf.py instead.
"""

import os

from app import create_app
from app.jobs import start_scheduler

app = create_app()

if os.environ.get("MENTORHUB_START_SCHEDULER") == "1" and app.config["SCHEDULER_ENABLED"]:
    start_scheduler(app)
