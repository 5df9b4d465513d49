"""``/webhooks/{platform}``: handshakes (GET) and deliveries (POST) from the platforms.

The handler only verifies, validates and enqueues, then answers 200; everything heavy is behind the queue.
Every refusal is a 4xx with ``{"error": ...}``; a 5xx only ever means our side is down (and the platform's
retry will then deliver again, which the idempotent processor absorbs). A 200 means every mention is within
:mod:`chalicelib.domain.limits` and so can be stored; the work per request is bounded there too (a body over
``MAX_WEBHOOK_BYTES`` or a delivery of more than ``MAX_MENTIONS_PER_DELIVERY`` mentions is a 413). Any other method
(PUT, PATCH, DELETE, HEAD, OPTIONS) is a 405 with ``{"error": ...}`` and ``Allow: GET, POST`` (a route of its own:
otherwise Chalice answers its own ``{"Code", "Message"}`` shape, and API Gateway a 403).
"""

from __future__ import annotations

from datetime import datetime, timezone

from chalice import Blueprint, Response

from chalicelib.api.responses import ANY_CONTENT_TYPE, error_response, json_response
from chalicelib.observability import logger, metrics

webhooks = Blueprint(__name__)

# Any content type: the platform modules judge the body themselves, and a type the route did not list would otherwise
# be answered by Chalice's own 415 (no ``error`` field), outside the webhook contract.
CONTENT_TYPES = ANY_CONTENT_TYPE
METHODS = ["GET", "POST"]
OTHER_METHODS = ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _request(platform_name: str):
    from chalicelib.platforms.base import WebhookRequest

    current = webhooks.current_request
    headers = {name.lower(): value for name, value in (current.headers or {}).items()}
    return WebhookRequest(
        method=current.method,
        headers=headers,
        query=dict(current.query_params or {}),
        raw_body=_bytes(current.raw_body),
    )


def _bytes(body: str | bytes | None) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else (body or b"")


@webhooks.route("/webhooks/{platform_name}", methods=OTHER_METHODS, content_types=CONTENT_TYPES)
def webhook_method_not_allowed(platform_name: str) -> Response:
    method = webhooks.current_request.method
    answer = error_response(405, f"{method} is not allowed on /webhooks/{{platform}}; use {' or '.join(METHODS)}")
    answer.headers["Allow"] = ", ".join(METHODS)
    return answer


@webhooks.route("/webhooks/{platform_name}", methods=METHODS, content_types=CONTENT_TYPES)
def webhook(platform_name: str) -> Response:
    from chalicelib.bootstrap import secret
    from chalicelib.platforms import PLATFORMS
    from chalicelib.platforms.base import WebhookError
    from chalicelib.services.errors import QueueSendError, SecretUnavailable

    platform = PLATFORMS.get(platform_name)
    if platform is None:
        return error_response(404, f"unknown platform '{platform_name}'; known: {', '.join(sorted(PLATFORMS))}")
    request = _request(platform_name)
    try:
        if request.method == "GET":
            answer = platform.handshake(request, secret)
            return Response(body=answer.body, status_code=200, headers={"Content-Type": answer.content_type})
        return _deliver(platform, request, secret)
    except WebhookError as refusal:
        logger.info(
            "webhook refused", extra={"platform": platform_name, "status": refusal.status, "reason": refusal.message}
        )
        metrics.add_metric(name="WebhookRefused", unit="Count", value=1)
        return error_response(refusal.status, refusal.message)
    except SecretUnavailable:
        logger.exception("webhook secret missing", extra={"platform": platform_name})
        return error_response(503, "this webhook is not configured yet")
    except QueueSendError:
        logger.exception("could not queue delivery", extra={"platform": platform_name})
        return error_response(503, "temporarily unable to accept deliveries; retry later")


def _deliver(platform, request, secret) -> Response:
    from chalicelib.bootstrap import mention_queue
    from chalicelib.services.ingest import accept_delivery

    accepted = accept_delivery(platform, request, secret, mention_queue(), datetime.now(timezone.utc))
    metrics.add_metric(name="MentionsQueued", unit="Count", value=accepted.queued)
    if accepted.ignored:
        metrics.add_metric(name="NonMentionEvents", unit="Count", value=accepted.ignored)
    logger.info(
        "webhook accepted", extra={"platform": platform.NAME, "queued": accepted.queued, "ignored": accepted.ignored}
    )
    return json_response({"accepted": accepted.queued, "ignored": accepted.ignored})
