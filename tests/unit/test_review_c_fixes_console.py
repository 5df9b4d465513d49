"""``make run``'s console prints authors' words (a mention's text, an alert's subject, a reply) without their control
characters: an author's terminal escape sequence does not retitle, clear or move the terminal it is printed on."""

from __future__ import annotations

import json

from infra.local.console import Announcer, printable, summarize_issues

ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m"  # retitle the terminal, clear the screen, a C1 CSI


def test_printable_drops_control_characters_and_keeps_spaces() -> None:
    assert printable(f"{ESCAPES}my  jacket\tbroke\r\nagain\x7f\x00") == "]0;pwned[2J31mmy  jacket broke  again"
    assert printable("plain words, ünïcode ✓") == "plain words, ünïcode ✓"


def test_an_issue_summary_prints_no_escape_sequence() -> None:
    issue = {
        "issue_id": "iss-1",
        "category": "high_priority",
        "team": "customer_service",
        "severity": "high",
        "mention_count": 1,
        "reach": 10,
        "description": f'High Priority: Cortez Denim Jacket on x from ana: "{ESCAPES} my Cortez jacket broke"',
    }
    lines: list[str] = []
    summarize_issues([issue], [], echo=lines.append)
    assert any("my Cortez jacket broke" in line for line in lines)
    assert not [line for line in lines if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in line)]


class _Stack:
    base_url = "http://localhost:8000"
    moto_url = "http://localhost:5000"
    secrets = {"LINK_SIGNING_KEY": "k"}

    def scan(self, table: str) -> list[dict]:
        return []

    def issues(self) -> list[dict]:
        return []

    def alerts_received(self) -> list[dict]:
        body = {"subject": f"New High Priority issue: {ESCAPES}free money", "message": "m"}
        return [{"Body": json.dumps(body), "MessageAttributes": {"kind": {"StringValue": "new_issue"}}}]


def test_an_alert_subject_prints_no_escape_sequence() -> None:
    lines: list[str] = []
    Announcer(_Stack(), echo=lines.append).poll()  # type: ignore[arg-type]
    assert lines == ["  ALERT on SNS [kind=new_issue]: New High Priority issue: ]0;pwned[2J31mfree money"]


class _StackWithApprovals(_Stack):
    def scan(self, table: str) -> list[dict]:
        if not table.endswith("approvals"):
            return []
        base = {"send_state": "sent", "expires_at": "2000000000", "attempt": "initial", "step": "respond"}
        return [
            {
                **base,
                "approval_id": "r1",
                "person": "cs1@x.example",
                "protocol": "routine",
                "issue_id": "iss-r",
                "created_at": "2026-11-30T10:00:00",
            },
            {
                **base,
                "approval_id": "h1",
                "person": "pr@x.example",
                "protocol": "high_priority",
                "issue_id": "iss-h",
                "created_at": "2026-11-30T10:01:00",
                "step": "draft",
            },
        ]

    def alerts_received(self) -> list[dict]:
        return []


def test_every_approval_link_is_printed_as_it_is_sent_routine_ones_too() -> None:
    """The contract: make run prints each approval link as it is sent."""
    lines: list[str] = []
    Announcer(_StackWithApprovals(), echo=lines.append).poll()  # type: ignore[arg-type]
    assert any("cs1@x.example" in line and "/approvals/r1?exp=" in line for line in lines)
    assert any("/approvals/h1?exp=" in line for line in lines)
