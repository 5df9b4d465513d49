"""``/approvals/{id}``: the page behind an emailed link (GET changes nothing) and its form (POST acts, once); and
``pass_on_owed_answers``, the schedule that passes on answers recorded while Step Functions could not take them.

A refusal (a forged or unknown link 403, an expired or used one 410, a bad answer 400, not a form 415, Step
Functions unreachable 503, with ``Retry-After``) is an HTML page, or JSON ``{"error": ...}`` to a client that asks
for JSON (``Accept: application/json`` without ``text/html``), as the survey links answer; so is a recorded answer
(``{"recorded": <outcome>, "step": <step>}``). HTML stays the default."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from chalice import Blueprint, Rate, Response

from chalicelib.api.link_answers import html_answer, refusal, wants_json
from chalicelib.api.responses import ANY_CONTENT_TYPE, json_response
from chalicelib.observability import logger

approvals = Blueprint(__name__)

# A page answers in HTML, so the routes take any content type and the form handler says itself what it needs.


RETRY_PASS_ON_SECONDS = 60  # a recorded answer Step Functions could not take: when to send the form again


TITLES = {
    400: "Please check your answer",
    403: "Link not valid",
    409: "Too late",
    410: "Link no longer valid",
    415: "Please use the form",
    503: "Recorded: please send it again shortly",
}


def _refusal(refused) -> Response:
    answer = refusal(approvals.current_request, refused.status, refused.message, TITLES)
    if refused.status == 503:
        answer.headers["Retry-After"] = str(RETRY_PASS_ON_SECONDS)
    return answer


@approvals.route("/approvals/{approval_id}", methods=["GET"], content_types=ANY_CONTENT_TYPE)
def show(approval_id: str) -> Response:
    from chalicelib.api.pages import approval_page, same_page
    from chalicelib.bootstrap import approval_deps
    from chalicelib.services.approvals import LinkRefused, open_link, view

    query: Mapping[str, str] = approvals.current_request.query_params or {}
    now = datetime.now(timezone.utc)
    deps = approval_deps()
    try:
        approval = open_link(approval_id, query.get("exp"), query.get("sig"), deps, now)
    except LinkRefused as refused:
        return _refusal(refused)
    return html_answer(200, approval_page(view(approval, deps, now), same_page(query.get("exp"), query.get("sig"))))


@approvals.route("/approvals/{approval_id}", methods=["POST"], content_types=ANY_CONTENT_TYPE)
def answer(approval_id: str) -> Response:
    from chalicelib.api.approval_form import ActForm
    from chalicelib.api.forms import FormInvalid, is_form_post, read_form
    from chalicelib.api.pages import done_page
    from chalicelib.bootstrap import approval_deps
    from chalicelib.services.approvals import LinkRefused, act, open_link

    request = approvals.current_request
    if not is_form_post(request):
        return _refusal(LinkRefused(415, "Send your answer with the form on the page."))
    query: Mapping[str, str] = request.query_params or {}
    now = datetime.now(timezone.utc)
    deps = approval_deps()
    try:
        approval = open_link(approval_id, query.get("exp"), query.get("sig"), deps, now, answering=True)
        try:
            form = read_form(request, ActForm)
        except FormInvalid as invalid:
            raise LinkRefused(400, str(invalid)) from None
        outcome = act(approval, form.answer(), deps, now)
    except LinkRefused as refused:
        logger.info("approval refused", extra={"status": refused.status, "approval": approval_id[:6]})
        return _refusal(refused)
    logger.info("approval recorded", extra={"issue_id": approval.issue_id, "step": approval.step, "outcome": outcome})
    if wants_json(approvals.current_request):
        return json_response({"recorded": outcome, "step": approval.step})
    return html_answer(200, done_page(outcome, approval.step))


@approvals.schedule(Rate(5, unit=Rate.MINUTES), name="pass_on_owed_answers")
def pass_on_owed_answers(event) -> None:
    """Answers recorded but not yet passed on to their protocol go on now (the person need not send the form again)."""
    from chalicelib.bootstrap import approval_deps
    from chalicelib.services.approvals import pass_on_owed_answers as pass_on

    logger.info("owed answers", extra=pass_on(approval_deps(), datetime.now(timezone.utc)))
