"""The approval use cases (request, open, view, act, publish) on in-memory fakes of their ports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.approval import Answer, Refused
from chalicelib.domain.protocol_messages import PUBLISH_REFUSED_ERROR, PublishRequest, StepRequest
from chalicelib.domain.publishing import Reason, alert, done, final, retry
from chalicelib.services.approvals import (
    ApprovalDeps,
    PublishLater,
    StepEmailsOwed,
    act,
    open_link,
    pass_on_owed_answers,
    publish_reply,
    request_step,
    view,
)
from tests.fakes import (
    FakeAlerts,
    FakeApprovalIssues,
    FakeApprovals,
    FakeMailer,
    FakeReplyPublisher,
    FakeWorkflows,
)

NOW = datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)
ISSUE = "iss-1"
HOSTILE = '<script>alert(1)</script> & "quotes"'


def _deps(mailer: FakeMailer | None = None) -> ApprovalDeps:
    issues = FakeApprovalIssues()
    issues.issues[ISSUE] = {
        "issue_id": ISSUE,
        "category": "high_priority",
        "severity": "high",
        "status": "open",
        "team": "social_media",
        "platform": "x",
        "topic": "quality",
        "products": ["Nova Sneakers"],
        "description": f"Influencer says {HOSTILE}",
        "first_seen": NOW.isoformat(),
    }
    issues.mention_items[ISSUE] = [
        {
            "platform": "x",
            "external_id": "1700",
            "kind": "post",
            "author_id": "42",
            "author_handle": "walker",
            "text": f"@aurelle my Nova sneakers split {HOSTILE}",
            "created_at": "2026-11-24T06:40:00+00:00",
            "url": "https://x.com/walker/status/1700",
        },
        {
            "platform": "x",
            "external_id": "1701",
            "kind": "post",
            "created_at": "2026-11-24T06:45:00+00:00",
            "url": "javascript:alert(1)",
        },
    ]
    return ApprovalDeps(
        approvals=FakeApprovals(issues),
        issues=issues,
        email=mailer or FakeMailer(),
        workflows=FakeWorkflows(),
        publisher=FakeReplyPublisher(),
        alerts=FakeAlerts(),
        plan=bundled_plan(),
        link_key="k" * 32,
        base_url="https://responses.example",
    )


def _step(**overrides) -> StepRequest:
    fields = {
        "issue_id": ISSUE,
        "category": "high_priority",
        "protocol": "high_priority",
        "step": "draft",
        "action": "draft",
        "role": "PR drafts the response",
        "people": ["pr-lead@aurelle.example", "PR1@aurelle.example"],
        "attempt": "initial",
        "audience": "people",  # what every definition compiled since sends
        "sla_minutes": 60,
        "timeout_seconds": 3600,
        "escalates_to": ["social-lead@aurelle.example"],
        "outcomes": ["submitted"],
        "channels": ["public_reply", "private_reply"],
        "task_token": "token-1",
        "execution": "exec-1",
    }
    return StepRequest(**{**fields, **overrides})


def _open(deps: ApprovalDeps, link: str, now: datetime = NOW):
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return open_link(parts.path.rsplit("/", 1)[-1], query["exp"], query["sig"], deps, now)


# -- request ---------------------------------------------------------------------------------------------------
def test_a_step_emails_each_person_once_with_deadline_escalation_voice_and_the_original_post():
    deps = _deps()
    links = request_step(_step(), deps, NOW)
    assert len(links) == 2 and len(deps.email.sent) == 2
    sent = deps.email.sent[0]
    assert "Due 2026-11-24 08:00 UTC (1 h 00 min left)" in sent["text"]
    assert "goes to social-lead@aurelle.example" in sent["text"] and "social-lead@aurelle.example" in sent["html"]
    assert "https://x.com/walker/status/1700" in sent["html"] and "javascript:" not in sent["html"]
    assert "Calm and human" in sent["text"] and "Calm and human" in sent["html"]  # the plan's voice, per category
    assert HOSTILE not in sent["html"] and "&lt;script&gt;" in sent["html"]
    assert sent["text"].strip() and links[0] in sent["text"]  # the plain part carries the link too
    # A redelivery of the same message sends nothing twice and records the request once.
    assert request_step(_step(), deps, NOW + timedelta(seconds=5)) == []
    assert len(deps.email.sent) == 2
    assert deps.issues.audit_types(ISSUE) == ["step_initial"]


def test_the_step_asks_the_active_plans_team_and_backup_not_the_lists_compiled_at_deploy():
    from chalicelib.domain.plan import parse_plan

    document = bundled_plan().model_dump(mode="json")
    pr = document["teams"]["pr"]["members"]
    pr[:] = [m for m in pr if m["email"] != "pr1@aurelle.example"] + [{**pr[0], "email": "Nora.New@aurelle.example"}]
    document["protocols"]["high_priority"]["steps"][0]["backup"] = ["deputy@aurelle.example"]
    deps = _deps()
    deps = ApprovalDeps(**{**deps.__dict__, "plan": parse_plan(document)})  # the active plan, uploaded since
    request_step(_step(), deps, NOW)  # the message still carries the deployed lists (pr1)
    assert sorted(m["to"] for m in deps.email.sent) == ["nora.new@aurelle.example", "pr-lead@aurelle.example"]
    assert {a.escalates_to for a in deps.approvals.items.values()} == {("deputy@aurelle.example",)}
    escalated = _step(task_token="token-2", attempt="escalated", audience="backup", escalates_to=[])
    request_step(escalated, deps, NOW)
    assert deps.email.sent[-1]["to"] == "deputy@aurelle.example"
    unknown = _step(task_token="token-3", step="no_such_step", people=["x@aurelle.example"])
    request_step(unknown, deps, NOW)  # a step the active plan does not have: the compiled list
    assert deps.email.sent[-1]["to"] == "x@aurelle.example"


def test_a_failed_email_is_owed_and_sent_by_the_redelivery_only():
    deps = _deps(FakeMailer(fail_times=1))
    with pytest.raises(StepEmailsOwed):
        request_step(_step(), deps, NOW)
    assert len(deps.email.sent) == 1
    assert len(request_step(_step(), deps, NOW)) == 1
    assert sorted(m["to"] for m in deps.email.sent) == ["pr-lead@aurelle.example", "pr1@aurelle.example"]


# -- open, view, act -------------------------------------------------------------------------------------------
def test_the_page_shows_time_left_limits_voice_and_similar_replies():
    deps = _deps()
    deps.publisher.posts["old|public_reply"] = {
        "id": "x-0",
        "at": NOW - timedelta(days=1),
        "post": type(
            "P",
            (),
            {
                "text": "So sorry about your Nova sneakers, DM us",
                "issue_id": "iss-0",
                "category": "high_priority",
                "topic": "quality",
                "products": ("Nova Sneakers",),
                "channel": "public_reply",
            },
        )(),
    }
    link = request_step(_step(), deps, NOW)[0]
    page = view(_open(deps, link), deps, NOW + timedelta(minutes=20))
    assert page.time_left == "40 min left"
    assert page.limits["public_reply"] == 280
    assert page.post_url == "https://x.com/walker/status/1700"
    assert page.guidance[0].startswith("Calm and human")
    assert [r["issue_id"] for r in page.similar] == ["iss-0"]


def test_a_reply_too_long_for_the_channel_is_refused_on_the_server_and_changes_nothing():
    deps = _deps()
    link = request_step(_step(), deps, NOW)[0]
    approval = _open(deps, link)
    with pytest.raises(Refused) as refused:
        act(approval, Answer("submitted", draft="x" * 281, channels=("public_reply",)), deps, NOW)
    assert refused.value.status == 400 and "280" in refused.value.message
    assert deps.workflows.resumed == [] and deps.issues.audit_types(ISSUE) == ["step_initial"]
    # Privately, the same text fits (X direct messages take 10,000): accepted.
    assert act(approval, Answer("submitted", draft="x" * 281, channels=("private_reply",)), deps, NOW) == "submitted"
    [(token, output)] = deps.workflows.resumed
    assert token == "token-1" and output == {
        "outcome": "submitted",
        "actor": "pr-lead@aurelle.example",
        "comment": "",
        "draft": "x" * 281,
        "channels": ["private_reply"],
    }


def test_a_link_acts_once():
    deps = _deps()
    links = request_step(_step(), deps, NOW)
    act(_open(deps, links[0]), Answer("submitted", draft="We are on it.", channels=("public_reply",)), deps, NOW)
    with pytest.raises(Refused) as used:
        _open(deps, links[0])
    assert used.value.status == 410
    with pytest.raises(Refused):  # the colleague's link: the step is done
        act(_open(deps, links[1]), Answer("submitted", draft="Me too", channels=("public_reply",)), deps, NOW)
    assert len(deps.workflows.resumed) == 1


def test_an_id_longer_than_any_link_names_is_refused_before_the_store_is_asked():
    deps = _deps()
    asked: list[str] = []
    looked_up = deps.approvals.get
    deps.approvals.get = lambda approval_id: asked.append(approval_id) or looked_up(approval_id)
    with pytest.raises(Refused) as refused:
        open_link("x" * 3000, "1", "0" * 64, deps, NOW)  # DynamoDB would refuse a 3 KB key with an error
    assert refused.value.status == 403 and asked == []
    with pytest.raises(Refused):
        open_link("y" * 22, "1", "0" * 64, deps, NOW)
    assert asked == ["y" * 22]  # an id of a link's length is looked up (and, unknown, refused alike)


def _post(deps: ApprovalDeps, link: str, answer: Answer, now: datetime = NOW) -> str:
    """What the form's POST does: open the link as an answer, then act on it."""
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    approval = open_link(parts.path.rsplit("/", 1)[-1], query["exp"], query["sig"], deps, now, answering=True)
    return act(approval, answer, deps, now)


