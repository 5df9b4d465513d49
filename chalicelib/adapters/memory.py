"""An in-memory :class:`~chalicelib.services.ports.TriageStore`: the same conditions as the DynamoDB one.

Used by the services' unit tests and by ``make eval`` (dedup on thousands of real tweets, offline). The
DynamoDB store is tested against the same scenarios on moto.
"""

from __future__ import annotations

import threading

from chalicelib.domain.dedup import KeyClaim
from chalicelib.domain.issues import LIVE_STATUSES, AuditEvent, EscalationCase, Issue
from chalicelib.domain.plan import SEVERITY_ORDER
from chalicelib.domain.triage import TriageChange
from chalicelib.services.errors import ClaimConflict, DuplicateMention, IssueUnavailable


class InMemoryTriageStore:
    def __init__(self) -> None:
        self.mentions: dict[str, dict] = {}
        self.issues: dict[str, Issue] = {}
        self.keys: dict[str, KeyClaim] = {}
        self.audit: list[AuditEvent] = []
        self.cases: dict[str, EscalationCase] = {}
        self._lock = threading.Lock()

    def read_keys(self, keys: list[str]) -> dict[str, KeyClaim]:
        with self._lock:
            return {key: self.keys[key] for key in keys if key in self.keys}

    def commit(self, change: TriageChange) -> None:
        with self._lock:
            mention = change.mention
            if mention.key in self.mentions:
                raise DuplicateMention(mention.key)
            for claim in change.claims:
                held = self.keys.get(claim.key)
                taken_over = claim.replaces is not None and held is not None and held.issue_id == claim.replaces
                live = held is not None and held.expires_at >= mention.created_at and not taken_over
                if held and held.issue_id != claim.issue_id and live:
                    raise ClaimConflict(claim.key)
            join = change.join
            if join:
                issue = self.issues.get(join.issue_id)
                if issue is None or issue.status not in LIVE_STATUSES:
                    raise IssueUnavailable(join.issue_id)
                if join.escalation and SEVERITY_ORDER[join.escalation.severity] <= issue.severity_rank:
                    raise IssueUnavailable(join.issue_id)
            if change.new_issue and change.new_issue.issue_id in self.issues:
                raise ClaimConflict(change.new_issue.issue_id)
            # every condition holds: apply all of it
            self.mentions[mention.key] = {
                "mention": mention,
                "issue_id": change.issue_id,
                "category": change.classification.category,
            }
            if change.new_issue:
                self.issues[change.new_issue.issue_id] = change.new_issue
            if join:
                issue = self.issues[join.issue_id]
                update = {
                    "mention_count": issue.mention_count + 1,
                    "reach": issue.reach + join.reach,
                    "last_seen": max(issue.last_seen, join.last_seen),
                }
                if join.escalation:
                    update.update(
                        category=join.escalation.category,
                        severity=join.escalation.severity,
                        team=join.escalation.team,
                        assigned_to=join.escalation.assigned_to,
                    )
                    for name, due in (
                        ("sla_first_response_due", join.escalation.first_response_due),
                        ("sla_resolution_due", join.escalation.resolution_due),
                    ):
                        stored = getattr(issue, name)
                        if due is not None:
                            update[name] = min(stored, due) if stored else due
                self.issues[join.issue_id] = issue.model_copy(update=update)
            for claim in change.claims:
                self.keys[claim.key] = claim
            self.audit.extend(change.audit)
            if change.case:  # an issue escalated again keeps one case: when and why it opened stay
                earlier = self.cases.get(change.case.issue_id)
                self.cases[change.case.issue_id] = (
                    change.case.model_copy(update={"opened_at": earlier.opened_at, "summary": earlier.summary})
                    if earlier
                    else change.case
                )
