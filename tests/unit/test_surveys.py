"""Satisfaction surveys: the pure rules (scoring, link, channel per platform, when) and the use cases on in-memory
fakes of their ports (schedule once, send once with a failed send given back, answer once, close unanswered)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from pydantic import ValidationError

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain import links
from chalicelib.domain import survey as rules
from chalicelib.domain.links import LinkCheck
from chalicelib.domain.plan import SurveySettings
from chalicelib.domain.survey import SurveyAnswer, SurveyStatus
from chalicelib.services.surveys import (
    SurveyDeps,
    SurveyRefused,
    answer_survey,
    open_survey,
    run_due,
    schedule_surveys,
)
from tests.fakes import FakeApprovalIssues, FakeSurveyNotices, FakeSurveySender, FakeSurveyStore

KEY = "k" * 32
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
XSS = "<script>alert(1)</script>"


def record(event: str, new: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    serialize = TypeSerializer().serialize
    change: dict[str, Any] = {"NewImage": {k: serialize(v) for k, v in new.items()}}
    if old is not None:
        change["OldImage"] = {k: serialize(v) for k, v in old.items()}
    return {"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": change}


def resolved(issue_id: str = "iss-1", category: str = "routine_response", replied: bool = True) -> dict[str, Any]:
    """The stream record of an issue's resolution (its reply published, or not)."""
    before = {"issue_id": issue_id, "category": category, "status": "in_progress"}
    if replied:
        before["first_response_at"] = NOW.isoformat()
    return record("MODIFY", {**before, "status": "resolved", "resolved_at": NOW.isoformat()}, before)


@pytest.fixture
def deps() -> SurveyDeps:
    issues = FakeApprovalIssues()
    for issue_id, platform in (("iss-1", "x"), ("iss-yt", "youtube"), ("iss-fb", "facebook")):
        issues.issues[issue_id] = {"issue_id": issue_id, "category": "routine_response", "team": "customer_service"}
        issues.mention_items[issue_id] = [
            {
                "platform": platform,
                "external_id": f"m-{issue_id}",
                "author_id": "u-1",
                "author_handle": "ana",
                "created_at": "2026-11-24",
            }
        ]
    store = FakeSurveyStore()
    return SurveyDeps(
        surveys=store,
        issues=issues,
        sender=FakeSurveySender(),
        notices=FakeSurveyNotices(store),
        link_key=KEY,
        base_url="https://api.example",
    )


def only_survey(deps: SurveyDeps):
    (survey,) = deps.surveys.surveys.values()  # type: ignore[attr-defined]
    return survey


def link_query(deps: SurveyDeps) -> tuple[str, str, str]:
    """(survey id, exp, sig) from the one message sent."""
    from urllib.parse import parse_qs, urlparse

    text = deps.sender.sent[-1][2]  # type: ignore[attr-defined]
    url = urlparse(next(word for word in text.split() if word.startswith("https://api.example/surveys/")))
    query = parse_qs(url.query)
    return url.path.rsplit("/", 1)[1], query["exp"][0], query["sig"][0]


# -- pure rules ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rating", "expected"),
    [(1, "dissatisfied"), (3, "dissatisfied"), (4, "satisfied"), (5, "satisfied"), (None, "unanswered")],
)
def test_four_and_five_are_satisfied_and_no_rating_is_unanswered(rating, expected):
    assert rules.outcome(rating) == expected


def test_csat_is_the_satisfied_share_of_answers_and_the_response_rate_counts_unanswered():
    assert rules.satisfaction_score([5, 4, 2, None]) == (pytest.approx(2 / 3), 0.75)
    assert rules.satisfaction_score([]) == (None, None)


@pytest.mark.parametrize(
    "fields", [{"rating": "0"}, {"rating": "6"}, {"rating": "five"}, {}, {"rating": "3", "comment": "x" * 2001}]
)
def test_the_form_takes_a_rating_one_to_five_and_a_bounded_comment(fields):
    with pytest.raises(ValidationError):
        SurveyAnswer.model_validate(fields)
    assert SurveyAnswer.model_validate({"rating": "4", "comment": "  fine  "}).comment == "fine"


