"""The weekly report: its schedule, and its two ops routes.

* ``weekly_report`` (schedule): fires every hour at minute 0 and delivers the last full week's report once the
  plan's ``report`` slot (day, hour, time zone; Monday 08:00 UTC by default) has passed and that week is not stored
  yet. An hourly check, not a fixed cron, so a plan that moves the day, hour or time zone needs no redeploy; the
  check costs one plan read and one S3 ``HeadObject``. The local worker fires it on demand:
  ``POST /schedules/weekly_report``.
* ``GET /reports`` (viewer): the stored weeks, newest first, with their files.
* ``GET /reports/{week}`` (viewer): presigned links to that week's HTML, JSON and CSV, valid an hour.
* ``GET``/``POST /reports/{week}/open?to&exp&sig`` (no token: the signed link a recipient was emailed): GET shows
  a page with one button and changes nothing (mail scanners fetch links before people do); POST uses the link up
  and answers 303 to a presigned link to the report, valid five minutes. A forged link is 403, an expired or used
  one 410, a report no longer stored 404; each as an HTML page, or as JSON ``{"error": ...}`` to a client that
  asks for JSON.

The handlers import the use case and the adapters when called: ``import app`` never loads matplotlib.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape

from chalice import Blueprint, Cron, Response

from chalicelib.api.auth import ops_route
from chalicelib.api.link_answers import html_answer, refusal
from chalicelib.api.responses import ANY_CONTENT_TYPE, error_response, json_response
from chalicelib.domain.roles import Role
from chalicelib.observability import logger

reports = Blueprint(__name__)

SERVICE = "chalicelib.services.reports"


@reports.schedule(Cron(0, "*", "*", "*", "?", "*"), name="weekly_report")
def weekly_report(event):
    """Deliver the last full week's report when the plan says it is due (see the module docstring)."""
    from chalicelib.bootstrap import report_deps
    from chalicelib.services.reports import run_scheduled

    delivery = run_scheduled(datetime.now(timezone.utc), report_deps())
    if delivery is None:
        logger.info("weekly report not due, or delivered already")
        return
    # the presigned link is a credential: never logged
    logger.info(
        "weekly report delivered",
        extra={
            "week": delivery.week,
            "files": len(delivery.keys),
            "emailed": len(delivery.emailed),
            "announced": delivery.announced,
        },
    )


@ops_route(
    reports,
    "/reports",
    "GET",
    Role.VIEWER,
    "The stored weekly reports, newest week first",
    answer=f"{SERVICE}:ReportList",
)
def list_reports():
    from chalicelib.bootstrap import report_store
    from chalicelib.services.reports import list_reports as listed

    return json_response(listed(report_store()).model_dump(mode="json"))


@ops_route(
    reports,
    "/reports/{week}",
    "GET",
    Role.VIEWER,
    "Presigned links (an hour) to a stored week's report: HTML with its charts, JSON, CSV",
    answer=f"{SERVICE}:ReportLink",
    errors=(404,),
)
def get_report(week: str):
    from chalicelib.bootstrap import report_store
    from chalicelib.domain.report import BadWeek
    from chalicelib.services.reports import NoReport, report_link

    try:
        found = report_link(week, report_store(), datetime.now(timezone.utc))
    except BadWeek as bad:
        return error_response(400, str(bad))
    except NoReport as missing:
        return error_response(404, str(missing))
    return json_response(found.model_dump(mode="json"))


# ---- a recipient's emailed link ---------------------------------------------------------------------------------
TITLES = {403: "Link not valid", 404: "Report not stored", 410: "Link closed", 415: "Please use the button"}


def _refusal(status: int, message: str) -> Response:
    return refusal(reports.current_request, status, message, TITLES)


def _open(week: str, use: bool) -> str | None:
    from chalicelib.bootstrap import report_link_deps
    from chalicelib.domain.links import MAX_LINK_ID_CHARS
    from chalicelib.services.reports import ReportLinkRefused, open_report_link

    query = dict(reports.current_request.query_params or {})
    if len(week) > MAX_LINK_ID_CHARS:  # a forgery: never a store key
        raise ReportLinkRefused(403, "This link is not valid.")
    deps = report_link_deps()
    return open_report_link(
        week, query.get("to"), query.get("exp"), query.get("sig"), deps, datetime.now(timezone.utc), use
    )


@reports.route("/reports/{week}/open", methods=["GET"], content_types=ANY_CONTENT_TYPE)
def report_link_page(week: str) -> Response:
    from chalicelib.api.pages import document, same_page
    from chalicelib.services.reports import ReportLinkRefused

    try:
        _open(week, use=False)
    except ReportLinkRefused as refused:
        return _refusal(refused.status, refused.message)
    query = dict(reports.current_request.query_params or {})
    action = same_page(query.get("exp"), query.get("sig"), to=query.get("to"))
    body = (
        f'<h1>Weekly report {escape(week)}</h1><form method=post action="{escape(action, quote=True)}">'
        "<button type=submit name=open value=1>Open the report</button></form>"
        "<p>The link opens the report once; ops can fetch it again with their token.</p>"
    )
    return html_answer(200, document(f"Weekly report {week}", body))


@reports.route("/reports/{week}/open", methods=["POST"], content_types=ANY_CONTENT_TYPE)
def open_report(week: str) -> Response:
    from chalicelib.api.forms import is_form_post
    from chalicelib.services.reports import ReportLinkRefused

    if not is_form_post(reports.current_request):
        return _refusal(415, "Open the report with the button on the page.")
    try:
        url = _open(week, use=True)
    except ReportLinkRefused as refused:
        logger.info("report link refused", extra={"status": refused.status})
        return _refusal(refused.status, refused.message)
    logger.info("report link used", extra={"week": week})  # the presigned link is a credential: never logged
    return Response(body="", status_code=303, headers={"Location": str(url), "Cache-Control": "no-store"})
