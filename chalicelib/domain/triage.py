"""What triaging one mention writes, as the triage store receives it: pure data, no storage names.

The use case (``services/triage.py``) decides it; the triage store (``adapters/triage_table.py`` on DynamoDB,
``adapters/memory.py`` in memory) commits it all-or-nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.domain.classification import Classification
from chalicelib.domain.dedup import KeyClaim
from chalicelib.domain.issues import AuditEvent, EscalationCase, Issue
from chalicelib.domain.models import Mention
from chalicelib.domain.plan import Severity


@dataclass(frozen=True)
class Escalation:
    category: str
    severity: Severity
    team: str | None
    assigned_to: str | None
    # The new category's SLA counted from the escalation; the issue keeps an earlier due it already had.
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None


@dataclass(frozen=True)
class IssueJoin:
    issue_id: str
    reach: int
    last_seen: datetime
    escalation: Escalation | None = None


@dataclass
class TriageChange:
    """Everything one mention writes, committed all-or-nothing by the store."""

    mention: Mention
    classification: Classification
    issue_id: str | None
    new_issue: Issue | None = None
    join: IssueJoin | None = None
    claims: list[KeyClaim] = field(default_factory=list)
    audit: list[AuditEvent] = field(default_factory=list)
    case: EscalationCase | None = None
    content_version: str | None = None  # of the mention's content (see ``dedup.content_version``)
    prior: StoredMention | None = None  # what earlier-arriving events stored; None: nothing is stored yet


@dataclass(frozen=True)
class StoredMention:
    """What is stored under a mention's identity when an event of it arrives.

    ``content`` is None for a bare tombstone (a removal or hide that overtook its creation).
    """

    content: Mention | None
    version: str | None
    triaged: bool
    status: str

    @property
    def awaits_triage(self) -> bool:
        """An edit stored content before the original arrived (or without it): triage it now."""
        from chalicelib.domain.dedup import carries_content

        return not self.triaged and self.content is not None and carries_content(self.content)
