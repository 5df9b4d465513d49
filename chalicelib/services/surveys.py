"""Satisfaction survey use cases: schedule (issues stream), send (schedule and stream), show and answer (the page),
close unanswered ones (schedule).

* :func:`schedule_surveys`: an issue whose reply is published and that is resolved gets its survey once, if its
  category's plan says so, on the first channel its platform allows (``domain.survey.choose_channel``). One due
  now is sent at once; a later one by :func:`run_due`.
* :func:`send_survey`: claim, send, mark sent; a failed send gives the claim back (owed again), so the next run
  or the stream's redelivery sends it, once (``adapters/outbox.SendClaims``, as for approval emails).
* :func:`open_survey` / :func:`answer_survey`: the link is checked (signature in constant time, then expiry, then
  state); GET shows, only POST records. The answer lands on the issue and its audit trail in one transaction, and
  an event on SNS tells subscribers (owed with the answer, so a failed publish is published by the next run).
* :func:`run_due` (every few minutes): sends what is due, closes what expired unanswered, publishes owed events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.domain import survey as rules
from chalicelib.domain.issues import AuditEvent
from chalicelib.domain.links import MAX_LINK_ID_CHARS, LinkCheck
from chalicelib.domain.plan import ResponsePlan
from chalicelib.domain.survey import Survey, SurveyAnswer, SurveyClosed, SurveyStatus, SurveyUndeliverable
from chalicelib.domain.text_safety import subject_line
from chalicelib.observability import logger
from chalicelib.services.ports import SurveyIssues, SurveyNotices, SurveySender, SurveyStore


class SurveyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class SurveyDeps:
    surveys: SurveyStore
    issues: SurveyIssues
    sender: SurveySender
    notices: SurveyNotices
    link_key: str
    base_url: str


def _plain(image: Any) -> dict[str, Any]:
    return dict(image or {})


def issue_changes(records: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(event name, new image, old image) of each issues-stream record, images as plain values (Powertools'
    ``DynamoDBStreamEvent`` deserializes them)."""
    from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

    out = []
    for record in DynamoDBStreamEvent({"Records": records}).records:
        change = record.dynamodb
        if change is None or record.event_name is None:
            continue
        new = _plain(change.new_image)
        old = _plain(change.old_image) if change.old_image else None
        out.append((record.event_name.name, new, old))
    return out


def survey_event(
    survey: Survey, type_: str, at: datetime, details: dict[str, Any], actor: str = rules.SYSTEM_SURVEYS
) -> AuditEvent:
    """An event of the survey on its issue's trail, keyed by the survey: written again, it is the same event."""
    return AuditEvent(
        issue_id=survey.issue_id, at=at, type=type_, actor=actor, suffix=survey.survey_id[:8], details=details
    )


def _first_mention(mentions: list[dict[str, Any]]) -> dict[str, Any]:
    # The mention that opened the issue: the one its reply answered (services.approvals.publish_reply).
    return min(mentions, key=lambda m: str(m.get("created_at", ""))) if mentions else {}


def _private_reply_used(history: list[dict[str, Any]]) -> bool:
    return any(
        event.get("type") == "published" and "private_reply" in (event.get("details") or {}).get("channels", [])
        for event in history
    )


def schedule_surveys(
    records: list[dict[str, Any]], plan: ResponsePlan, deps: SurveyDeps, now: datetime
) -> Counter[str]:
    """The issues-stream part: surveys for issues that just became resolved with a published reply."""
    counts: Counter[str] = Counter()
    for _, new, old in issue_changes(records):
        if not rules.ready_for_survey(new, old):
            continue
        category = plan.categories.get(str(new.get("category", "")))
        if category is None or not category.survey.send:
            counts["not_asked"] += 1
            continue
        issue_id = str(new["issue_id"])
        mention = _first_mention(deps.issues.mentions(issue_id))
        if not mention:
            counts["no_author"] += 1
            continue
        contact = rules.email_address(mention)
        channel = rules.choose_channel(
            str(mention.get("platform", "")),
            category.survey,
            contact,
            _private_reply_used(deps.issues.history(issue_id)),
        )
        if channel is None:
            counts["no_channel"] += 1
            continue
        survey = rules.schedule(rules.new_survey_id(), new, mention, category.survey, channel, contact, now)
        if not deps.surveys.schedule(survey):
            counts["already_scheduled"] += 1
            continue
        counts["scheduled"] += 1
        if survey.due_at <= now:
            counts[send_survey(survey.survey_id, deps, now, plan.brand)] += 1
    return counts


