"""The weekly report as files: HTML with PNG charts (matplotlib, Agg), JSON and CSV.

matplotlib (and numpy under it) is imported inside :func:`draw_charts` only: no other handler's cold start loads
it (``tests/unit/test_report_imports.py`` checks ``import app``).

The same page is rendered three ways, differing only in where a chart's ``<img src>`` points:

* the email: ``cid:<chart>``, the PNGs attached inline by Content-ID (Gmail and Outlook show them; they refuse
  SVG and data URIs);
* the files on disk (``report`` command): ``<name>-<chart>.png`` next to the HTML;
* the copy in S3 (opened through a presigned link, where a relative image could not be fetched): ``data:`` URIs.

Every piece of text that comes from data (issue ids, categories, products, topics, comments, notes, the brand)
is HTML-escaped; links are built with ``urlencode`` and escaped as attributes. CSV cells that a spreadsheet would
run as a formula (``= + - @``, tab, carriage return) are prefixed with ``'``.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import re
import tempfile
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from html import escape, unescape
from typing import Any

from chalicelib.domain.metrics import Clocks, Durations, Rate
from chalicelib.domain.report import CSV_COLUMNS, CountRow, ReportFiles, WeeklyReport, issue_link

THIS, BEFORE = "#1f6feb", "#f0883e"  # this week, the week before (blue and orange: told apart by most eyes)
CHARTS = ("volume", "response_times", "sla", "satisfaction", "approvals")
Source = Callable[[str], str]

_TAG = re.compile(r"<[^>]*>")


def _text_of(html: str) -> str:
    """What HTML this module wrote reads as: its tags dropped and its entities read (escape it again to embed it)."""
    return unescape(_TAG.sub("", html))


# ---- charts ---------------------------------------------------------------------------------------------------


NO_DATA = float("nan")  # matplotlib draws no bar for it: "no data" must not look like 0 h or 0 %


def _hours(value: float | None) -> float:
    return NO_DATA if value is None else value / 3600


def _whole_percent(rate: float) -> str:
    """A share as a whole percent, halves rounded up as readers do (5/8 is 63 %, not Python's 62 %)."""
    return f"{Decimal(str(100 * rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def _percent(rate: float | None) -> float:
    return NO_DATA if rate is None else 100 * rate


def draw_charts(report: WeeklyReport) -> dict[str, bytes]:
    """One PNG per chart of :data:`CHARTS`, this week beside the week before."""
    # matplotlib keeps a font cache in its config directory; a Lambda's home is read-only, /tmp is not.
    os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "matplotlib"))
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    def bars(
        title: str,
        labels: list[str],
        this: list[float],
        before: list[float],
        unit: str,
        limit: float | None = None,
        counts: bool = False,
    ) -> bytes:
        figure = Figure(figsize=(7.2, 3.3), dpi=100)
        axes = figure.subplots()
        if not labels:
            axes.text(
                0.5,
                0.5,
                "no data this week or the week before",
                ha="center",
                va="center",
                transform=axes.transAxes,
                color="#57606a",
            )
            axes.set_axis_off()
        else:
            positions = range(len(labels))
            width = 0.4
            axes.bar([p - width / 2 for p in positions], this, width, label=report.week, color=THIS)
            axes.bar([p + width / 2 for p in positions], before, width, label=report.week_before, color=BEFORE)
            axes.set_xticks(list(positions))
            axes.set_xticklabels(
                [label if len(label) <= 18 else label[:17] + "…" for label in labels],
                rotation=20 if len(labels) > 4 else 0,
                ha="right" if len(labels) > 4 else "center",
                fontsize=8,
            )
            axes.set_ylabel(unit)
            if limit is not None:
                axes.set_ylim(0, limit)
            if counts:  # no 0.5 of an issue on the axis
                axes.yaxis.set_major_locator(MaxNLocator(integer=True))
            axes.legend(fontsize=8, frameon=False)
            axes.spines[["top", "right"]].set_visible(False)
            if any(value != value for value in (*this, *before)):  # NaN: a week with nothing to measure
                axes.text(
                    1,
                    -0.28,
                    "no bar: no data that week",
                    ha="right",
                    va="top",
                    fontsize=7,
                    color="#57606a",
                    transform=axes.transAxes,
                )
        axes.set_title(title, fontsize=10, loc="left")
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        plt.close("all")
        return out.getvalue()

    volume = report.volume.by_platform
    categories = report.times.by_category
    # a category with no SLA measured in either week (no_action has none) has no bar to draw
    with_sla = [
        g
        for g in categories
        if g.sla_first_response.this_week.rate is not None or g.sla_first_response.week_before.rate is not None
    ]
    steps = report.approvals
    satisfaction = report.satisfaction.distribution
    return {
        "volume": bars(
            "Issues by platform",
            [r.key for r in volume],
            [r.this_week for r in volume],
            [r.week_before for r in volume],
            "issues",
            counts=True,
        ),
        "response_times": bars(
            "Median first response by category (business hours)",
            [g.key for g in categories],
            [_hours(g.first_response.this_week.business.median_seconds) for g in categories],
            [_hours(g.first_response.week_before.business.median_seconds) for g in categories],
            "hours",
        ),
        "sla": bars(
            "First-response SLA hit rate by category",
            [g.key for g in with_sla],
            [_percent(g.sla_first_response.this_week.rate) for g in with_sla],
            [_percent(g.sla_first_response.week_before.rate) for g in with_sla],
            "%",
            limit=100,
        ),
        "satisfaction": bars(
            "Satisfaction scores (1-5)",
            list(satisfaction.this_week),
            list(map(float, satisfaction.this_week.values())),
            list(map(float, satisfaction.week_before.values())),
            "answers",
            counts=True,
        )
        if any(satisfaction.this_week.values()) or any(satisfaction.week_before.values())
        else bars("Satisfaction scores (1-5)", [], [], [], "answers"),
        "approvals": bars(
            "Median approval cycle per protocol step",
            [f"{s.protocol}.{s.step}" for s in steps],
            [_hours(s.this_week.cycle_time.median_seconds) for s in steps],
            [_hours(s.week_before.cycle_time.median_seconds) for s in steps],
            "hours",
        ),
    }