def test_the_link_is_bound_to_the_survey_the_author_and_the_expiry_and_is_no_approval_link():
    path = rules.link_path(KEY, "sid", "x#u-1", 2_000_000_000)
    sig = path.rsplit("sig=", 1)[1]
    assert path.startswith("/surveys/sid?exp=2000000000&sig=")
    assert rules.check_link(KEY, "sid", "x#u-1", "2000000000", sig, NOW.timestamp()) is LinkCheck.VALID
    assert rules.check_link(KEY, "sid", "x#u-2", "2000000000", sig, NOW.timestamp()) is LinkCheck.TAMPERED
    assert rules.check_link(KEY, "other", "x#u-1", "2000000000", sig, NOW.timestamp()) is LinkCheck.TAMPERED
    assert rules.check_link(KEY, "sid", "x#u-1", "2000000001", sig, NOW.timestamp()) is LinkCheck.TAMPERED
    assert rules.check_link("other-key", "sid", "x#u-1", "2000000000", sig, NOW.timestamp()) is LinkCheck.TAMPERED
    assert rules.check_link(KEY, "sid", "x#u-1", "2000000000", sig, 2_000_000_001) is LinkCheck.EXPIRED
    # An approval link's signature over the same id and person does not open a survey.
    approval_sig = links.signature(KEY, "sid", "x#u-1", 2_000_000_000)
    assert rules.check_link(KEY, "sid", "x#u-1", "2000000000", approval_sig, NOW.timestamp()) is LinkCheck.TAMPERED


def test_a_survey_is_due_once_the_issue_is_resolved_and_its_reply_published_in_either_order():
    replied = {"status": "in_progress", "first_response_at": "t"}
    assert rules.ready_for_survey({"status": "resolved", "first_response_at": "t"}, replied)
    assert rules.ready_for_survey({"status": "resolved", "first_response_at": "t"}, {"status": "resolved"})
    assert not rules.ready_for_survey({"status": "resolved"}, {"status": "in_progress"})
    assert not rules.ready_for_survey({"status": "in_progress", "first_response_at": "t"}, {"status": "open"})
    # Already both before (a later change to a resolved issue): not again.
    done = {"status": "resolved", "first_response_at": "t"}
    assert not rules.ready_for_survey({**done, "assigned_to": "b"}, done)
    assert not rules.ready_for_survey({**done, "status": "closed"}, done)


def test_the_channel_is_the_first_the_platform_allows():
    private_first = SurveySettings(send=True, channels=["private_reply", "public_reply", "email"])
    assert rules.choose_channel("x", private_first, None, private_used=False) == "private_reply"
    assert rules.choose_channel("youtube", private_first, None, private_used=False) == "public_reply"
    assert rules.choose_channel("trustpilot", private_first, None, private_used=False) == "public_reply"
    # Meta: one private reply per comment; the response used it.
    assert rules.choose_channel("facebook", private_first, None, private_used=True) == "public_reply"
    assert rules.choose_channel("x", private_first, None, private_used=True) == "private_reply"
    assert rules.choose_channel("email", private_first, "a@b.example", private_used=False) == "email"
    assert rules.choose_channel("email", private_first, None, private_used=False) is None
    privately = SurveySettings(send=True, channels=["private_reply"])
    assert rules.choose_channel("youtube", privately, None, private_used=False) is None


def test_the_invitation_is_multipart_and_escapes_the_plan_words_and_the_name():
    settings = SurveySettings(send=True, message=f"Thanks {XSS}")
    survey = rules.schedule(
        "sid",
        {"issue_id": "iss-1", "category": "c"},
        {"platform": "email", "author_id": "a@b.example", "author_name": XSS},
        settings,
        "email",
        "a@b.example",
        NOW,
    )
    subject, text, html = rules.invitation(survey, "https://api.example/surveys/sid?exp=1&sig=2", "Aurelle")
    assert XSS in text and XSS not in html and "&lt;script&gt;" in html
    assert 'href="https://api.example/surveys/sid?exp=1&amp;sig=2"' in html
    assert subject.startswith("Aurelle: ")


def test_an_authors_name_is_one_line_of_the_invitation_and_of_a_reply():
    name = "Dana\n\nYour refund of EUR 240 is ready. Confirm at https://evil.example/refund\u2028\r\nHi Dana"
    survey = rules.schedule(
        "sid",
        {"issue_id": "iss-1", "category": "c"},
        {"platform": "email", "author_id": "a@b.example", "author_name": name},
        SurveySettings(send=True),
        "email",
        "a@b.example",
        NOW,
    )
    _, text, _ = rules.invitation(survey, "https://api.example/surveys/sid?exp=1&sig=2", "Aurelle")
    lines = text.splitlines()
    assert lines[0].startswith("Hi Dana Your refund") and lines[0].endswith("Hi Dana,")
    assert sum("evil.example" in line for line in lines) == 1
    replied = survey.model_copy(update={"channel": rules.PUBLIC_REPLY, "recipient": "@ana\nOpen: x"})
    assert "\n" not in rules.short_message(replied, "https://api.example/s")


