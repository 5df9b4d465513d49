"""``/surveys/{id}``: the satisfaction survey behind a link sent to an issue's author, and the schedule that sends
due surveys, closes expired ones and publishes owed answer events.

GET shows the question (a 1-5 rating and an optional comment) and changes nothing: mail scanners and link
previews fetch links before people do. POST records the answer, once. A forged or unknown link is 403, an expired
or already answered one 410, a bad form 400; each as an HTML page, or as JSON ``{"error": ...}`` to a client that
asks for JSON. Every value on the page is escaped.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape

from chalice import Blueprint, Rate, Response

from chalicelib.api.link_answers import html_answer, refusal, wants_json
from chalicelib.api.responses import ANY_CONTENT_TYPE
from chalicelib.observability import logger

surveys = Blueprint(__name__)

TITLES = {400: "Please check your answer", 403: "Link not valid", 410: "Survey closed", 415: "Please use the form"}
LABELS = {1: "1 - very unhappy", 2: "2 - unhappy", 3: "3 - neutral", 4: "4 - happy", 5: "5 - very happy"}


def _page(status: int, title: str, body: str) -> Response:
    from chalicelib.api.pages import document

    return html_answer(status, document(title, body))


def _refusal(status: int, message: str) -> Response:
    return refusal(surveys.current_request, status, message, TITLES)


def survey_form(question: str, brand: str, action_url: str) -> str:
    options = "".join(
        f'<label style="display:block;margin:.3rem 0"><input type=radio name=rating value="{value}" required> '
        f"{escape(label)}</label>"
        for value, label in LABELS.items()
    )
    return (
        f'<h1>{escape(brand)}: how did we do?</h1><form method=post action="{escape(action_url, quote=True)}">'
        f"<fieldset><legend>{escape(question)}</legend>{options}</fieldset>"
        "<p><label for=comment>Anything to add? (optional)</label><br>"
        "<textarea id=comment name=comment maxlength=2000></textarea></p>"
        "<button type=submit name=send value=1>Send my answer</button></form>"
        "<p>One answer per link. Nothing is recorded until you send it.</p>"
    )


@surveys.route("/surveys/{survey_id}", methods=["GET"], content_types=ANY_CONTENT_TYPE)
def show(survey_id: str) -> Response:
    from chalicelib.api.pages import same_page
    from chalicelib.bootstrap import plan_store, survey_deps
    from chalicelib.services.surveys import SurveyRefused, open_survey

    query = dict(surveys.current_request.query_params or {})
    try:
        survey = open_survey(survey_id, query.get("exp"), query.get("sig"), survey_deps(), datetime.now(timezone.utc))
    except SurveyRefused as refused:
        return _refusal(refused.status, refused.message)
    plan, _ = plan_store().active()
    action = same_page(query.get("exp"), query.get("sig"))
    return _page(200, f"How did we do? {plan.brand}", survey_form(survey.question, plan.brand, action))


@surveys.route("/surveys/{survey_id}", methods=["POST"], content_types=ANY_CONTENT_TYPE)
def answer(survey_id: str) -> Response:
    from chalicelib.api.forms import FormInvalid, is_form_post, read_form
    from chalicelib.bootstrap import survey_deps
    from chalicelib.domain.survey import SurveyAnswer
    from chalicelib.services.surveys import SurveyRefused, answer_survey, open_survey

    request = surveys.current_request
    if not is_form_post(request):
        return _refusal(415, "Send your answer with the form on the page.")
    query = dict(request.query_params or {})
    now = datetime.now(timezone.utc)
    deps = survey_deps()
    try:
        survey = open_survey(survey_id, query.get("exp"), query.get("sig"), deps, now)
        try:
            form = read_form(request, SurveyAnswer)
        except FormInvalid as invalid:
            raise SurveyRefused(400, str(invalid)) from None
        outcome = answer_survey(survey, form, deps, now)
    except SurveyRefused as refused:
        logger.info("survey refused", extra={"status": refused.status})
        return _refusal(refused.status, refused.message)
    logger.info("survey answered", extra={"issue_id": survey.issue_id, "satisfaction": outcome})
    if wants_json(surveys.current_request):
        return Response(
            body={"recorded": outcome, "rating": form.rating},
            status_code=200,
            headers={"Content-Type": "application/json"},
        )
    return _page(200, "Thank you", f"<h1>Thank you</h1><p>Your answer ({form.rating} of 5) is recorded.</p>")


@surveys.schedule(Rate(5, unit=Rate.MINUTES), name="send_surveys")
def send_surveys(event) -> None:
    """Surveys due to go out, surveys expired unanswered, answer events still owed."""
    from chalicelib.bootstrap import plan_store, survey_deps
    from chalicelib.services.surveys import run_due

    plan, _ = plan_store().active()
    logger.info("surveys", extra=dict(run_due(plan, survey_deps(), datetime.now(timezone.utc))))