# ---- the page -------------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _pct(rate: Rate) -> str:
    return "–" if rate.rate is None else f"{_whole_percent(rate.rate)} <small>(n={rate.count})</small>"


def _durations(figures: Durations) -> str:
    if not figures.count:
        return "–"
    return (
        f"{_span(figures.median_seconds)} / {_span(figures.p90_seconds)} / {_span(figures.mean_seconds)} "
        f"<small>(n={figures.count})</small>"
    )


class Page:
    """The report's HTML; ``source(chart)`` says where each chart's image is."""

    def __init__(self, report: WeeklyReport, source: Source, api_base_url: str) -> None:
        self.report, self.source, self.base = report, source, api_base_url.rstrip("/")
        self.parts: list[str] = []

    def link(self, path: str | None, text: str) -> str:
        if not path:
            return _e(text)
        return f'<a href="{_e(self.base + path)}">{_e(text)}</a>'

    def ids(self, issue_ids: list[str], limit: int = 30) -> str:
        if not issue_ids:
            return ""
        shown = ", ".join(self.link(issue_link(i), i) for i in issue_ids[:limit])
        more = f" and {len(issue_ids) - limit} more" if len(issue_ids) > limit else ""
        count = f"{len(issue_ids)} issue" + ("s" if len(issue_ids) > 1 else "")
        return f"<details><summary>{count}</summary>{shown}{more}</details>"

    def add(self, html: str) -> None:
        self.parts.append(html)

    def chart(self, name: str, caption: str) -> None:
        """``caption`` is HTML (its links to issues); the image's ``alt`` is its text, which a screen reader reads."""
        self.add(
            f'<figure><img src="{_e(self.source(name))}" alt="{_e(_text_of(caption))}" width="720" height="330" '
            f'id="chart-{_e(name)}"><figcaption>{caption}</figcaption></figure>'
        )

    def table(self, head: list[str], rows: list[list[str]]) -> None:
        """``rows`` cells are HTML already (escaped by whoever made them)."""
        header = "".join(f"<th>{_e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
        self.add(f"<table><thead><tr>{header}</tr></thead><tbody>{body or '<tr><td>none</td></tr>'}</tbody></table>")

    def counts(self, title: str, rows: list[CountRow]) -> None:
        self.add(f"<h3>{_e(title)}</h3>")
        self.table(
            ["", self.report.week, self.report.week_before, "issues behind it"],
            [[self.link(r.link, r.key), str(r.this_week), str(r.week_before), self.ids(r.issue_ids)] for r in rows],
        )

    def render(self) -> str:
        r, base_issues = self.report, self.link
        self.add(
            f"<h1>{_e(r.brand)} weekly report {_e(r.week)}</h1>"
            f"<p>{_e(f'{r.since:%Y-%m-%d %H:%M} to {r.until:%Y-%m-%d %H:%M} UTC')} ({_e(r.time_zone)} weeks), "
            f"next to {_e(r.week_before)}. Generated {_e(f'{r.generated_at:%Y-%m-%d %H:%M} UTC')}, plan version "
            f"{r.plan_version}. Every figure links to the ops API's listing of the issues behind it.</p>"
        )
        if r.plan_review_overdue:
            self.add('<p class="warn">The response plan\'s review is overdue.</p>')
        volume = r.volume
        self.add("<h2>Volume</h2>")
        self.add(
            f"<p>Issues: <strong>{volume.issues.this_week}</strong> (week before: {volume.issues.week_before});"
            f" mentions: {volume.mentions.this_week} ({volume.mentions.week_before}).</p>"
        )
        self.chart(
            "volume",
            "Issues by platform: "
            + ", ".join(base_issues(row.link, f"{row.key} {row.this_week}") for row in volume.by_platform),
        )
        for title, rows in (
            ("By platform", volume.by_platform),
            ("By category", volume.by_category),
            ("By severity", volume.by_severity),
            ("By product", volume.by_product),
            ("By topic", volume.by_topic),
        ):
            self.counts(title, rows)

        self.add(
            "<h2>First response and resolution</h2><p>median / p90 / mean; business hours count only the "
            "team's working week.</p>"
        )
        self.chart(
            "response_times",
            "Median first response by category, business hours: "
            + ", ".join(base_issues(g.link, g.key) for g in r.times.by_category),
        )

        def clocks(c: Clocks) -> list[str]:
            return [_durations(c.calendar), _durations(c.business)]

        for title, groups in (("By category", r.times.by_category), ("By team", r.times.by_team)):
            self.add(f"<h3>{_e(title)}</h3>")
            self.table(
                [
                    "",
                    "issues",
                    "first response",
                    "first response (business)",
                    "resolution",
                    "resolution (business)",
                    "SLA first response",
                    "SLA resolution",
                ],
                [
                    [
                        base_issues(g.link, g.key),
                        f"{g.issues.this_week} <small>({g.issues.week_before})</small>",
                        *clocks(g.first_response.this_week),
                        *clocks(g.resolution.this_week),
                        f"{_pct(g.sla_first_response.this_week)} <small>was "
                        f"{_pct(g.sla_first_response.week_before)}</small>",
                        f"{_pct(g.sla_resolution.this_week)} <small>was {_pct(g.sla_resolution.week_before)}</small>",
                    ]
                    for g in groups
                ],
            )

        sla = r.sla
        self.add("<h2>SLA</h2>")
        self.add(
            f"<p>Hit rate, (applied − missed) / applied: first response {_pct(sla.first_response.this_week)} "
            f"(week before {_pct(sla.first_response.week_before)}), resolution {_pct(sla.resolution.this_week)}"
            f" ({_pct(sla.resolution.week_before)}). Breaches: {sla.breach_count.this_week} "
            f"({sla.breach_count.week_before}).</p>"
        )
        self.chart("sla", "First-response SLA hit rate by category")
        self.table(
            ["issue", "SLA", "category", "team", "due", "met", "late by"],
            [
                [
                    self.link(b.link, b.issue_id),
                    _e(b.sla),
                    _e(b.category),
                    _e(b.team),
                    _e(b.due.isoformat()),
                    _e(b.met_at.isoformat() if b.met_at else "not yet"),
                    _span(b.late_seconds),
                ]
                for b in sla.breaches
            ],
        )

        self.add("<h2>Approvals</h2>")
        self.chart("approvals", "Median approval cycle per protocol step")
        self.table(
            [
                "protocol step",
                "cycles",
                "cycle median / p90 / mean",
                "week before",
                "timed out",
                "escalated",
                "issues that timed out",
            ],
            [
                [
                    _e(f"{s.protocol}.{s.step}"),
                    str(s.this_week.cycles),
                    _durations(s.this_week.cycle_time),
                    _durations(s.week_before.cycle_time),
                    f"{s.this_week.timed_out} <small>({s.week_before.timed_out})</small>",
                    f"{s.this_week.escalated} <small>({s.week_before.escalated})</small>",
                    self.ids(s.this_week.timed_out_issue_ids),
                ]
                for s in r.approvals
            ],
        )

        satisfaction = r.satisfaction
        score = satisfaction.score
        self.add("<h2>Customer satisfaction</h2>")
        share = score.this_week.satisfied_share
        before = score.week_before.satisfied_share
        self.add(
            f"<p>CSAT (share rating 4–5): <strong>{'–' if share is None else _whole_percent(share)}</strong> "
            f"of {score.this_week.count} (week before: {'–' if before is None else _whole_percent(before)} of "
            f"{score.week_before.count}); response rate {_pct(satisfaction.response_rate.this_week)} "
            f"({_pct(satisfaction.response_rate.week_before)}).</p>"
        )
        self.chart("satisfaction", "Satisfaction scores, 1 to 5")
        self.table(
            ["issue", "score", "comment"],
            [[self.link(c.link, c.issue_id), _e(c.score), _e(c.comment)] for c in satisfaction.comments],
        )

        recurrence = r.recurrence
        self.add("<h2>Recurrence</h2>")
        self.table(
            ["", r.week, r.week_before],
            [
                [_e(name), _pct(getattr(recurrence, key).this_week), _pct(getattr(recurrence, key).week_before)]
                for name, key in (
                    ("any rule", "any_rule"),
                    ("same author (repeat contact)", "same_author"),
                    ("same product and topic (recurring problem)", "same_product_topic"),
                    ("reopened", "reopened"),
                )
            ],
        )
        self.counts("Top recurring products", recurrence.top_products)
        self.counts("Top recurring topics", recurrence.top_topics)

        surges = r.surges
        self.add(
            f"<h2>Surges and Crises</h2><p>Crises opened by a surge: {surges.crises.this_week} "
            f"(week before: {surges.crises.week_before}).</p>"
        )
        self.table(
            ["issue", "what surged", "started", "detected", "detection delay", "status", "resolved in", "resolution"],
            [
                [
                    self.link(c.link, c.issue_id),
                    _e(c.key),
                    _e(c.started and c.started.isoformat()),
                    _e(c.detected and c.detected.isoformat()),
                    _span(c.detection_delay_seconds),
                    _e(c.status),
                    _span(c.resolution_seconds),
                    _e(c.resolution_note),
                ]
                for c in surges.items
            ],
        )

        open_items = r.open_items
        self.add("<h2>Open at the week's end</h2>")
        self.table(
            ["", r.week, r.week_before, "issues"],
            [
                [
                    self.link(item.link, name),
                    str(item.count.this_week),
                    str(item.count.week_before),
                    self.ids(item.issue_ids),
                ]
                for name, item in (
                    ("follow-ups open", open_items.follow_ups),
                    ("open past their SLA", open_items.past_sla),
                )
            ],
        )

        canned = r.canned_replies
        self.add("<h2>Canned-reply warnings</h2>")
        self.table(
            ["", r.week, r.week_before],
            [
                ["raised", str(canned.raised.this_week), str(canned.raised.week_before)],
                ["overridden (sent anyway)", str(canned.overridden.this_week), str(canned.overridden.week_before)],
            ],
        )
        self.add(self.ids(canned.issue_ids))

        self.add(
            "<h2>Definitions</h2><dl>"
            + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in r.definitions.items())
            + "</dl>"
        )
        return (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(r.brand)} weekly report "
            f"{_e(r.week)}</title><style>{STYLE}</style></head><body>{''.join(self.parts)}</body></html>"
        )


