"""``make run``'s walk-through: the replay's High Priority issue is taken to a published reply the way its people
would do it, through their emailed links over HTTP (GET the page, POST the form): PR drafts a reply for both
channels, legal approves, management approves; the publisher posts it (to the outbox locally) and the run resolves
the issue. Nothing here reaches into the app: it only reads the tables ``make run`` already shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlencode

ANSWERS = {
    "draft": {"outcome": "submitted", "channels": "public_reply,private_reply"},
    "respond": {"outcome": "submitted", "channels": "public_reply"},
    "review": {"outcome": "approved", "comment": "Legal: no admission, fine to publish."},
    "approve": {"outcome": "approved"},
}


class Stack(Protocol):
    base_url: str
    api_url: str
    secrets: dict[str, str]

    def scan(self, table: str) -> list[dict[str, Any]]: ...

    def issues(self) -> list[dict[str, Any]]: ...


def reply_text(issue: dict[str, Any], mentions: list[dict[str, Any]]) -> str:
    """A short, personal reply (it fits an X post's 280 characters)."""
    first = min(mentions, key=lambda m: str(m.get("created_at", ""))) if mentions else {}
    handle = str(first.get("author_handle") or "").lstrip("@")
    greeting = f"@{handle} " if handle and first.get("platform") in ("x", "instagram") else ""
    return (
        f"{greeting}We're sorry, this is not the quality we promise. Our care team is looking into it "
        "today and will message you directly with a fix."
    )


def walk_through(
    stack: Stack, echo: Callable[[str], None] = print, timeout: float = 180.0, issue_id: str | None = None
) -> dict[str, Any] | None:
    """Act on every step of the first High Priority issue (or ``issue_id``) until its reply is published; the
    published rows."""
    from chalicelib.domain.links import link_path
    from chalicelib.settings import Resources
    from infra.local.replay import http

    names = Resources.for_stage("local")
    issues = sorted(
        (
            i
            for i in stack.issues()
            if i["issue_id"] == issue_id or (not issue_id and i.get("category") == "high_priority")
        ),
        key=lambda i: str(i.get("first_seen", "")),
    )
    if not issues:
        echo("  walk-through: no High Priority issue in the replay")
        return None
    issue = issues[0]
    issue_id = issue["issue_id"]
    mentions = [m for m in stack.scan(names.mentions_table) if m.get("issue_id") == issue_id]
    text = reply_text(issue, mentions)
    echo(f"\nWalking High Priority issue {issue_id} through its protocol (as its people would, by their links):")
    acted: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        published = [
            r
            for r in stack.scan(names.outbox_table)
            if r.get("issue_id") == issue_id and not str(r.get("approved_by", "")).startswith("system:")
        ]  # the people's reply; a survey's own message (approved by ``system:surveys``) is not it
        if published:
            for row in published:
                echo(
                    f"  published {row['channel']} on {row['platform']} to {row.get('recipient') or 'the author'} "
                    f'at {row["published_at"][:19]}: "{row["text"][:90]}"'
                )
            return {"issue_id": issue_id, "published": published}
        pending = [
            a
            for a in stack.scan(names.approvals_table)
            if a.get("issue_id") == issue_id
            and a.get("status") == "pending"
            and "person" in a
            and a.get("send_state", "sent") == "sent"
            and a["approval_id"] not in acted
        ]
        steps_done = {
            a["step"]
            for a in stack.scan(names.approvals_table)
            if a.get("issue_id") == issue_id and a.get("status") == "used"
        }
        for approval in sorted(pending, key=lambda a: a["created_at"]):
            if approval["step"] in steps_done:
                continue
            link = stack.base_url + link_path(
                stack.secrets["LINK_SIGNING_KEY"],
                approval["approval_id"],
                approval["person"],
                int(approval["expires_at"]),
            )
            page = http("GET", link)
            fields = dict(ANSWERS.get(approval["action"], {"outcome": "approved"}))
            if approval["action"] in ("draft", "respond"):
                fields["draft"] = text
            answer = http(
                "POST", link, urlencode(fields).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
            )
            acted.add(approval["approval_id"])
            steps_done.add(approval["step"])
            echo(
                f"  {approval['person']} opened the {approval['step']} step (page {page.status}) and answered "
                f"{fields['outcome']} -> {answer.status}"
            )
        time.sleep(1)
    echo(f"  walk-through: no published reply for {issue_id} within {timeout:.0f} s")
    return None


# The demo influencer (demo/sample_stream.jsonl's demo-influencer-1, same author id and handle) writes again once
# her issue is resolved: a fresh native X delivery that the recurrence rules link to the resolved issue.
FOLLOW_UP = {
    "id": "demo-influencer-2",
    "text": "@aurelle thanks for the answer, but the replacement Lina trench coat lost a button too.",
    "author": {
        "id": "x-renee",
        "handle": "stylebyrenee",
        "name": "Renée Laurent",
        "followers": 412000,
        "verified": True,
    },
}


def follow_up(
    stack: Stack,
    issue_id: str,
    echo: Callable[[str], None] = print,
    timeout: float = 60.0,
    row: dict[str, Any] = FOLLOW_UP,
) -> bool:
    """Once ``issue_id`` is resolved, post ``row`` (``FOLLOW_UP``) as a signed X delivery over HTTP; whether it was
    accepted."""
    from datetime import datetime, timezone

    from infra.local import deliveries
    from infra.local.replay import post_delivery

    deadline = time.monotonic() + timeout
    while not any(i["issue_id"] == issue_id and i.get("status") == "resolved" for i in stack.issues()):
        if time.monotonic() > deadline:
            echo(f"  follow-up: issue {issue_id} not resolved within {timeout:.0f} s; nothing posted")
            return False
        time.sleep(1)
    delivery = deliveries.x_delivery({**row, "created_at": datetime.now(timezone.utc).isoformat()})
    answer = post_delivery(stack.api_url, delivery, stack.secrets)
    echo(
        f"  @{row['author']['handle']} writes again after the resolution (HTTP {answer.status}): shown recurring below"
    )
    return answer.status == 200