def test_the_bundled_plan_asks_routine_and_high_priority_authors_but_not_a_crisis():
    plan = bundled_plan()
    assert plan.categories["routine_response"].survey.send and plan.categories["high_priority"].survey.send
    assert not plan.categories["crisis"].survey.send
    assert plan.categories["routine_response"].survey.window_days == 14
    assert plan.recurrence.window_days == 30


# -- use cases on fakes --------------------------------------------------------------------------------------
def test_a_resolved_issue_gets_one_survey_and_one_message_however_often_the_record_comes(deps):
    plan = bundled_plan()
    assert schedule_surveys([resolved()], plan, deps, NOW)["sent"] == 1
    assert schedule_surveys([resolved()], plan, deps, NOW)["already_scheduled"] == 1
    assert run_due(plan, deps, NOW + timedelta(minutes=5))["sent"] == 0
    (sent,) = deps.sender.sent  # type: ignore[attr-defined]
    survey = sent[0]
    assert survey.channel == "private_reply" and survey.author == "x#u-1"
    assert survey.expires_at == int((NOW + timedelta(days=14)).timestamp())
    assert deps.issues.audit_types("iss-1") == ["survey_sent"]  # type: ignore[attr-defined]


def test_no_survey_without_a_published_reply_or_for_a_category_that_sends_none(deps):
    plan = bundled_plan()
    assert "scheduled" not in schedule_surveys([resolved(replied=False)], plan, deps, NOW)
    assert schedule_surveys([resolved(category="crisis")], plan, deps, NOW)["not_asked"] == 1
    assert deps.sender.sent == []  # type: ignore[attr-defined]


def test_a_failed_send_gives_the_claim_back_and_the_next_run_sends_it_once(deps):
    plan = bundled_plan()
    deps.sender.failures = 1  # type: ignore[attr-defined]
    counts = schedule_surveys([resolved()], plan, deps, NOW)
    assert counts["owed"] == 1 and deps.sender.sent == []  # type: ignore[attr-defined]
    assert run_due(plan, deps, NOW)["sent"] == 1
    assert run_due(plan, deps, NOW)["sent"] == 0
    assert len(deps.sender.sent) == 1  # type: ignore[attr-defined]
    assert deps.issues.audit_types("iss-1") == ["survey_sent"]  # type: ignore[attr-defined]


def test_a_delayed_survey_waits_for_its_time(deps):
    plan = bundled_plan()
    category = plan.categories["routine_response"]
    later = category.model_copy(update={"survey": category.survey.model_copy(update={"delay_minutes": 60})})
    plan = plan.model_copy(update={"categories": {**plan.categories, "routine_response": later}})
    assert schedule_surveys([resolved()], plan, deps, NOW)["scheduled"] == 1
    assert run_due(plan, deps, NOW + timedelta(minutes=59))["sent"] == 0
    assert run_due(plan, deps, NOW + timedelta(minutes=60))["sent"] == 1


def test_the_answer_is_recorded_once_and_announced_once(deps):
    plan = bundled_plan()
    schedule_surveys([resolved()], plan, deps, NOW)
    survey_id, exp, sig = link_query(deps)
    survey = open_survey(survey_id, exp, sig, deps, NOW)
    assert answer_survey(survey, SurveyAnswer(rating=4, comment=XSS), deps, NOW) == "satisfied"
    store = deps.surveys
    assert store.issue_fields["iss-1"] == {"satisfaction": "satisfied", "rating": 4}  # type: ignore[attr-defined]
    assert [e.type for e in store.events] == ["survey_answered"]  # type: ignore[attr-defined]
    assert store.events[0].details["comment"] == XSS  # type: ignore[attr-defined]
    assert [s.rating for s in deps.notices.published] == [4]  # type: ignore[attr-defined]
    with pytest.raises(SurveyRefused) as reused:
        open_survey(survey_id, exp, sig, deps, NOW)
    assert reused.value.status == 410
    with pytest.raises(SurveyRefused) as late:  # the page was open in two tabs: the second POST
        answer_survey(survey, SurveyAnswer(rating=1), deps, NOW)
    assert late.value.status == 410 and store.issue_fields["iss-1"]["rating"] == 4  # type: ignore[attr-defined]
    assert run_due(plan, deps, NOW)["announced_sent"] == 0


