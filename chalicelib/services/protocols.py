"""Start each issue's response protocol, and stop it when the issue ends, from the issues table's stream.

A new issue whose category has a protocol starts that protocol's state machine; an issue escalated into a
category with another protocol stops the old execution and starts the new one. An issue closed (by a person, or
merged into another) or resolved by a person (a PATCH, which moves ``ops_version``; the protocol resolves the
issue itself when it publishes, and is then finishing) stops its protocol, so nobody is asked to draft, review or
approve a reply to an issue that is over. Driven by the stream, not by
triage itself: the start can never be lost between the triage transaction and a Lambda crash (the stream
retries), and the per-mention path keeps its two AWS calls. Execution names are ``<issue>-<protocol>``, so a
retried record starts nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.issues import IssueStatus
from chalicelib.domain.plan import ResponsePlan
from chalicelib.services.issue_stream import issue_changes
from chalicelib.services.ports import ProtocolRuns
from chalicelib.settings import Resources


@dataclass(frozen=True)
class ProtocolStop:
    issue_id: str
    protocol: str
    cause: str


@dataclass(frozen=True)
class ProtocolStart:
    issue_id: str
    protocol: str
    category: str
    stop_protocol: str | None = None


def starts_for(records: list[dict[str, Any]], plan: ResponsePlan) -> list[ProtocolStart]:
    """Pure: which protocols the stream records call for."""
    out = []
    for change in issue_changes(records):
        if change.event not in ("INSERT", "MODIFY"):
            continue
        category, before = change.now("category"), change.before("category")
        if not category or category == before or category not in plan.categories:
            continue
        if change.now("status") not in (IssueStatus.OPEN, IssueStatus.IN_PROGRESS):
            continue
        protocol = plan.categories[category].protocol
        previous = plan.categories[before].protocol if before in plan.categories else None
        if protocol and protocol != previous:
            out.append(
                ProtocolStart(
                    issue_id=change.now("issue_id") or "", protocol=protocol, category=category, stop_protocol=previous
                )
            )
    return out


def stops_for(records: list[dict[str, Any]], plan: ResponsePlan) -> list[ProtocolStop]:
    """Pure: which running protocols the stream records end (an issue closed, or resolved by a person)."""
    out = []
    for change in issue_changes(records):
        status, before = change.now("status"), change.before("status")
        if change.event != "MODIFY" or status == before:
            continue
        by_a_person = change.now("ops_version") != change.before("ops_version")
        if not (status == IssueStatus.CLOSED or (status == IssueStatus.RESOLVED and by_a_person)):
            continue
        category = change.now("category")
        protocol = plan.categories[category].protocol if category in plan.categories else None
        if protocol:
            out.append(ProtocolStop(issue_id=change.now("issue_id") or "", protocol=protocol, cause=f"issue {status}"))
    return out


def start_protocols(
    records: list[dict[str, Any]], plan: ResponsePlan, plan_version: int, names: Resources, workflows: ProtocolRuns
) -> list[str]:
    started = []
    arn_prefix = _state_machine_arn_prefix(records[0].get("eventSourceARN", "")) if records else ""

    def stop(issue_id: str, protocol: str, cause: str) -> None:
        execution_prefix = arn_prefix.replace(":stateMachine:", ":execution:")
        workflows.stop(f"{execution_prefix}{names.state_machine(protocol)}:{issue_id}-{protocol}", cause=cause)

    for ended in stops_for(records, plan):
        stop(ended.issue_id, ended.protocol, ended.cause)
    for start in starts_for(records, plan):
        if start.stop_protocol:
            stop(start.issue_id, start.stop_protocol, f"escalated to {start.category}")
        machine_arn = arn_prefix + names.state_machine(start.protocol)
        if workflows.start(
            machine_arn,
            f"{start.issue_id}-{start.protocol}",
            {
                "issue_id": start.issue_id,
                "category": start.category,
                "protocol": start.protocol,
                "plan_version": plan_version,
            },
        ):
            started.append(f"{start.issue_id}-{start.protocol}")
    return started


def _state_machine_arn_prefix(stream_arn: str) -> str:
    """``arn:aws:states:<region>:<account>:stateMachine:`` from the table stream's own ARN."""
    parts = stream_arn.split(":")
    region, account = (parts[3], parts[4]) if len(parts) > 4 else ("us-east-1", "123456789012")
    return f"arn:aws:states:{region}:{account}:stateMachine:"
