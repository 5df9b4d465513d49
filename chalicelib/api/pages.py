"""The HTML a responder sees behind an emailed link. Every value passes through :func:`e` (HTML escaping).

No script, no external resource: the Content-Security-Policy forbids both, and ``Referrer-Policy: no-referrer``
keeps the signed link out of other sites' logs.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

from chalicelib.domain.approval import ACTION_WORDS, CHOOSING_ACTIONS, EDITING_ACTIONS
from chalicelib.services.approvals import PageData

HEADERS: dict[str, str | list[str]] = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d232a}"
    "h1{font-size:1.3rem}section{margin:1.2rem 0}.tag{display:inline-block;padding:.1rem .45rem;"
    "border-radius:.3rem;background:#eef1f4;margin-right:.3rem}.warn{background:#fff3cd;border:1px solid "
    "#e0b400;padding:.6rem .8rem}blockquote{border-left:3px solid #c8d0d8;margin:.4rem 0;padding:.2rem .8rem}"
    "textarea{width:100%;min-height:7rem;font:inherit}table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #e3e7eb;padding:.3rem;text-align:left;vertical-align:top;font-size:13px}"
    "button{font:inherit;padding:.45rem .9rem;margin:.4rem .4rem 0 0}"
    "fieldset{border:1px solid #c8d0d8;margin:.6rem 0}"
)


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def same_page(exp: str | None, sig: str | None, **more: str | None) -> str:
    """A link page's form action: this page's own path with the link's query (``more``: the link's other
    parameters, e.g. a report link's ``to``). A reference of the query alone, because the page's absolute path
    depends on where the API is served (a deployed stage's ``/api`` prefix, a custom domain's base path):
    ``/surveys/...`` would post outside the API there."""
    return "?" + urlencode({**{name: value or "" for name, value in more.items()}, "exp": exp or "", "sig": sig or ""})


def document(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def message_page(title: str, message: str) -> str:
    return document(title, f"<h1>{e(title)}</h1><p>{e(message)}</p>")


def _mentions(mentions: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{e(m.get('created_at', ''))[:16]}</td><td>{e(m.get('platform'))}</td>"
        f"<td>{e(m.get('author_handle') or m.get('author_name') or '')}"
        f"{' (' + e(int(m['author_followers'])) + ' followers)' if m.get('author_followers') else ''}</td>"
        f"<td>{e(m.get('text'))}</td></tr>"
        for m in mentions
    )
    return f"<table><tr><th>when</th><th>where</th><th>who</th><th>what</th></tr>{rows}</table>"


HISTORY_ROWS = 200  # the page shows the trail's latest events


def _history(events: list[dict[str, Any]]) -> str:
    def summary(details: dict[str, Any]) -> str:
        keep = {
            k: v
            for k, v in details.items()
            if k in ("step", "comment", "people", "category", "severity", "channels", "via", "rule")
        }
        return "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in keep.items())

    shown = events[-HISTORY_ROWS:]  # the latest: a pile-on's trail would pass Lambda's 6 MB response
    rows = "".join(
        f"<tr><td>{e(ev.get('at', ''))[:19]}</td><td>{e(ev.get('type'))}</td><td>{e(ev.get('actor'))}"
        f"</td><td>{e(summary(ev.get('details') or {}))}</td></tr>"
        for ev in shown
    )
    earlier = (
        f"<p>{len(events) - len(shown)} earlier events are in the issue's trail (GET /issues/{{id}}).</p>"
        if len(events) > len(shown)
        else ""
    )
    return f"{earlier}<table><tr><th>when</th><th>what</th><th>who</th><th>details</th></tr>{rows}</table>"


# Where the reply goes: one radio group, since the form handler keeps only a field's first value.
CHANNEL_CHOICES = (
    ("public_reply", "Reply publicly (on the mention's thread)"),
    ("private_reply", "Reply privately (a direct message to the author)"),
    ("public_reply,private_reply", "Both: publicly and privately"),
)
BUTTONS = {
    "submitted": "Submit the reply",
    "approved": "Approve",
    "edited": "Approve with my edits",
    "rejected": "Reject (say why below)",
}


def _form(data: PageData, action_url: str) -> str:
    approval = data.approval
    # what each offered outcome needs is on the page: an edit needs the text, a rejection its reason
    editable = approval.action in EDITING_ACTIONS or "edited" in approval.outcomes
    fields = []
    if editable:
        fields.append(
            f"<label for=draft>Reply text</label><textarea id=draft name=draft>{e(approval.draft)}"
            f"</textarea>{_limits(data)}"
        )
    if approval.action in CHOOSING_ACTIONS:
        selected = ",".join(data.channels)
        options = "".join(
            f"<label><input type=radio name=channels value='{e(value)}'{' checked' if value == selected else ''}> "
            f"{e(label)}</label><br>"
            for value, label in CHANNEL_CHOICES
        )
        fields.append(f"<fieldset><legend>Where the reply goes</legend>{options}</fieldset>")
    if approval.action in ("review", "approve") or "rejected" in approval.outcomes:
        fields.append(
            "<label for=comment>Comment (needed to reject)</label><textarea id=comment name=comment></textarea>"
        )
    buttons = "".join(
        f"<button type=submit name=outcome value={e(outcome)}>{e(BUTTONS.get(outcome, outcome))}</button>"
        for outcome in approval.outcomes
    )
    return f"<form method=post action='{e(action_url)}'>{''.join(fields)}<div>{buttons}</div></form>"


def _limits(data: PageData) -> str:
    """The longest reply each channel takes on this platform (checked again by the server when you send)."""
    stated = [(channel, limit) for channel, limit in data.limits.items() if limit is not None]
    if not stated:
        return ""
    return (
        "<p class=limits>Length limits on "
        + e(data.issue.get("platform") or "this platform")
        + ": "
        + "; ".join(f"{e(channel.replace('_', ' '))} {e(limit)} characters" for channel, limit in stated)
        + ".</p>"
    )


def _deadline(data: PageData) -> str:
    approval = data.approval
    if not approval.due_at:
        return ""
    escalation = (
        f" If nobody answers by then, the step goes to {e(', '.join(approval.escalates_to))}."
        if approval.escalates_to
        else ""
    )
    return (
        f"<p class=deadline><strong>Due {e(approval.due_at[:16].replace('T', ' '))} UTC "
        f"({e(data.time_left)}).</strong>{escalation}</p>"
    )


def _voice(guidance: list[str]) -> str:
    if not guidance:
        return ""
    items = "".join(f"<li>{e(line)}</li>" for line in guidance)
    return f"<section><h2>Brand voice</h2><ul class=voice>{items}</ul></section>"


def _similar(replies: list[dict[str, Any]]) -> str:
    if not replies:
        return ""
    rows = "".join(
        f"<tr><td>{e(str(r.get('published_at', ''))[:16])}</td><td>{e(r.get('issue_id'))}</td>"
        f"<td>{e(str(r.get('channel', '')).replace('_', ' '))}</td><td>{e(r.get('text'))}</td></tr>"
        for r in replies
    )
    return (
        "<section><h2>Replies sent on similar issues</h2><p>Make this one personal: the customer may have "
        "seen these.</p><table class=similar><tr><th>when</th><th>issue</th><th>channel</th><th>reply</th>"
        f"</tr>{rows}</table></section>"
    )


def approval_page(data: PageData, action_url: str) -> str:
    approval, issue = data.approval, data.issue
    what = ACTION_WORDS.get(approval.action, approval.action)
    tags = "".join(
        f"<span class=tag>{e(label)}: {e(value)}</span>"
        for label, value in (
            ("category", str(issue.get("category", "")).replace("_", " ")),
            ("severity", issue.get("severity")),
            ("status", issue.get("status")),
            ("team", issue.get("team")),
            ("mentions", issue.get("mention_count")),
            ("reach", issue.get("reach")),
        )
    )
    parts = [
        f"<h1>{e(what)}: {e(approval.role)}</h1>",
        f"<p>For {e(approval.person)} · step <strong>{e(approval.step)}</strong> ({e(approval.attempt)}) · "
        f"issue {e(approval.issue_id)}</p>",
        _deadline(data),
        f"<section>{tags}<p>{e(issue.get('description'))}</p>"
        + (
            f"<p><a class=original href='{e(data.post_url)}' rel='noopener noreferrer'>The original post</a></p>"
            if data.post_url
            else ""
        )
        + "</section>",
    ]
    if approval.comment:
        parts.append(
            f"<section><h2>Comment from {e(approval.commented_by)}</h2><blockquote>{e(approval.comment)}"
            "</blockquote></section>"
        )
    if approval.draft and approval.action not in ("draft", "respond"):
        parts.append(f"<section><h2>The draft</h2><blockquote>{e(approval.draft)}</blockquote></section>")
    if data.canned_warning:
        parts.append(f"<p class=warn role=alert><strong>Warning:</strong> {e(data.canned_warning)}</p>")
    parts += [
        _voice(data.guidance),
        f"<section><h2>Your answer</h2>{_form(data, action_url)}</section>",
        _similar(data.similar),
        f"<section><h2>Mentions</h2>{_mentions(data.mentions)}</section>",
        f"<section><h2>History</h2>{_history(data.history)}</section>",
    ]
    return document(f"{what}: {approval.issue_id}", "".join(parts))


def done_page(outcome: str, step: str, warning: str | None = None) -> str:
    extra = f"<p class=warn role=alert>{e(warning)}</p>" if warning else ""
    return document(
        "Recorded",
        f"<h1>Recorded: {e(outcome)}</h1><p>Your answer to the {e(step)} step is on the "
        f"issue's record and the protocol has moved on. You can close this page.</p>{extra}",
    )
