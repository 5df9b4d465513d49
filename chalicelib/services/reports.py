"""The weekly report use cases: build a week's report from the store, write its files, deliver it (S3, email,
SNS) once per week, run it on the plan's schedule, and list stored reports with a presigned link.

Depends on the ports in :mod:`chalicelib.services.ports` only (``ReportIssues``, ``ReportStore``,
``ReportSender``, ``ReportRenderer``); the figures are :mod:`chalicelib.domain.report`'s.

* **Keys.** ``reports/<yyyy-Www>/report.html``, ``report.json``, ``report.csv`` and ``chart-<name>.png``: a
  re-run of the same week writes the same keys (the object is overwritten, never a second copy).
* **Once per week.** The email to each recipient and the SNS announcement are claimed per week
  (``report#<week>#...``): a re-run or a redelivered schedule never sends them twice.
* **The link** in the announcement is presigned for 7 days (S3's longest), and is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.domain import report as weekly
from chalicelib.domain.plan import ResponsePlan, one_line
from chalicelib.domain.report import ReportFiles
from chalicelib.services.issue_window import issues_first_seen
from chalicelib.services.ports import ReportIssues, ReportRenderer, ReportSender, ReportStore

PREFIX = "reports/"
LINK_SECONDS = 7 * 24 * 3600  # S3's longest presigned link (SigV4)
HTML, JSON, CSV = "report.html", "report.json", "report.csv"


def week_prefix(week: str) -> str:
    weekly.parse_week(week)
    return f"{PREFIX}{week}/"


@dataclass
class ReportDeps:
    issues: ReportIssues
    store: ReportStore
    sender: ReportSender
    renderer: ReportRenderer
    plan: ResponsePlan
    plan_version: int = 0
    api_base_url: str = ""  # where the drill-down links point (the ops API); relative links without it


@dataclass
class Delivery:
    week: str
    keys: list[str]
    emailed: list[str] = field(default_factory=list)  # recipients emailed by this run (not the ones before)
    announced: bool = False
    link: str = field(default="", repr=False)  # presigned: never printed by repr, never logged


# ---- building -------------------------------------------------------------------------------------------------


def report_input(
    week: str, issues: ReportIssues, plan: ResponsePlan, plan_version: int, now: datetime
) -> weekly.ReportInput:
    """Everything the week's figures need, read from the store: the issues first seen from the lookback start up
    to now (what is still open at each week's end, what recurs later), and the audit trails of the two weeks'."""
    time_zone = plan.report.time_zone
    first_day = weekly.lookback_start(week, time_zone).date()
    last_day = max(now.date(), weekly.week_bounds(week, time_zone)[1].date())
    unique = {str(i["issue_id"]): i for i in issues_first_seen(issues, first_day, last_day)}
    counted = weekly.issues_counted(week, time_zone, list(unique.values()))
    history = {str(i["issue_id"]): issues.history(str(i["issue_id"])) for i in counted}
    return weekly.ReportInput(
        week=week,
        issues=list(unique.values()),
        history=history,
        hours=plan.team_hours(),
        time_zone=time_zone,
        now=now,
        brand=plan.brand,
        plan_version=plan_version,
        protocols={name: category.protocol for name, category in plan.categories.items()},
        recurrence_window=timedelta(days=plan.recurrence.window_days),
        review_overdue=plan.review.overdue(now.date()),
    )


def build_report(week: str, deps: ReportDeps, now: datetime) -> tuple[weekly.WeeklyReport, list[dict[str, Any]]]:
    given = report_input(week, deps.issues, deps.plan, deps.plan_version, now)
    return weekly.build_report(given), weekly.csv_rows(given)


def render_report(week: str, deps: ReportDeps, now: datetime) -> tuple[weekly.WeeklyReport, ReportFiles]:
    report, rows = build_report(week, deps, now)
    return report, deps.renderer.render(report, rows, deps.api_base_url)


# ---- delivering -----------------------------------------------------------------------------------------------


def deliver_report(
    week: str, deps: ReportDeps, now: datetime, rendered: tuple[weekly.WeeklyReport, ReportFiles] | None = None
) -> Delivery:
    """Store the week's files (overwriting a previous run's), email each recipient and announce on SNS, each at most
    once per week, then store ``report.json``: the mark that the week is delivered. ``rendered``: the week's report
    as :func:`render_report` made it, when it was already."""
    report, files = rendered or render_report(week, deps, now)
    prefix = week_prefix(week)
    keys = []
    # report.json goes last, after the sends: it marks the week delivered (run_scheduled looks for it), so a
    # send that failed leaves the week due, and the next run sends what is still owed.
    for name, (body, content_type) in sorted(files.stored.items(), key=lambda pair: (pair[0] == JSON, pair[0])):
        if name != JSON:
            deps.store.put(prefix + name, body, content_type)
        keys.append(prefix + name)
    link = deps.store.link(prefix + HTML, LINK_SECONDS)
    delivery = Delivery(week=week, keys=keys, link=link)
    subject = one_line(f"{deps.plan.brand or 'social-response'} weekly report {week}")  # never a line break
    text = files.text + f"\n\nThe full report (link valid 7 days): {link}\n"
    for recipient in deps.plan.report.recipients:
        if deps.sender.email_once(
            f"report#{week}#email#{recipient.lower()}", recipient, subject, text, files.email_html, files.inline, now
        ):
            delivery.emailed.append(recipient)
    delivery.announced = deps.sender.announce_once(
        f"report#{week}#sns",
        subject,
        f"{subject}: {report.volume.issues.this_week} issues (week before: {report.volume.issues.week_before}). "
        f"Report, valid until {(now + timedelta(seconds=LINK_SECONDS)).date().isoformat()}: {link}",
        now,
    )
    body, content_type = files.stored[JSON]
    deps.store.put(prefix + JSON, body, content_type)
    return delivery


def run_scheduled(now: datetime, deps: ReportDeps) -> Delivery | None:
    """The hourly schedule: deliver the last full week's report once the plan's slot (day, hour, time zone) has
    passed and it is not stored yet; otherwise nothing (one plan read and, at most, one S3 lookup)."""
    settings = deps.plan.report
    week = weekly.due_week(now, settings.day, settings.hour, settings.time_zone)
    if week is None or deps.store.exists(week_prefix(week) + JSON):
        return None
    return deliver_report(week, deps, now)


# ---- reading (GET /reports, GET /reports/{week}) -------------------------------------------------------------


class StoredReport(BaseModel):
    week: str = Field(description="ISO week, yyyy-Www")
    files: list[str] = Field(description="the files stored for it (report.html, report.json, report.csv, charts)")


class ReportList(BaseModel):
    items: list[StoredReport] = Field(description="newest week first")


class ReportLink(BaseModel):
    week: str
    url: str = Field(description="presigned GET of report.html (charts inline), valid expires_in seconds")
    json_url: str = Field(description="presigned GET of report.json")
    csv_url: str = Field(description="presigned GET of report.csv")
    expires_in: int
    expires_at: datetime


class NoReport(LookupError):
    """404: no report stored for that week."""


def list_reports(store: ReportStore) -> ReportList:
    stored = store.files(PREFIX)
    weeks: dict[str, list[str]] = {}
    for key in stored:
        week, _, name = key.removeprefix(PREFIX).partition("/")
        if weekly.WEEK.match(week) and name:
            weeks.setdefault(week, []).append(name)
    return ReportList(
        items=[StoredReport(week=week, files=sorted(names)) for week, names in sorted(weeks.items(), reverse=True)]
    )


def report_link(week: str, store: ReportStore, now: datetime, seconds: int = LINK_SECONDS) -> ReportLink:
    """Presigned links to a stored week's files; :class:`weekly.BadWeek` or :class:`NoReport`."""
    prefix = week_prefix(week)
    if not store.exists(prefix + HTML):
        raise NoReport(f"no report stored for {week}")
    return ReportLink(
        week=week,
        url=store.link(prefix + HTML, seconds),
        json_url=store.link(prefix + JSON, seconds),
        csv_url=store.link(prefix + CSV, seconds),
        expires_in=seconds,
        expires_at=now + timedelta(seconds=seconds),
    )


def default_week(now: datetime, plan: ResponsePlan) -> str:
    return weekly.last_full_week(now, plan.report.time_zone)