def test_an_answer_step_functions_could_not_take_is_kept_and_passed_on_by_the_next_post():
    deps = _deps()
    deps.workflows.unavailable_times = 1  # throttled past botocore's retries
    links = request_step(_step(), deps, NOW)

    def submitted() -> int:
        return sum(event.type == "step_submitted" for event in deps.issues.events.values())

    with pytest.raises(Refused) as unavailable:
        _post(deps, links[0], Answer("submitted", draft="We are on it.", channels=("public_reply",)))
    assert unavailable.value.status == 503 and "recorded" in unavailable.value.message
    assert deps.workflows.resumed == [] and submitted() == 1
    with pytest.raises(Refused) as shown:  # the page (a GET) says the answer is kept, and changes nothing
        _open(deps, links[0])
    assert shown.value.status == 410 and "recorded" in shown.value.message
    # the next POST (the approver sends the form again) passes the recorded answer on, not a new one
    assert (
        _post(deps, links[0], Answer("submitted", draft="Second thoughts", channels=("public_reply",))) == "submitted"
    )
    ((token, output),) = deps.workflows.resumed
    assert token == "token-1" and output["draft"] == "We are on it." and submitted() == 1
    with pytest.raises(Refused) as used:  # from then on the link is used like any other
        _post(deps, links[0], Answer("submitted", draft="Third", channels=("public_reply",)))
    assert used.value.status == 410 and len(deps.workflows.resumed) == 1


