"""The weekly report: its schedule, and its two ops routes.

* ``weekly_report`` (schedule): fires every hour at minute 0 and delivers the last full week's report once the
  plan's ``report`` slot (day, hour, time zone; Monday 08:00 UTC by default) has passed and that week is not stored
  yet. An hourly check, not a fixed cron, so a plan that moves the day, hour or time zone needs no redeploy; the
  check costs one plan read and one S3 ``HeadObject``. The local worker fires it on demand:
  ``POST /schedules/weekly_report``.
* ``GET /reports`` (viewer): the stored weeks, newest first, with their files.
* ``GET /reports/{week}`` (viewer): presigned links to that week's HTML, JSON and CSV, valid 7 days.

The handlers import the use case and the adapters when called: ``import app`` never loads matplotlib.
"""

from __future__ import annotations

from datetime import datetime, timezone

from chalice import Blueprint, Cron

from chalicelib.api.auth import ops_route
from chalicelib.api.responses import error_response, json_response
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
    "Presigned links (7 days) to a stored week's report: HTML with its charts, JSON, CSV",
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