STYLE = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:980px;margin:24px auto;"
    "color:#1f2328;padding:0 12px}table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}"
    "td,th{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}"
    "figure{margin:12px 0}figcaption{font-size:13px;color:#57606a}img{max-width:100%;height:auto}"
    ".warn{color:#9a6700;font-weight:600}small{color:#57606a}"
)


def render_html(report: WeeklyReport, source: Source, api_base_url: str = "") -> str:
    return Page(report, source, api_base_url).render()


def render_text(report: WeeklyReport) -> str:
    s, v = report.summary.this_week, report.volume

    def pct(rate: Rate) -> str:
        return "-" if rate.rate is None else _whole_percent(rate.rate)

    return "\n".join(
        [
            f"{report.brand} weekly report {report.week} (week before: {report.week_before})",
            f"Issues: {v.issues.this_week} ({v.issues.week_before}); mentions {v.mentions.this_week}",
            f"First response median: {_span(s.response_time.median_seconds)} "
            f"({_span(s.response_time_business.median_seconds)} in business hours)",
            f"SLA hit rate: first response {pct(s.sla.first_response)}, resolution {pct(s.sla.resolution)}; "
            f"breaches {report.sla.breach_count.this_week}",
            f"CSAT: {pct(Rate(rate=s.csat.satisfied_share, count=s.csat.count))} of {s.csat.count}",
            f"Crises from surges: {report.surges.crises.this_week}",
        ]
    )