def _owed_answer(deps: ApprovalDeps, draft: str = "We are on it.") -> str:
    """An answer Step Functions refused: recorded at NOW, owed; the link."""
    deps.workflows.unavailable_times = 1
    link = request_step(_step(), deps, NOW)[0]
    with pytest.raises(Refused):
        _post(deps, link, Answer("submitted", draft=draft, channels=("public_reply",)))
    return link


def test_the_schedule_passes_on_an_owed_answer_once_without_the_person():
    deps = _deps()
    link = _owed_answer(deps)
    # within the grace its own request may still be passing it on: left alone
    assert pass_on_owed_answers(deps, NOW + timedelta(seconds=30))["passed_on"] == 0
    assert deps.workflows.resumed == []
    assert pass_on_owed_answers(deps, NOW + timedelta(minutes=5))["passed_on"] == 1
    ((token, output),) = deps.workflows.resumed
    assert token == "token-1" and output["draft"] == "We are on it."
    assert pass_on_owed_answers(deps, NOW + timedelta(minutes=10))["passed_on"] == 0  # nothing owed any more
    with pytest.raises(Refused) as used:  # the link is used like any other: a late POST changes nothing
        _post(deps, link, Answer("submitted", draft="Again", channels=("public_reply",)))
    assert used.value.status == 410 and len(deps.workflows.resumed) == 1


