"""The triage use case: a new mention is classified, folded into an issue and stored, atomically.

Per mention: one read of the dedup keys it could join through, then one transaction that stores the mention,
opens or updates the issue, claims the keys, appends the audit event and (High Priority, Crisis) opens the
escalation case. A retry or a re-delivery finds the mention already stored and writes nothing; a concurrent
processor that claimed a key first makes the transaction fail, and the mention is decided again on fresh reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from chalicelib.domain.classification import Classification, classify, model_text
from chalicelib.domain.dedup import KeyClaim, choose_issue, claims_for, plan_keys, settle
from chalicelib.domain.issues import (
    SYSTEM_TRIAGE,
    AuditEvent,
    EscalationCase,
    assignee,
    escalation_case_for,
    new_issue_id,
    open_issue,
    outranks,
)
from chalicelib.domain.models import Mention
from chalicelib.domain.plan import SEVERITY_ORDER, ResponsePlan
from chalicelib.domain.signals import TextSignals
from chalicelib.domain.triage import Escalation, IssueJoin, StoredMention, TriageChange
from chalicelib.services.errors import ArrivedOutOfOrder, ClaimConflict, DuplicateMention, IssueUnavailable
from chalicelib.services.ports import PlanSource, TriageStore

MAX_ATTEMPTS = 5


class TriageOutcome(StrEnum):
    OPENED = "opened"  # a new issue
    JOINED = "joined"  # folded into an existing issue
    ESCALATED = "escalated"  # joined, and raised the issue's category or severity
    NO_ISSUE = "no_issue"  # stored, classified, nothing to work on (No Action)
    DUPLICATE = "duplicate"  # already stored: nothing written


@dataclass(frozen=True)
class TriageResult:
    outcome: TriageOutcome
    issue_id: str | None
    classification: Classification


class BatchKeyReads:
    """The dedup-key reads of a batch's mentions in one call, for a processor that triages them one by one.

    :meth:`prefetch` reads the keys every mention of the batch could join through at once; each mention's
    :meth:`read_keys` is then answered from that read plus the claims this processor committed since, which is
    what a read of its own would return but for other processors' commits in between. On a key the mention
    claims, such a commit is caught as it always is: the commit's conditions fail (a
    :class:`~chalicelib.services.errors.ClaimConflict`), the mention's kept reads are dropped, and it is decided
    again on fresh ones. A key it only reads (its parent's conversation) is not re-checked: a parent committed by
    another processor within the batch's second goes unseen, as it does when the reply is read a moment before
    the parent is stored (the window was a read's round trip, it is now the batch). One ``BatchGetItem`` a batch
    instead of one a mention that opens or joins an issue (``make bench``: issue 14's calls and cost per
    mention)."""

    def __init__(self, store: TriageStore) -> None:
        self.store = store
        self._claims: dict[str, KeyClaim | None] = {}  # key → its claim as last read or written (None: none)
        self._asked: list[str] = []  # the keys of the mention being decided (its last read_keys)

    def prefetch(self, keys: list[str]) -> None:
        wanted = [key for key in dict.fromkeys(keys) if key not in self._claims]
        if wanted:
            found = self.store.read_keys(wanted)
            self._claims.update({key: found.get(key) for key in wanted})

    def read_keys(self, keys: list[str]) -> dict[str, KeyClaim]:
        self._asked = list(keys)
        self.prefetch(keys)
        return {key: claim for key in keys if (claim := self._claims[key]) is not None}

    def commit(self, change: TriageChange) -> None:
        try:
            self.store.commit(change)
        except Exception:
            # what is stored under this mention's keys is not what was read: it decides again on fresh reads of
            # them (the other mentions' keys are no staler than before)
            for key in [*self._asked, *(claim.key for claim in change.claims)]:
                self._claims.pop(key, None)
            raise
        self._claims.update({claim.key: claim for claim in change.claims})


def classify_batch(
    mentions: list[Mention], plans: PlanSource, analyze: Callable[[str], TextSignals]
) -> list[tuple[Mention, Classification]]:
    """How the new mentions of a batch classify, before triage (which classifies each again, with ``analyze``
    cached by the batch)."""
    plan, _version = plans.active()
    return [(mention, classify(mention, analyze(model_text(mention)), plan)) for mention in mentions]


def batch_lookups(classified: list[tuple[Mention, Classification]], plans: PlanSource) -> list[str]:
    """The dedup keys the new mentions of a batch could join through (those that open or join an issue)."""
    plan, _version = plans.active()
    keys: list[str] = []
    for mention, classification in classified:
        if classification.opens_issue:
            keys += [candidate.key for candidate in plan_keys(mention, classification).lookups]
    return keys


def triage_mention(
    mention: Mention,
    store: TriageStore,
    plans: PlanSource,
    analyze: Callable[[str], TextSignals],
    now: Callable[[], datetime] | None = None,
    prior: StoredMention | None = None,
) -> TriageResult:
    """Triage a mention once, whatever arrived before it: an edit that overtook it (its content is newer and is
    what gets triaged), a removal (the mention stays removed, and is triaged: the true order would have)."""
    now = now or (lambda: datetime.now(timezone.utc))
    for _ in range(MAX_ATTEMPTS):
        subject, version = settle(mention, prior.content if prior else None, prior.version if prior else None)
        try:
            return _triage(subject, version, prior, store, plans, analyze, now)
        except ArrivedOutOfOrder as found:
            prior = found.stored
    raise ClaimConflict(f"{mention.key}: its stored copy kept changing for {MAX_ATTEMPTS} attempts")


def _triage(
    mention: Mention,
    version: str,
    prior: StoredMention | None,
    store: TriageStore,
    plans: PlanSource,
    analyze: Callable[[str], TextSignals],
    now: Callable[[], datetime],
) -> TriageResult:
    plan, plan_version = plans.active()
    classification = classify(mention, analyze(model_text(mention)), plan)
    if not classification.opens_issue:
        return _store_without_issue(
            TriageChange(
                mention=mention, classification=classification, issue_id=None, content_version=version, prior=prior
            ),
            store,
        )
    keys = plan_keys(mention, classification)
    excluded: set[str] = set()
    allow_escalation = True
    for _ in range(MAX_ATTEMPTS):
        found = store.read_keys([c.key for c in keys.lookups])
        issue_id, via = choose_issue(mention, keys, found, plan.dedup, frozenset(excluded))
        stale = frozenset(excluded)
        if issue_id is None:
            change, outcome = _opening(mention, classification, plan, plan_version, keys, found, now(), stale)
        else:
            snapshot = next(found[c.key] for c in keys.lookups if c.key in found and found[c.key].issue_id == issue_id)
            escalate = allow_escalation and outranks(classification, snapshot.category, snapshot.severity_rank, plan)
            change, outcome = _joining(
                mention, classification, plan, keys, found, issue_id, via, snapshot, escalate, now(), stale
            )
        change.content_version, change.prior = version, prior
        try:
            store.commit(change)
        except DuplicateMention:
            return TriageResult(TriageOutcome.DUPLICATE, None, classification)
        except ClaimConflict:
            continue
        except IssueUnavailable:
            if change.join and change.join.escalation:
                allow_escalation = False  # someone raised it further meanwhile; join without raising
            elif issue_id:
                excluded.add(issue_id)  # resolved or closed: this mention starts a new issue
            continue
        return TriageResult(outcome, change.issue_id, classification)
    raise ClaimConflict(f"{mention.key}: could not settle its issue after {MAX_ATTEMPTS} attempts")


def _store_without_issue(change: TriageChange, store: TriageStore) -> TriageResult:
    try:
        store.commit(change)
    except DuplicateMention:
        return TriageResult(TriageOutcome.DUPLICATE, None, change.classification)
    return TriageResult(TriageOutcome.NO_ISSUE, None, change.classification)


def _opening(
    mention, classification, plan, version, keys, found, at, stale: frozenset[str] = frozenset()
) -> tuple[TriageChange, TriageOutcome]:
    issue = open_issue(mention, classification, plan, version, new_issue_id(mention.created_at))
    audit = [
        AuditEvent(
            issue_id=issue.issue_id,
            at=at,
            type="opened",
            actor=SYSTEM_TRIAGE,
            details={
                "mention": mention.key,
                "category": issue.category,
                "severity": issue.severity.value,
                "rule": issue.rule,
                "assigned_to": issue.assigned_to,
            },
        )
    ]
    change = TriageChange(
        mention=mention,
        classification=classification,
        issue_id=issue.issue_id,
        new_issue=issue,
        # the keys of a resolved or closed issue it could not join come to it, so its duplicates join it
        claims=claims_for(
            mention, keys, issue.issue_id, found, plan.dedup, issue.category, issue.severity_rank, stale=stale
        ),
        audit=audit,
        case=escalation_case_for(issue, plan, at),
    )
    return change, TriageOutcome.OPENED


def _joining(
    mention,
    classification,
    plan: ResponsePlan,
    keys,
    found,
    issue_id,
    via,
    snapshot: KeyClaim,
    escalate: bool,
    at,
    stale: frozenset[str] = frozenset(),
) -> tuple[TriageChange, TriageOutcome]:
    category, rank = snapshot.category, snapshot.severity_rank
    escalation = None
    audit = [
        AuditEvent(
            issue_id=issue_id,
            at=at,
            type="mention_added",
            actor=SYSTEM_TRIAGE,
            details={"mention": mention.key, "via": via},
        )
    ]
    case = None
    if escalate:
        team = classification.team
        sla = plan.categories[classification.category].sla
        escalation = Escalation(
            classification.category,
            classification.severity,
            team,
            assignee(plan, team, issue_id),
            first_response_due=mention.created_at + timedelta(minutes=sla.first_response_minutes) if sla else None,
            resolution_due=mention.created_at + timedelta(minutes=sla.resolution_minutes) if sla else None,
        )
        category, rank = classification.category, SEVERITY_ORDER[classification.severity]
        audit.append(
            AuditEvent(
                issue_id=issue_id,
                at=at,
                type="escalated",
                actor=SYSTEM_TRIAGE,
                details={
                    "mention": mention.key,
                    "from": snapshot.category,
                    "to": category,
                    "severity": classification.severity.value,
                    "rule": classification.rule,
                },
            )
        )
        if plan.categories[category].escalation_case:
            stakeholders = tuple(dict.fromkeys(t for t in (team, *plan.categories[category].notify) if t))
            case = EscalationCase(
                issue_id=issue_id,
                category=category,
                severity=classification.severity,
                stakeholders=stakeholders,
                protocol=plan.categories[category].protocol,
                opened_at=at,
                summary=f"Escalated by {mention.key}: {' '.join(mention.text.split())[:160]}",
            )
    change = TriageChange(
        mention=mention,
        classification=classification,
        issue_id=issue_id,
        join=IssueJoin(
            issue_id=issue_id, reach=mention.author.followers or 0, last_seen=mention.created_at, escalation=escalation
        ),
        claims=claims_for(mention, keys, issue_id, found, plan.dedup, category, rank, stale=stale),
        audit=audit,
        case=case,
    )
    return change, TriageOutcome.ESCALATED if escalation else TriageOutcome.JOINED
