"""Surveys in DynamoDB, their answers on the issue, and the answer's event on SNS.

Items of the surveys table (``pk``; the ``by_phase`` index lists what is due: ``phase`` and ``due_at``):

* ``issue#<issue id>``: the guard that makes one survey per issue (written with the survey, conditionally);
* ``survey#<survey id>``: the survey (storage model: the attributes below), with a send claim
  (``outbox.SendClaims``: ``owed`` -> ``sending`` -> ``sent``; a failed send gives it back). ``phase``:
  ``send`` while owed (``due_at`` = when to send), ``close`` once sent (``due_at`` = the link's expiry), removed
  when answered or closed unanswered;
* ``notice#<survey id>``: the answer's SNS event, owed from the answer's transaction until published (its own
  send claim; ``phase`` ``notify`` until then).

The answer is one transaction: the survey (only while sent and unexpired: a reused or expired link changes
nothing), the satisfaction fields on the issue, its audit event and the owed notice.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from chalicelib.adapters.aws import client
from chalicelib.adapters.codec import number, string
from chalicelib.adapters.outbox import OWED, SENT, Claim, SendClaims
from chalicelib.adapters.triage_table import audit_item
from chalicelib.domain.issues import AuditEvent
from chalicelib.domain.survey import Survey, SurveyAnswer, SurveyClosed, SurveyStatus, outcome
from chalicelib.services.errors import SendInProgress
from chalicelib.settings import Resources

SEND, CLOSE, NOTIFY = "send", "close", "notify"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _expiry_iso(expires_at: int) -> str:
    return _iso(datetime.fromtimestamp(expires_at, tz=timezone.utc))


def survey_item(survey: Survey) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": string(f"survey#{survey.survey_id}"),
        "survey_id": string(survey.survey_id),
        "issue_id": string(survey.issue_id),
        "category": string(survey.category),
        "team": string(survey.team),
        "platform": string(survey.platform),
        "author": string(survey.author),
        "recipient": string(survey.recipient),
        "reply_to": string(survey.reply_to),
        "channel": string(survey.channel),
        "question": string(survey.question),
        "message": string(survey.message),
        "created_at": string(_iso(survey.created_at)),
        "due_at": string(_iso(survey.due_at)),
        "expires_at": number(survey.expires_at),
        "status": string(survey.status.value),
        "send_state": string(OWED),
        "phase": string(SEND),
    }
    if survey.contact:
        item["contact"] = string(survey.contact)
    return item


def _survey(item: dict[str, Any]) -> Survey:
    def text(name: str) -> str:
        return str(item.get(name, {}).get("S", ""))

    rating = item.get("rating", {}).get("N")
    answered = text("answered_at")
    return Survey(
        survey_id=text("survey_id"),
        issue_id=text("issue_id"),
        category=text("category"),
        team=text("team"),
        platform=text("platform"),
        author=text("author"),
        recipient=text("recipient"),
        reply_to=text("reply_to"),
        channel=text("channel"),
        contact=text("contact") or None,
        question=text("question"),
        message=text("message"),
        created_at=datetime.fromisoformat(text("created_at")),
        due_at=datetime.fromisoformat(text("survey_due_at") or text("created_at")),
        expires_at=int(item["expires_at"]["N"]),
        status=SurveyStatus(text("status")),
        rating=int(rating) if rating else None,
        comment=text("comment"),
        answered_at=datetime.fromisoformat(answered) if answered else None,
    )


def _cancelled_by_condition(error: Exception) -> bool:
    reasons = getattr(error, "response", {}).get("CancellationReasons") or []
    return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons) or not reasons


class DynamoSurveys:
    def __init__(self, names: Resources) -> None:
        self.table = names.surveys_table
        self.issues_table = names.issues_table
        self.audit_table = names.audit_table
        self.claims = SendClaims(names.surveys_table)

    def schedule(self, survey: Survey) -> bool:
        item = survey_item(survey)
        item["survey_due_at"] = item["due_at"]  # when it was due to go out; ``due_at`` moves on with the phase
        guard = {"pk": string(f"issue#{survey.issue_id}"), "survey_id": string(survey.survey_id)}
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": guard,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException as cancelled:
            if _cancelled_by_condition(cancelled):
                return False
            raise
        return True

    def get(self, survey_id: str) -> Survey | None:
        item = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"pk": string(f"survey#{survey_id}")}, ConsistentRead=True)
            .get("Item")
        )
        return _survey(item) if item and "survey_id" in item else None

    def for_issue(self, issue_id: str) -> Survey | None:
        guard = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"pk": string(f"issue#{issue_id}")}, ConsistentRead=True)
            .get("Item")
        )
        return self.get(guard["survey_id"]["S"]) if guard else None

    def due(self, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for phase in (SEND, CLOSE, NOTIFY):
            answer = client("dynamodb").query(
                TableName=self.table,
                IndexName="by_phase",
                Limit=limit,
                KeyConditionExpression="phase = :phase AND due_at <= :now",
                ExpressionAttributeValues={":phase": string(phase), ":now": string(_iso(now))},
            )
            out += [(phase, item["survey_id"]["S"]) for item in answer["Items"]]
        return out

    def claim_send(self, survey_id: str, now: datetime) -> Claim | None:
        try:
            return self.claims.claim(
                {"pk": string(f"survey#{survey_id}")},
                now,
                only_if="attribute_exists(survey_id) AND #status = :owed_status",
                names={"#status": "status"},
                values={":owed_status": string(SurveyStatus.OWED.value)},
            )
        except SendInProgress:
            return None  # its owner sends it, or its lease ends and the next run does

    def sent(self, claim: object, at: datetime) -> None:
        """``sent`` and open until the link expires, in one write, only while the claim is still ours."""
        assert isinstance(claim, Claim)
        expires = _expiry_iso(int(claim.item["expires_at"]["N"]))
        self.claims.settle(
            claim,
            "SET send_state = :sent, #status = :sent, sent_at = :at, phase = :close, due_at = :expires "
            "REMOVE send_lease",
            {":sent": string(SENT), ":at": string(_iso(at)), ":close": string(CLOSE), ":expires": string(expires)},
            "survey sent, but not marked sent",
            names={"#status": "status"},
        )

    def give_back(self, claim: object) -> None:
        assert isinstance(claim, Claim)
        self.claims.give_back(claim)

    def undeliverable(self, claim: object, at: datetime) -> None:
        assert isinstance(claim, Claim)
        self.claims.settle(
            claim,
            "SET send_state = :final, #status = :final, ended_at = :at REMOVE send_lease, phase, due_at",
            {":final": string(SurveyStatus.UNDELIVERABLE.value), ":at": string(_iso(at))},
            "survey undeliverable, but not marked so",
            names={"#status": "status"},
        )

    def record_answer(self, survey: Survey, answer: SurveyAnswer, at: datetime, event: AuditEvent) -> None:
        verdict = outcome(answer.rating)
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": string(f"survey#{survey.survey_id}")},
                            "UpdateExpression": "SET #status = :answered, rating = :rating, #comment = :comment, "
                            "answered_at = :at REMOVE phase, due_at",
                            "ConditionExpression": "#status = :sent AND expires_at > :now",
                            "ExpressionAttributeNames": {"#status": "status", "#comment": "comment"},
                            "ExpressionAttributeValues": {
                                ":answered": string(SurveyStatus.ANSWERED.value),
                                ":sent": string(SurveyStatus.SENT.value),
                                ":rating": number(answer.rating),
                                ":comment": string(answer.comment),
                                ":at": string(_iso(at)),
                                ":now": number(int(at.timestamp())),
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.issues_table,
                            "Key": {"issue_id": string(survey.issue_id)},
                            "UpdateExpression": "SET satisfaction = :verdict, satisfaction_rating = :rating, "
                            "satisfaction_comment = :comment, satisfaction_at = :at, survey_id = :id",
                            "ConditionExpression": "attribute_exists(issue_id)",
                            "ExpressionAttributeValues": {
                                ":verdict": string(verdict),
                                ":rating": number(answer.rating),
                                ":comment": string(answer.comment),
                                ":at": string(_iso(at)),
                                ":id": string(survey.survey_id),
                            },
                        }
                    },
                    {"Put": {"TableName": self.audit_table, "Item": audit_item(event)}},
                    {
                        "Put": {
                            "TableName": self.table,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "Item": {
                                "pk": string(f"notice#{survey.survey_id}"),
                                "survey_id": string(survey.survey_id),
                                "send_state": string(OWED),
                                "phase": string(NOTIFY),
                                "due_at": string(_iso(at)),
                            },
                        }
                    },
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException as cancelled:
            if _cancelled_by_condition(cancelled):
                raise SurveyClosed(survey.survey_id) from None
            raise

    def record_unanswered(self, survey: Survey, event: AuditEvent) -> bool:
        dynamodb = client("dynamodb")
        try:
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": string(f"survey#{survey.survey_id}")},
                            "UpdateExpression": "SET #status = :unanswered REMOVE phase, due_at",
                            "ConditionExpression": "#status = :sent AND expires_at <= :now",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":unanswered": string(SurveyStatus.UNANSWERED.value),
                                ":sent": string(SurveyStatus.SENT.value),
                                ":now": number(int(event.at.timestamp())),
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.issues_table,
                            "Key": {"issue_id": string(survey.issue_id)},
                            "UpdateExpression": "SET satisfaction = if_not_exists(satisfaction, :unanswered), "
                            "survey_id = :id",
                            "ConditionExpression": "attribute_exists(issue_id)",
                            "ExpressionAttributeValues": {
                                ":unanswered": string(SurveyStatus.UNANSWERED.value),
                                ":id": string(survey.survey_id),
                            },
                        }
                    },
                    {"Put": {"TableName": self.audit_table, "Item": audit_item(event)}},
                ]
            )
        except dynamodb.exceptions.TransactionCanceledException as cancelled:
            if _cancelled_by_condition(cancelled):
                return False
            raise
        return True


class SnsSurveyNotices:
    """The answer's event on the alerts topic (``kind=survey_answered``: subscribers filter on it), published once
    under the notice item's send claim. Not an alert: it is not counted against the hourly alert cap."""

    def __init__(self, names: Resources) -> None:
        self.table = names.surveys_table
        self.topic_name = names.alerts_topic
        self.claims = SendClaims(names.surveys_table)

    def announce(self, survey: Survey, now: datetime) -> str:
        from chalicelib.adapters.alerts import topic_arn

        claim = self.claims.claim(
            {"pk": string(f"notice#{survey.survey_id}")}, now, only_if="attribute_exists(survey_id)"
        )
        if claim is None:
            return "duplicate"
        verdict = outcome(survey.rating)
        body = {
            "kind": "survey_answered",
            "severity": "low",
            "category": survey.category,
            "team": survey.team,
            "issue_id": survey.issue_id,
            "rating": survey.rating,
            "satisfaction": verdict,
            "comment": survey.comment,
            "channel": survey.channel,
            "platform": survey.platform,
            "subject": f"Survey answered: {survey.rating}/5 ({verdict})",
            "at": _iso(survey.answered_at or now),
        }
        attributes = {
            name: {"DataType": "String", "StringValue": value or "none"}
            for name, value in {
                "kind": "survey_answered",
                "severity": "low",
                "category": survey.category,
                "team": survey.team,
            }.items()
        }
        try:
            client("sns").publish(
                TopicArn=topic_arn(self.topic_name),
                Subject=body["subject"],
                Message=json.dumps(body, ensure_ascii=False),
                MessageAttributes=attributes,
            )
        except Exception:
            self.claims.give_back(claim)
            raise
        dynamodb = client("dynamodb")
        try:
            dynamodb.update_item(
                TableName=self.table,
                Key=claim.key,
                UpdateExpression="SET send_state = :sent REMOVE send_lease, phase, due_at",
                ConditionExpression="send_claim = :owner",
                ExpressionAttributeValues={":sent": string(SENT), ":owner": string(claim.owner)},
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            pass
        return "sent"