def send_survey(survey_id: str, deps: SurveyDeps, now: datetime, brand: str) -> str:
    """``sent``, ``nothing`` (sent already, or being sent), ``owed`` (the send failed; the claim is given back) or
    ``undeliverable`` (the channel refused it for good; recorded on the issue's trail, not retried)."""
    claim = deps.surveys.claim_send(survey_id, now)
    if claim is None:
        return "nothing"
    survey = deps.surveys.get(survey_id)
    if survey is None:  # pragma: no cover - a claim is only taken on an existing survey
        deps.surveys.give_back(claim)
        return "nothing"
    if now.timestamp() >= survey.expires_at:  # owed until its link closed (the channel kept failing): too late
        deps.surveys.undeliverable(claim, now)
        deps.issues.append(
            survey_event(survey, "survey_not_sent", now, {"channel": survey.channel, "reason": "its link expired"})
        )
        return "undeliverable"
    url = deps.base_url + rules.link_path(deps.link_key, survey.survey_id, survey.author, survey.expires_at)
    subject, text, html = rules.invitation(survey, url, brand)
    subject = subject_line(subject)  # the plan's brand and question: never a line break in a header
    if survey.channel != rules.EMAIL:
        text = rules.short_message(survey, url)
    mention = _first_mention(deps.issues.mentions(survey.issue_id))
    try:
        sent_as = deps.sender.send(survey, mention, subject, text, html, now)
    except SurveyUndeliverable as refused:
        deps.surveys.undeliverable(claim, now)
        deps.issues.append(
            survey_event(survey, "survey_not_sent", now, {"channel": survey.channel, "reason": str(refused)})
        )
        return "undeliverable"
    except Exception as error:  # noqa: BLE001 - owed: the next run or redelivery sends it
        deps.surveys.give_back(claim)
        logger.warning("survey send failed", extra={"issue_id": survey.issue_id, "error": type(error).__name__})
        return "owed"
    # It went out: nothing after this may fail the run, or the stream's retry would leave the event unwritten (it
    # finds the survey scheduled); the mark is retried in the store, and its loss only costs a lease's wait.
    try:
        deps.surveys.sent(claim, now)
        # One key per survey: a repeated write after a lost answer is the same event, not a second one.
        deps.issues.append(
            survey_event(
                survey,
                "survey_sent",
                now,
                {
                    "channel": survey.channel,
                    "sent_as": sent_as,
                    "expires_at": datetime.fromtimestamp(survey.expires_at).isoformat(),
                },
            )
        )
    except Exception as error:  # noqa: BLE001 - sent: never a reason to fail (and redo) the run
        logger.error(
            "survey sent, its record not written", extra={"issue_id": survey.issue_id, "error": type(error).__name__}
        )
    return "sent"


# -- the page ------------------------------------------------------------------------------------------------
def open_survey(survey_id: str, exp: str | None, sig: str | None, deps: SurveyDeps, now: datetime) -> Survey:
    """The survey behind a link, or :class:`SurveyRefused`: 403 forged (or unknown: a guess looks like a forgery),
    410 expired or already answered. Changes nothing."""
    survey = deps.surveys.get(survey_id) if len(survey_id) <= MAX_LINK_ID_CHARS else None
    author = survey.author if survey else "nobody"
    verdict = rules.check_link(deps.link_key, survey_id, author, exp, sig, now.timestamp())
    if survey is None or verdict is LinkCheck.TAMPERED or str(survey.expires_at) != str(exp):
        raise SurveyRefused(403, "This survey link is not valid.")
    if survey.status is SurveyStatus.ANSWERED:
        raise SurveyRefused(410, "This survey was already answered. Thank you!")
    if verdict is LinkCheck.EXPIRED or survey.status is SurveyStatus.UNANSWERED:
        raise SurveyRefused(410, "This survey has closed.")
    if survey.status is not SurveyStatus.SENT:
        raise SurveyRefused(403, "This survey link is not valid.")
    return survey


def answer_survey(survey: Survey, answer: SurveyAnswer, deps: SurveyDeps, now: datetime) -> str:
    """Record the answer once (the store's conditional transaction), then tell subscribers. The outcome."""
    outcome = rules.outcome(answer.rating)
    event = survey_event(
        survey,
        "survey_answered",
        now,
        actor=survey.author,
        details={
            "rating": answer.rating,
            "satisfaction": outcome,
            "comment": answer.comment,
            "channel": survey.channel,
        },
    )
    try:
        deps.surveys.record_answer(survey, answer, now, event)
    except SurveyClosed as closed:
        raise SurveyRefused(410, "This survey was already answered, or has closed.") from closed
    answered = survey.model_copy(
        update={"status": SurveyStatus.ANSWERED, "rating": answer.rating, "comment": answer.comment, "answered_at": now}
    )
    try:
        deps.notices.announce(answered, now)
    except Exception as error:  # noqa: BLE001 - owed with the answer: the next run publishes it
        logger.warning("survey event owed", extra={"issue_id": survey.issue_id, "error": type(error).__name__})
    return outcome


# -- the schedule ----------------------------------------------------------------------------------------------
def run_due(plan: ResponsePlan, deps: SurveyDeps, now: datetime) -> Counter[str]:
    """Send the surveys that are due, close the expired unanswered ones, publish owed answer events."""
    counts: Counter[str] = Counter()
    for phase, survey_id in deps.surveys.due(now):
        if phase == "send":
            counts[send_survey(survey_id, deps, now, plan.brand)] += 1
            continue
        survey = deps.surveys.get(survey_id)
        if survey is None:
            continue
        if phase == "close":
            event = survey_event(
                survey, "survey_unanswered", now, {"channel": survey.channel, "satisfaction": rules.UNANSWERED}
            )
            counts["unanswered" if deps.surveys.record_unanswered(survey, event) else "nothing"] += 1
        elif phase == "notify":
            try:
                counts["announced_" + deps.notices.announce(survey, now)] += 1
            except Exception as error:  # noqa: BLE001 - still owed: the next run
                counts["announce_failed"] += 1
                logger.warning(
                    "survey event failed", extra={"issue_id": survey.issue_id, "error": type(error).__name__}
                )
    return counts