def test_the_schedule_leaves_the_answer_owed_while_step_functions_still_refuses():
    deps = _deps()
    _owed_answer(deps)
    deps.workflows.unavailable_times = 1
    done = pass_on_owed_answers(deps, NOW + timedelta(minutes=5))
    assert done["still_unavailable"] == 1 and done["passed_on"] == 0 and deps.workflows.resumed == []
    assert pass_on_owed_answers(deps, NOW + timedelta(minutes=10))["passed_on"] == 1  # the next run


def test_an_owed_answer_whose_step_moved_on_is_recorded_too_late_once():
    deps = _deps()
    _owed_answer(deps)
    deps.workflows.finished.add("token-1")  # the step timed out and escalated meanwhile
    assert pass_on_owed_answers(deps, NOW + timedelta(minutes=5))["too_late"] == 1
    assert [e.type for e in deps.issues.events.values()].count("step_too_late") == 1
    assert pass_on_owed_answers(deps, NOW + timedelta(minutes=10)) == {
        "passed_on": 0,
        "too_late": 0,
        "passed_on_elsewhere": 0,
        "still_unavailable": 0,
    }


# -- publish ---------------------------------------------------------------------------------------------------
def _publish(channels=("public_reply", "private_reply")) -> PublishRequest:
    return PublishRequest(
        issue_id=ISSUE,
        category="high_priority",
        protocol="high_priority",
        channels=list(channels),
        draft="We are sorry, Walker: a new pair is on its way.",
        approved_by="cmo@aurelle.example",
        task_token="publish-token",
        execution="exec-1",
    )


def test_the_first_published_reply_sets_the_response_time_from_the_platforms_clock():
    deps = _deps()
    platform_time = NOW - timedelta(seconds=3)  # the platform's own timestamp, not ours
    deps.publisher.script[("x", "public_reply")] = [done("1800", platform_time)]
    posts = publish_reply(_publish(), deps, NOW)
    assert len(posts) == 2
    assert deps.issues.issues[ISSUE]["first_response_at"] == platform_time.isoformat()
    assert deps.issues.audit_types(ISSUE) == ["published"]
    [(token, output)] = deps.workflows.resumed
    assert output["published"] == 2 and output["refused"] == []
    # Delivered again: nothing posted twice, nothing recorded twice.
    publish_reply(_publish(), deps, NOW + timedelta(minutes=1))
    assert len(deps.publisher.posts) == 2 and deps.issues.audit_types(ISSUE) == ["published"]


def test_a_rate_limit_waits_for_the_reset_then_posts_once():
    deps = _deps()
    reset = NOW + timedelta(minutes=15)
    deps.publisher.script[("x", "private_reply")] = [retry(Reason.RATE_LIMITED, reset, status=429)]
    with pytest.raises(PublishLater) as later:
        publish_reply(_publish(), deps, NOW)
    assert later.value.retry_at == reset
    assert deps.workflows.resumed == []  # the run waits for the whole reply
    assert deps.issues.issues[ISSUE]["first_response_at"] == NOW.isoformat()  # the public reply is out already
    publish_reply(_publish(), deps, reset)
    assert len(deps.publisher.posts) == 2 and deps.issues.audit_types(ISSUE) == ["published"]
    assert deps.workflows.resumed[0][1]["published"] == 2


def test_a_reply_is_never_posted_after_its_protocol_gave_up():
    """A reset hours away outlasts the Publish step's timer: the run times out and alerts that nothing went out;
    the message delivered again at the reset posts nothing (people may have answered another way)."""
    deps = _deps()
    deps.publisher.script[("x", "public_reply")] = [retry(Reason.RATE_LIMITED, NOW + timedelta(hours=5), status=429)]
    with pytest.raises(PublishLater) as later:
        publish_reply(_publish(["public_reply"]), deps, NOW)
    deps.workflows.ended_runs["exec-1"] = "TIMED_OUT"  # Step Functions: Publish timed out, the run ended
    assert publish_reply(_publish(["public_reply"]), deps, later.value.retry_at) == []
    assert deps.publisher.posts == {} and deps.workflows.resumed == []
    assert deps.issues.audit_types(ISSUE) == ["publish_skipped"]


