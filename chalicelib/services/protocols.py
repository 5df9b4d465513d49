"""Start each issue's response protocol, from the issues table's stream.

A new issue whose category has a protocol starts that protocol's state machine; an issue escalated into a
category with another protocol stops the old execution and starts the new one. Driven by the stream, not by
triage itself: the start can never be lost between the triage transaction and a Lambda crash (the stream
retries), and the per-mention path keeps its two AWS calls. Execution names are ``<issue>-<protocol>``, so a
retried record starts nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.domain.plan import ResponsePlan
from chalicelib.services.issue_stream import issue_changes
from chalicelib.services.ports import ProtocolRuns
from chalicelib.settings import Resources


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
        if change.now("status") not in ("open", "in_progress"):
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


def start_protocols(
    records: list[dict[str, Any]], plan: ResponsePlan, plan_version: int, names: Resources, workflows: ProtocolRuns
) -> list[str]:
    started = []
    for start in starts_for(records, plan):
        arn_prefix = _state_machine_arn_prefix(records[0].get("eventSourceARN", ""))
        if start.stop_protocol:
            machine = names.state_machine(start.stop_protocol)
            workflows.stop(
                f"{arn_prefix.replace(':stateMachine:', ':execution:')}{machine}:"
                f"{start.issue_id}-{start.stop_protocol}",
                cause=f"escalated to {start.category}",
            )
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
