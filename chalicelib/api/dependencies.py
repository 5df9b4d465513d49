"""The adapters the handlers use, built once per process (so a warm Lambda reuses clients and lookups)."""

from __future__ import annotations

from functools import lru_cache

from chalicelib.settings import resources


@lru_cache(maxsize=1)
def mention_queue():
    from chalicelib.adapters.queue import SqsMentionQueue

    return SqsMentionQueue(resources().ingest_queue)


@lru_cache(maxsize=1)
def mention_repository():
    from chalicelib.adapters.mentions_table import DynamoMentionRepository

    return DynamoMentionRepository(resources().mentions_table)


@lru_cache(maxsize=1)
def triage_store():
    from chalicelib.adapters.triage_table import DynamoTriageStore

    return DynamoTriageStore(resources())


@lru_cache(maxsize=1)
def plan_store():
    from chalicelib.adapters.plans import DynamoPlanStore

    return DynamoPlanStore(resources().plans_table)


@lru_cache(maxsize=1)
def alerts():
    from chalicelib.adapters.alerts import SnsAlerts

    return SnsAlerts(resources())


@lru_cache(maxsize=1)
def surge_store():
    from chalicelib.adapters.surge_table import DynamoSurgeStore

    return DynamoSurgeStore(resources().surges_table)


@lru_cache(maxsize=1)
def _approval_adapters() -> dict:
    from chalicelib.adapters.approvals_table import DynamoApprovals
    from chalicelib.adapters.email import SesEmail
    from chalicelib.adapters.issues_table import DynamoIssues
    from chalicelib.adapters.outbox import OutboxPublisher
    from chalicelib.adapters.workflows import StepFunctionsWorkflows
    from chalicelib.settings import public_base_url, sender_email

    names = resources()
    return dict(approvals=DynamoApprovals(names.approvals_table), issues=DynamoIssues(names),
                email=SesEmail(sender_email()), workflows=StepFunctionsWorkflows(),
                outbox=OutboxPublisher(names.outbox_table), base_url=public_base_url(),
                audit_table=names.audit_table)


@lru_cache(maxsize=1)
def ops_issues():
    from chalicelib.adapters.issues_table import DynamoIssues

    return DynamoIssues(resources())


@lru_cache(maxsize=1)
def ops_tokens():
    from chalicelib.adapters.ops_tokens import DynamoOpsTokens

    return DynamoOpsTokens(resources().ops_tokens_table)


def approval_deps():
    """The approval use cases' adapters (built once) and the link signing key (looked up each time: Powertools
    caches it for five minutes, so a rotated key takes effect without a redeploy)."""
    from chalicelib.adapters.secrets import get_secret
    from chalicelib.services.approvals import ApprovalDeps

    return ApprovalDeps(link_key=get_secret("LINK_SIGNING_KEY"), **_approval_adapters())


def reset() -> None:
    """Tests: forget adapters built against another backend."""
    for factory in (mention_queue, mention_repository, triage_store, plan_store, _approval_adapters, surge_store, alerts,
                    ops_issues, ops_tokens):
        factory.cache_clear()