def test_a_publish_delivered_again_after_its_run_succeeded_records_nothing_more():
    deps = _deps()
    publish_reply(_publish(["public_reply"]), deps, NOW)
    deps.workflows.ended_runs["exec-1"] = "SUCCEEDED"  # resumed, resolved; SQS delivers the message again
    assert publish_reply(_publish(["public_reply"]), deps, NOW) == []
    assert deps.issues.audit_types(ISSUE) == ["published"]


def test_a_run_started_before_the_audience_field_asks_the_lists_it_carries():
    """A run keeps the definition it started on: its escalated attempt names the backup in people, no audience."""
    deps = _deps()
    old = _step(attempt="escalated", people=["social-lead@aurelle.example"], escalates_to=[], audience=None)
    request_step(old, deps, NOW)
    assert [m["to"] for m in deps.email.sent] == ["social-lead@aurelle.example"]


def test_a_publish_with_no_channel_fails_its_task_and_never_resolves_the_issue():
    deps = _deps()
    assert publish_reply(_publish([]), deps, NOW) == []
    assert deps.workflows.resumed == [] and deps.workflows.failed[0][1] == PUBLISH_REFUSED_ERROR
    assert deps.issues.audit_types(ISSUE) == ["publish_refused"]


def test_a_revoked_token_alerts_once_audits_once_and_fails_the_publish_task():
    deps = _deps()
    revoked = alert(Reason.TOKEN_REVOKED, "the platform refused the renewed access token (HTTP 401)", 401)
    deps.publisher.script[("x", "public_reply")] = [revoked]
    assert publish_reply(_publish(["public_reply"]), deps, NOW) == []
    assert deps.issues.audit_types(ISSUE) == ["publish_failed"]
    [raised] = deps.alerts.raised.values()
    assert raised.severity == "critical" and "token_revoked" in raised.subject
    [(token, error, cause)] = deps.workflows.failed
    assert error == PUBLISH_REFUSED_ERROR and "token_revoked" in cause
    # No retry storm: a redelivery asks the platform nothing new, audits and alerts nothing twice.
    publish_reply(_publish(["public_reply"]), deps, NOW + timedelta(minutes=1))
    assert deps.publisher.posts == {} and deps.issues.audit_types(ISSUE) == ["publish_failed"]
    assert len(deps.alerts.raised) == 1


def test_a_platform_rule_refuses_one_channel_and_the_other_goes_out():
    deps = _deps()
    deps.publisher.script[("x", "private_reply")] = [final(Reason.WINDOW_CLOSED, "older than 7 days")]
    publish_reply(_publish(), deps, NOW)
    assert sorted(deps.issues.audit_types(ISSUE)) == ["publish_refused", "published"]
    assert deps.workflows.resumed[0][1] == {
        "published": 1,
        "posts": ["x-1"],
        "refused": ["private_reply: window_closed"],
    }
    assert [a.details["reason"] for a in deps.alerts.raised.values()] == ["window_closed"]


def test_a_canned_draft_is_warned_about_and_sending_it_anyway_is_on_the_record():
    deps = _deps()
    canned = "We are sorry to hear about your experience. Please send us a direct message with your order number."
    deps.publisher.posts["old|public_reply"] = {
        "id": "x-0",
        "at": NOW - timedelta(days=1),
        "post": type(
            "P",
            (),
            {
                "text": canned,
                "issue_id": "iss-0",
                "category": "routine_response",
                "topic": "delivery",
                "products": (),
                "channel": "public_reply",
            },
        )(),
    }
    review = _step(
        step="legal_review",
        action="review",
        role="Legal",
        outcomes=["approved", "rejected", "edited"],
        draft=canned.replace("sorry", "so sorry"),
        channels=[],
        task_token="token-2",
    )
    link = request_step(review, deps, NOW)[0]
    assert "nearly identical" in view(_open(deps, link), deps, NOW).canned_warning
    assert deps.issues.audit_types(ISSUE) == ["canned_warning_raised", "step_initial"]
    act(_open(deps, link), Answer("approved"), deps, NOW + timedelta(minutes=1))
    assert deps.issues.audit_types(ISSUE)[-2:] == ["canned_warning_overridden", "step_approved"]