# ---- CSV ------------------------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def render_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in CSV_COLUMNS])
    return out.getvalue().encode("utf-8")


# ---- all of it ------------------------------------------------------------------------------------------------


class MatplotlibReportRenderer:
    """:class:`chalicelib.services.ports.ReportRenderer`."""

    def render(self, report: WeeklyReport, rows: list[dict[str, Any]], api_base_url: str = "") -> ReportFiles:
        charts = draw_charts(report)
        names = {name: f"chart-{name}" for name in charts}

        def data_uri(name: str) -> str:
            return "data:image/png;base64," + base64.b64encode(charts[name]).decode()

        json_body = report.model_dump_json(indent=2).encode()
        csv_body = render_csv(rows)
        stored: dict[str, tuple[bytes, str]] = {
            "report.html": (render_html(report, data_uri, api_base_url).encode(), "text/html; charset=utf-8"),
            "report.json": (json_body, "application/json"),
            "report.csv": (csv_body, "text/csv; charset=utf-8"),
            **{f"{names[name]}.png": (png, "image/png") for name, png in charts.items()},
        }
        prefix = f"report-{report.week}"
        disk: dict[str, tuple[bytes, str]] = {
            f"{prefix}.html": (
                render_html(report, lambda name: f"{prefix}-{name}.png", api_base_url).encode(),
                "text/html; charset=utf-8",
            ),
            f"{prefix}.json": (json_body, "application/json"),
            f"{prefix}.csv": (csv_body, "text/csv; charset=utf-8"),
            **{f"{prefix}-{name}.png": (png, "image/png") for name, png in charts.items()},
        }
        return ReportFiles(
            stored=stored,
            disk=disk,
            email_html=render_html(report, lambda name: f"cid:{names[name]}", api_base_url),
            text=render_text(report),
            inline={names[name]: png for name, png in charts.items()},
        )
