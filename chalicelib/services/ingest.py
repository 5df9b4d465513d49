"""Use cases of ingestion: accept a webhook delivery, and record a queued mention.

The web handler calls :func:`accept_delivery` (verify, parse, enqueue: nothing heavy); the queue processor
calls :func:`record_mention` for each message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import ModuleType

from chalicelib.domain.models import Mention, MentionEvent
from chalicelib.platforms.base import PayloadTooLarge, SecretLookup, WebhookRequest
from chalicelib.services.ports import MentionQueue, MentionRepository, StoreOutcome
from chalicelib.settings import MAX_WEBHOOK_BYTES


@dataclass(frozen=True)
class Accepted:
    queued: int
    ignored: int


def accept_delivery(
    platform: ModuleType, request: WebhookRequest, secret: SecretLookup, queue: MentionQueue, now: datetime
) -> Accepted:
    """Verify a POSTed delivery, turn it into mentions and queue them. Raises ``WebhookError`` for bad input."""
    if len(request.raw_body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"body is {len(request.raw_body)} bytes; the limit is {MAX_WEBHOOK_BYTES}")
    platform.verify(request, secret, now)
    delivery = platform.parse(request, now)
    queued = queue.send(delivery.mentions) if delivery.mentions else 0
    return Accepted(queued=queued, ignored=delivery.ignored_events)


_MARKS = {MentionEvent.REMOVED: (StoreOutcome.REMOVED, "removed"), MentionEvent.HIDDEN: (StoreOutcome.HIDDEN, "hidden")}


def record_mention(mention: Mention, repository: MentionRepository) -> StoreOutcome:
    """Store a mention once, whatever the retries; apply edits, removals and hides to the stored one."""
    if mention.event is MentionEvent.CREATED:
        return StoreOutcome.STORED if repository.add(mention) else StoreOutcome.DUPLICATE
    if mention.event is MentionEvent.EDITED:
        repository.apply_edit(mention)
        return StoreOutcome.EDITED
    outcome, status = _MARKS[mention.event]
    repository.mark(mention.platform, mention.external_id, status)
    return outcome
