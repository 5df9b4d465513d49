"""A step's email: subject, a plain-text part and an HTML part (the mailer sends both, as multipart/alternative).

Every piece of user text (the issue's description, comments, drafts, names) is escaped in the HTML; the plain
part carries the same facts. The signed link appears in both and nowhere else (never in a log line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from chalicelib.domain.approval import ACTION_WORDS, Approval, time_left
from chalicelib.domain.text_safety import clean_link, one_line


@dataclass(frozen=True)
class StepEmail:
    subject: str
    text: str
    html: str


def safe_web_link(url: Any) -> str | None:
    """An http(s) address to link to, or ``None``: a ``javascript:`` or other scheme from a webhook is not, nor an
    address holding whitespace or a control character (written into the plain-text part, a line break in it would
    start lines of the author's choosing, such as a forged "Open:" link). Such a link is left out of the email;
    the mention keeps it as it came."""
    value = str(url or "")
    if not value.lower().startswith(("https://", "http://")) or len(value) > 2048 or not clean_link(value):
        return None
    return value if value.split("//", 1)[1].split("/", 1)[0] else None  # a host, not "https:///path"


def step_email(
    approval: Approval,
    issue: dict[str, Any],
    link: str,
    now: datetime,
    guidance: list[str],
    post_url: str | None,
    sla_minutes: int,
) -> StepEmail:
    what = ACTION_WORDS.get(approval.action, approval.action)
    urgency = {
        "reminder": "Reminder: ",
        "escalated": "Escalated to you: ",
        "escalated_reminder": "Reminder, escalated to you: ",
    }.get(approval.attempt, "")
    category = str(issue.get("category", "")).replace("_", " ")
    subject = f"{urgency}{what} [{category}, {issue.get('severity', '')}] {approval.issue_id}"
    # one line: describe() writes it so, and an issue described before that must not add lines either
    description = one_line(issue.get("description", ""))
    left = time_left(approval.due_at, now)
    deadline = (
        f"Due {approval.due_at[:16].replace('T', ' ')} UTC ({left})"
        if approval.due_at
        else f"Within {sla_minutes} minutes"
    )
    escalation = (
        f"If nobody answers by then, the step goes to {', '.join(approval.escalates_to)}."
        if approval.escalates_to
        else ""
    )
    lines = [f"{what} ({approval.role}).", deadline + ".", *([escalation] if escalation else []), "", description]
    if post_url:
        lines += ["", f"The original post: {post_url}"]
    # people's words are quoted, never lines of the email's own: a comment is one line, and each line of a draft
    # starts with "> ", so neither can pass for the "Open:" line or the words around it
    if approval.comment:
        lines += ["", f"Comment from {one_line(approval.commented_by)}: {one_line(approval.comment)}"]
    if approval.draft:
        lines += ["", "Current draft:", *(f"> {line}" for line in approval.draft.splitlines())]
    if guidance:
        lines += ["", "Brand voice:", *(f"- {line}" for line in guidance)]
    lines += ["", f"Open: {link}", "", "The link is for you alone, works once, and expires."]
    html = (
        f"<p><strong>{escape(what)}</strong> ({escape(approval.role)}).</p>"
        f"<p><strong>{escape(deadline)}.</strong> {escape(escalation)}</p>"
        f"<p>{escape(description)}</p>"
        + (f'<p><a href="{escape(post_url, quote=True)}">The original post</a></p>' if post_url else "")
        + (
            f"<p>Comment from {escape(approval.commented_by)}: {escape(approval.comment)}</p>"
            if approval.comment
            else ""
        )
        + (f"<p>Current draft:</p><blockquote>{escape(approval.draft)}</blockquote>" if approval.draft else "")
        + (
            "<p>Brand voice:</p><ul>" + "".join(f"<li>{escape(line)}</li>" for line in guidance) + "</ul>"
            if guidance
            else ""
        )
        + f'<p><a href="{escape(link, quote=True)}">Open the {escape(approval.step)} step</a></p>'
        + "<p>The link is for you alone, works once, and expires.</p>"
    )
    return StepEmail(subject, "\n".join(lines), html)