def test_a_failed_announcement_is_published_by_the_next_run(deps):
    plan = bundled_plan()
    deps.notices.failures = 1  # type: ignore[attr-defined]
    schedule_surveys([resolved()], plan, deps, NOW)
    survey_id, exp, sig = link_query(deps)
    answer_survey(open_survey(survey_id, exp, sig, deps, NOW), SurveyAnswer(rating=2), deps, NOW)
    assert deps.notices.published == []  # type: ignore[attr-defined]
    assert run_due(plan, deps, NOW)["announced_sent"] == 1
    assert run_due(plan, deps, NOW)["announced_sent"] == 0


@pytest.mark.parametrize("tamper", ["sig", "exp", "id", "missing"])
def test_a_forged_link_is_refused_with_403(deps, tamper):
    schedule_surveys([resolved()], bundled_plan(), deps, NOW)
    survey_id, exp, sig = link_query(deps)
    forged = {
        "sig": (survey_id, exp, "0" * 64),
        "exp": (survey_id, str(int(exp) + 1), sig),
        "id": (("y" if survey_id.startswith("x") else "x") + survey_id[1:], exp, sig),  # always another id
        "missing": (survey_id, None, None),
    }[tamper]
    with pytest.raises(SurveyRefused) as refused:
        open_survey(*forged, deps, NOW)
    assert refused.value.status == 403


def test_an_expired_link_is_refused_and_the_survey_closes_unanswered_once(deps):
    plan = bundled_plan()
    schedule_surveys([resolved()], plan, deps, NOW)
    survey_id, exp, sig = link_query(deps)
    after = NOW + timedelta(days=14, seconds=1)
    with pytest.raises(SurveyRefused) as expired:
        open_survey(survey_id, exp, sig, deps, after)
    assert expired.value.status == 410
    assert run_due(plan, deps, NOW + timedelta(days=13))["unanswered"] == 0
    assert run_due(plan, deps, after)["unanswered"] == 1
    assert run_due(plan, deps, after)["unanswered"] == 0
    assert only_survey(deps).status is SurveyStatus.UNANSWERED
    assert deps.surveys.issue_fields["iss-1"] == {"satisfaction": "unanswered"}  # type: ignore[attr-defined]


def test_meta_surveys_go_public_when_the_response_used_the_one_private_reply(deps):
    from chalicelib.domain.issues import AuditEvent

    deps.issues.append(
        AuditEvent(
            issue_id="iss-fb",
            at=NOW,
            type="published",
            actor="system:protocol",
            details={"channels": ["public_reply", "private_reply"]},
        )
    )
    schedule_surveys([resolved("iss-fb")], bundled_plan(), deps, NOW)
    (sent,) = deps.sender.sent  # type: ignore[attr-defined]
    assert sent[0].channel == "public_reply" and sent[2].startswith("@ana ")


def test_a_survey_the_channel_refuses_for_good_is_recorded_and_not_retried(deps):
    plan = bundled_plan()
    deps.sender.refuse = "window_closed: private replies only within 7 days"  # type: ignore[attr-defined]
    assert schedule_surveys([resolved("iss-fb")], plan, deps, NOW)["undeliverable"] == 1
    assert run_due(plan, deps, NOW + timedelta(minutes=5)) == {}
    assert only_survey(deps).status is SurveyStatus.UNDELIVERABLE
    (event,) = deps.issues.history("iss-fb")  # type: ignore[attr-defined]
    assert event["type"] == "survey_not_sent" and "7 days" in event["details"]["reason"]


def test_the_reply_survey_names_the_mention_the_issue_reply_answered(deps):
    later = {"platform": "x", "external_id": "later", "author_id": "u-9", "created_at": "2026-11-25"}
    deps.issues.mention_items["iss-1"].append(later)  # type: ignore[attr-defined]
    schedule_surveys([resolved()], bundled_plan(), deps, NOW)
    assert [m["external_id"] for m in deps.sender.mentions] == ["m-iss-1"]  # type: ignore[attr-defined]


def test_an_author_id_is_taken_for_an_email_address_only_when_ses_would_take_it():
    from chalicelib.domain.survey import email_address

    assert email_address({"author_id": "dana@example.com"}) == "dana@example.com"
    for refused in ("ann@mail@example.com", "a b@example.com", "dana@localhost", "@example.com", "dana@", "x"):
        assert email_address({"author_id": refused}) is None, refused
