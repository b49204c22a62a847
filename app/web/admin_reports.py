"""Admin reports: attendance by month, by mentor and by mentee for a period, and the same
numbers as CSV (one service function feeds both, so they cannot disagree)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context, url_for

from app.db import db
from app.services import periods, reports
from app.web.access import ADMIN, allow
from app.web.context import now, viewer_timezone
from app.web.forms import page_number

bp = Blueprint("admin_reports", __name__, url_prefix="/admin/mentorship/reports")


def _report_key() -> str:
    key = request.args.get("report", "month")
    return key if key in reports.REPORT_KEYS else "month"


def _href(endpoint: str, report: str, period: periods.Period, page: int = 1) -> str:
    args: dict[str, Any] = dict(period.query_args())
    if report != "month":
        args["report"] = report
    if page > 1:
        args["page"] = page
    return url_for(endpoint, **args)


@bp.get("")
@allow(ADMIN)
def index() -> Any:
    """?report=month|mentor|mentee, the period arguments of the overview, ?page= (people)."""
    period = periods.parse_period(request.args, now=now(), tz=viewer_timezone())
    report = _report_key()
    context: dict[str, Any] = {
        "period": period,
        "periods": periods.PERIODS,
        "report": report,
        "report_title": dict(reports.REPORTS)[report],
        "tabs": [
            (key, label, _href("admin_reports.index", key, period), None)
            for key, label in reports.REPORTS
        ],
        "csv_href": _href("admin_reports.export", report, period),
        "href": lambda page: _href("admin_reports.index", report, period, page),
    }
    if report == "month":
        rows = reports.by_month(db.session, period)
        context.update(rows=rows, total=reports.totals(rows), page=None)
    else:
        page = reports.by_person(db.session, period, report, page_number(request.args.get("page")))
        context.update(rows=page.rows, total=None, page=page)
    html = render_template("admin/reports.html", **context)
    return html, (422 if period.errors else 200)


@bp.get("/export.csv")
@allow(ADMIN)
def export() -> Any:
    """The report on screen as CSV, every row (not just one page), streamed."""
    period = periods.parse_period(request.args, now=now(), tz=viewer_timezone())
    if period.errors:
        return Response(
            "The custom period is not valid: " + "; ".join(period.errors.values()) + "\n",
            status=422,
            mimetype="text/plain",
        )
    report = _report_key()
    if report == "month":
        rows: Any = reports.by_month(db.session, period)
    else:
        rows = reports.all_people(db.session, period, report)
    filename = f"attendance-by-{report}-{period.first_day}-to-{period.last_day}.csv"
    return Response(
        stream_with_context(reports.csv_lines(report, period, rows)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
