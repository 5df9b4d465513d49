"""Alerts and dead letters over the ops API: the stored alerts (viewer), each dead-letter queue's messages with
their bodies redacted to ids, and a redrive of one message or all to the queue they came from (admin)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.auth import ops_route
from chalicelib.api.responses import error_response, json_response
from chalicelib.domain.roles import Role

views = Blueprint(__name__)


@ops_route(
    views,
    "/alerts",
    "GET",
    Role.VIEWER,
    "The stored alerts, newest first",
    query="chalicelib.api.alert_answers:AlertsQuery",
    answer="chalicelib.api.alert_answers:AlertList",
)
def list_alerts():
    from chalicelib.api.alert_answers import AlertList, AlertsQuery
    from chalicelib.api.ops import BadInput, query
    from chalicelib.bootstrap import stored_alerts

    try:
        wanted = query(AlertsQuery)
    except BadInput as bad:
        return error_response(400, str(bad))
    items = stored_alerts().recent(wanted.limit)
    return json_response(AlertList(items=items).model_dump(mode="json"))


@ops_route(
    views,
    "/dead-letters",
    "GET",
    Role.ADMIN,
    "Each dead-letter queue's messages, bodies redacted to ids",
    answer="chalicelib.api.alert_answers:DeadLetterList",
)
def list_dead_letters():
    from chalicelib.api.alert_answers import DeadLetterList, DeadLetterQueue
    from chalicelib.bootstrap import dead_letters

    letters = dead_letters()
    items = [
        DeadLetterQueue(queue=queue, source=source, messages=letters.peek(queue, 50))
        for queue, source in letters.sources.items()
    ]
    return json_response(DeadLetterList(items=items).model_dump(mode="json"))


@ops_route(
    views,
    "/dead-letters/redrive",
    "POST",
    Role.ADMIN,
    "Send one dead letter (or all of a queue) back to the queue it came from",
    body="chalicelib.api.alert_answers:RedriveRequest",
    answer="chalicelib.api.alert_answers:Redriven",
    errors=(404, 409),
)
def redrive():
    from chalicelib.api.alert_answers import Redriven, RedriveRequest
    from chalicelib.api.auth import caller
    from chalicelib.api.ops import BadInput, body
    from chalicelib.bootstrap import dead_letters
    from chalicelib.observability import logger

    try:
        wanted = body(RedriveRequest)
    except BadInput as bad:
        return error_response(400, str(bad))
    letters = dead_letters()
    if wanted.queue not in letters.sources:
        return error_response(404, f"queue: not one of {', '.join(letters.sources)}")
    try:
        moved = letters.redrive(wanted.queue, wanted.message_id)
    except LookupError as none:
        return error_response(409, str(none))
    if wanted.message_id and not moved:
        return error_response(404, f"message_id: no message {wanted.message_id} in {wanted.queue}")
    logger.info("dead letters redriven", extra={"actor": caller().name, "queue": wanted.queue, "moved": moved})
    return json_response(Redriven(queue=wanted.queue, moved=moved).model_dump(mode="json"))
