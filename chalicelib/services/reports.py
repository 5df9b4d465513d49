"""The weekly report use cases: build a week's report from the store, write its files, deliver it (S3, email,
SNS) once per week, run it on the plan's schedule, and list stored reports with a presigned link.

Depends on the ports in :mod:`chalicelib.services.ports` only (``ReportIssues``, ``ReportStore``,
``ReportSender``, ``ReportRenderer``); the figures are :mod:`chalicelib.domain.report`'s.

* **Keys.** ``reports/<yyyy-Www>/report.html``, ``report.json``, ``report.csv`` and ``chart-<name>.png``: a
  re-run of the same week writes the same keys (the object is overwritten, never a second copy).
* **Once per week.** The email to each recipient and the SNS announcement are claimed per week
  (``report#<week>#...``): a re-run or a redelivered schedule never sends them twice.
* **The link** in each recipient's email is theirs alone: signed, valid 7 days and single-use
  (:mod:`chalicelib.domain.report_links`); used, it answers with a presigned S3 link valid a few minutes
  (:func:`open_report_link`). The SNS announcement carries no link: ops fetch the report with their token
  (``GET /reports/{week}``, or ``social-response report``). Links are never logged.
* **The ops route's links** (``GET /reports/{week}``) are presigned for an hour: a link presigned with a Lambda
  role's temporary credentials stops working when they expire, hours before S3's 7-day maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from pydantic import BaseModel, Field

from chalicelib.domain import links, report_links
from chalicelib.domain import report as weekly
from chalicelib.domain.plan import ResponsePlan
from chalicelib.domain.report import ReportFiles
from chalicelib.domain.text_safety import subject_line
from chalicelib.services.issue_window import issues_for_period
from chalicelib.services.ports import LinkUses, ReportIssues, ReportRenderer, ReportSender, ReportStore

PREFIX = "reports/"
LINK_SECONDS = report_links.LINK_SECONDS  # a recipient's emailed link
OPS_LINK_SECONDS = 3600  # GET /reports/{week}: within the Lambda role's temporary credentials
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
    link_key: str = field(repr=False)  # LINK_SIGNING_KEY: signs each recipient's link
    plan_version: int = 0
    api_base_url: str = ""  # where the drill-down and emailed links point (the public API); relative without it


@dataclass
class Delivery:
    week: str
    keys: list[str]
    emailed: list[str] = field(default_factory=list)  # recipients emailed by this run (not the ones before)
    announced: bool = False


# ---- building -------------------------------------------------------------------------------------------------


def report_input(
    week: str, issues: ReportIssues, plan: ResponsePlan, plan_version: int, now: datetime
) -> weekly.ReportInput:
    """Everything the week's figures need, read from the store: the issues of the two weeks compared, every issue
    open at either week's end or resolved in either week whatever day it was first seen, and the later issues that
    recur what they resolved (:func:`issues_for_period`, as ``GET /metrics/summary`` reads them), and the audit
    trails of the two weeks' issues."""
    time_zone = plan.report.time_zone
    since = weekly.week_bounds(weekly.previous_week(week), time_zone)[0]
    until = weekly.week_bounds(week, time_zone)[1]
    window = timedelta(days=plan.recurrence.window_days)
    lookback = timedelta(days=weekly.LOOKBACK_DAYS)
    found = issues_for_period(issues, plan.categories, since, until, now, window, lookback)
    unique = {str(i["issue_id"]): i for i in found}
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
    delivery = Delivery(week=week, keys=keys)
    subject = subject_line(f"{deps.plan.brand or 'social-response'} weekly report {week}")  # never a line break
    expires_at = int(now.timestamp()) + LINK_SECONDS
    valid_until = datetime.fromtimestamp(expires_at, now.tzinfo).date().isoformat()
    for recipient in deps.plan.report.recipients:
        link = deps.api_base_url + report_links.link_path(deps.link_key, week, recipient, expires_at)
        text = files.text + f"\n\nThe full report (your link; it opens once, until {valid_until}): {link}\n"
        html = _with_link(files.email_html, link, valid_until)
        if deps.sender.email_once(
            f"report#{week}#email#{recipient.lower()}", recipient, subject, text, html, files.inline, now
        ):
            delivery.emailed.append(recipient)
    delivery.announced = deps.sender.announce_once(
        f"report#{week}#sns",
        subject,
        f"{subject}: {report.volume.issues.this_week} issues (week before: {report.volume.issues.week_before}). "
        f"Recipients have it by email; with an ops token: GET /reports/{week}, or social-response report --week "
        f"{week} --out DIR.",
        now,
    )
    body, content_type = files.stored[JSON]
    deps.store.put(prefix + JSON, body, content_type)
    return delivery


def _with_link(email_html: str, link: str, valid_until: str) -> str:
    """The email's HTML with the recipient's link at its end (before ``</body>``), escaped."""
    paragraph = (
        f'<p><a href="{escape(link, quote=True)}">The full report</a> '
        f"(your link; it opens once, until {escape(valid_until)}).</p>"
    )
    body_end = email_html.rfind("</body>")
    if body_end < 0:
        return email_html + paragraph
    return email_html[:body_end] + paragraph + email_html[body_end:]


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


def report_link(week: str, store: ReportStore, now: datetime, seconds: int = OPS_LINK_SECONDS) -> ReportLink:
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


# ---- a recipient's emailed link (GET / POST /reports/{week}/open) ------------------------------------------------


@dataclass
class ReportLinkDeps:
    store: ReportStore
    uses: LinkUses
    link_key: str = field(repr=False)


class ReportLinkRefused(Exception):
    """The link opens nothing: 403 forged, 410 expired or used, 404 the report is gone."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def open_report_link(
    week: str, to: str | None, expires_at: str | None, sig: str | None, deps: ReportLinkDeps, now: datetime, use: bool
) -> str | None:
    """Check a recipient's link (signature in constant time, expiry, not used, the report stored); with ``use``,
    use it up and answer a presigned link to the report valid :data:`report_links.OPEN_SECONDS`. Raises
    :class:`ReportLinkRefused`."""
    checked = report_links.check_link(deps.link_key, week, to, expires_at, sig, now.timestamp())
    if checked is links.LinkCheck.TAMPERED:
        raise ReportLinkRefused(403, "This link is not valid.")
    if checked is links.LinkCheck.EXPIRED:
        raise ReportLinkRefused(410, f"This link has expired. {_ASK_OPS.format(week=week)}")
    key = report_links.use_name(week, to or "", expires_at or 0)
    if deps.uses.used(key):
        raise ReportLinkRefused(410, f"This link has been used. {_ASK_OPS.format(week=week)}")
    try:
        html = week_prefix(week) + HTML
    except weekly.BadWeek:  # signed with the key, so not a forgery: a week no report can have
        raise ReportLinkRefused(404, "No report is stored for this week.") from None
    if not deps.store.exists(html):
        raise ReportLinkRefused(404, f"The report of {week} is no longer stored.")
    if not use:
        return None
    if not deps.uses.use_once(key, int(expires_at or 0), now):
        raise ReportLinkRefused(410, f"This link has been used. {_ASK_OPS.format(week=week)}")
    return deps.store.link(html, report_links.OPEN_SECONDS)


_ASK_OPS = "Ops can fetch the report of {week} again (GET /reports/{week}, or social-response report --week {week})."
