"""What the load benchmark reads off MentorHub's pages (scripts/locustfile.py, bench_load.py).

Kept apart from the locustfile, which imports Locust (and Locust patches the standard library
with gevent as it is imported), so that tests/integration/test_bench_patterns.py can check
them against the real pages.
"""

from __future__ import annotations

import re

# The sign-in link page's form, and the token htmx sends (base.html's hx-headers).
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
# A free time in a mentor's calendar (hub/_calendar.html).
SLOT = re.compile(r'name="starts_at" id="[^"]+" value="([^"]+)"')
# The new session's id, from the confirmation's calendar link (hub/_booked.html).
BOOKED_ID = re.compile(r"/mentor-hub/sessions/(\d+)\.ics")
# A request a mentor can confirm, with the version its form carries (sessions/_actions.html).
CONFIRM = re.compile(
    r'action="/mentor-hub/sessions/(\d+)/confirm".*?name="version" value="(\d+)"', re.S
)
