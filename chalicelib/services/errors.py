"""The errors the ports raise, in one place: adapters raise them, use cases and handlers catch them.

Each says what went wrong in the port's own terms (a version conflict, a send already under way), never in
DynamoDB's or SQS's, so a use case catches the same error from the AWS adapter and from the in-memory fake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.domain.triage import StoredMention


# -- triage store ----------------------------------------------------------------------------------------------
class DuplicateMention(Exception):
    """The mention is already stored and triaged."""


class ArrivedOutOfOrder(Exception):
    """An edit or a removal of the mention was stored before it (or since we read it), and it is not triaged:
    decide again on what is stored."""

    def __init__(self, stored: StoredMention) -> None:
        super().__init__(stored.content.key if stored.content else "tombstone")
        self.stored = stored


class ClaimConflict(Exception):
    """Another processor claimed a key (or touched the issue) between our read and our write."""


class IssueUnavailable(Exception):
    """The issue we meant to join is resolved or closed, or changed under an escalation."""


# -- ingest, plans, secrets ---------------------------------------------------------------------------------
class QueueSendError(RuntimeError):
    """The ingest queue did not take every mention of a delivery (answered 503, so the platform redelivers)."""


class PlanConflict(RuntimeError):
    """Someone else activated a version meanwhile; upload again on top of it."""


class SecretUnavailable(RuntimeError):
    """The secret is neither in the environment nor in Parameter Store: a deployment problem, not the client's."""


# -- approvals, mail, workflows, publishing ----------------------------------------------------------------------
class AlreadyUsed(Exception):
    """The link (or its step) was used, or the step moved on."""


class SendInProgress(Exception):
    """Another delivery holds this send's claim and its lease runs: retry later (it is sent by then, or the
    lease is over and the retry sends it)."""


class StepCallbackFailed(Exception):
    """The step is no longer waiting for this token (timed out, escalated, or the execution ended)."""


class WorkflowUnavailable(RuntimeError):
    """Step Functions could not be reached or refused for now (throttled, a 5xx, the network): try again later."""


# -- surges -------------------------------------------------------------------------------------------------------
class StateConflict(Exception):
    """Another processor changed this surge key's state first (raised by :meth:`SurgeStore.save_state`)."""
