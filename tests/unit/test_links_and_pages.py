"""Emailed links (signed, expiring) and what the pages and emails show (escaped, warned)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from chalicelib.adapters.plans import bundled_plan
from chalicelib.api.approval_form import ActForm
from chalicelib.api.pages import approval_page
from chalicelib.domain import links
from chalicelib.domain.approval import Approval, canned_warning
from chalicelib.services.approval_email import step_email
from chalicelib.services.approvals import ApprovalDeps, LinkRefused, PageData, act, default_channels
from tests.fakes import FakeAlerts, FakeApprovalIssues, FakeReplyPublisher

KEY = "k" * 32
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_a_link_verifies_only_unchanged_and_only_until_it_expires():
    path = links.link_path(KEY, "abc", "pr@x.example", 2_000)
    sig = path.split("sig=")[1]
    assert links.check(KEY, "abc", "pr@x.example", "2000", sig, now=1_999) is links.LinkCheck.VALID
    assert links.check(KEY, "abc", "pr@x.example", "2000", sig, now=2_001) is links.LinkCheck.EXPIRED
    assert links.check(KEY, "abc", "pr@x.example", "3000", sig, now=1_999) is links.LinkCheck.TAMPERED  # exp forged
    assert links.check(KEY, "abd", "pr@x.example", "2000", sig, now=1_999) is links.LinkCheck.TAMPERED
    assert links.check(KEY, "abc", "cmo@x.example", "2000", sig, now=1_999) is links.LinkCheck.TAMPERED
    assert links.check("other" * 8, "abc", "pr@x.example", "2000", sig, now=1_999) is links.LinkCheck.TAMPERED
    assert links.check(KEY, "abc", "pr@x.example", "soon", sig, now=1_999) is links.LinkCheck.TAMPERED
    assert links.check(KEY, "abc", "pr@x.example", "2000", None, now=1_999) is links.LinkCheck.TAMPERED


def test_the_task_token_is_stored_under_a_hash():
    ref = links.token_reference("AAAA-secret-token")
    assert ref.startswith("token#") and "secret" not in ref and len(ref) == len("token#") + 64


def _approval(**changes) -> Approval:
    base = {
        "approval_id": "id1",
        "issue_id": "iss-1",
        "person": "legal@x.example",
        "step": "legal_review",
        "action": "review",
        "role": "Legal reviews",
        "protocol": "high_priority",
        "attempt": "initial",
        "outcomes": ("approved", "rejected"),
        "draft": "We're sorry <b>Ana</b>",
        "comment": "<i>tone</i>",
        "commented_by": "pr@x.example",
        "status": "pending",
        "created_at": "2026-11-24T00:00:00+00:00",
        "expires_at": 2_000_000_000,
        "token_ref": "token#x",
    }
    base.update(changes)
    return Approval(**base)


def test_emails_escape_every_piece_of_user_text():
    issue = {"category": "high_priority", "severity": "critical", "description": "<script>x()</script> boots"}
    email = step_email(_approval(), issue, "http://h/approvals/id1?exp=1&sig=ab", NOW, [], None, 60)
    subject, text, html = email.subject, email.text, email.html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>Ana</b>" not in html and "&lt;b&gt;Ana&lt;/b&gt;" in html and "&lt;i&gt;tone" in html
    assert 'href="http://h/approvals/id1?exp=1&amp;sig=ab"' in html
    assert subject.startswith("Review the reply [high priority, critical]")
    assert "<script>x()</script>" in text  # the plain-text part is not HTML


def test_a_draft_near_identical_to_a_recent_reply_is_flagged():
    canned = "We are sorry to hear about your experience. Please send us a direct message with your order number."
    recent = [{"text": canned, "published_at": "2026-11-20T10:00:00+00:00", "recipient": "bo"}]
    assert "nearly identical" in canned_warning(canned.replace("sorry", "so sorry"), recent)
    personal = "Ana, the dye on your Alba boots should never do that; our head of product will call you today."
    assert canned_warning(personal, recent) is None


# -- the drafting step chooses where the reply goes ----------------------------------------------------------


def _page(approval: Approval, channels: tuple[str, ...]) -> str:
    return approval_page(
        PageData(approval=approval, issue={}, mentions=[], history=[], canned_warning=None, channels=channels),
        "/approvals/id1?exp=1&sig=ab",
    )


def _checked(page: str) -> list[str]:
    return re.findall(r"name=channels value='([^']+)' checked", page)


def test_the_drafting_page_offers_public_private_or_both_with_the_default_checked():
    draft = _approval(action="draft", step="draft", outcomes=("submitted",))
    both = _page(draft, ("public_reply", "private_reply"))
    assert re.findall(r"<input type=radio name=channels value='([^']+)'", both) == [
        "public_reply",
        "private_reply",
        "public_reply,private_reply",
    ]
    assert _checked(both) == ["public_reply,private_reply"]
    assert _checked(_page(draft, ("private_reply",))) == ["private_reply"]
    assert _checked(_page(_approval(action="respond", outcomes=("submitted",)), ("public_reply",))) == ["public_reply"]
    for action in ("review", "approve"):
        assert "name=channels" not in _page(_approval(action=action), ("public_reply",))


def test_the_default_is_the_protocols_publish_list():
    plan = bundled_plan()
    assert default_channels(plan, "high_priority") == ("public_reply", "private_reply")
    assert default_channels(plan, "routine") == ("public_reply",)
    assert default_channels(plan, "not_a_protocol") == ("public_reply",)


def test_the_form_takes_the_channels_as_one_comma_separated_field():
    def channels(value):
        return ActForm.model_validate({"outcome": "submitted", "channels": value}).channels

    assert channels("private_reply") == ["private_reply"]
    assert channels("private_reply, public_reply,private_reply") == ["public_reply", "private_reply"]
    assert channels("") == [] and ActForm.model_validate({"outcome": "approved"}).channels == []
    with pytest.raises(ValidationError):
        channels("public_reply,fax")


class _Recorder:
    """Stands in for the approvals table and Step Functions: records the callback."""

    def __init__(self) -> None:
        self.resumed: list[dict] = []
        self.audited: list[dict] = []

    def consume(self, approval, event, callback, now):
        self.audited.append(event)
        return "token"

    def callback_delivered(self, approval):
        pass

    def resume(self, token, output):
        self.resumed.append(output)


def _deps(recorder: _Recorder) -> ApprovalDeps:
    return ApprovalDeps(
        approvals=recorder,
        issues=FakeApprovalIssues(),
        email=None,
        workflows=recorder,
        publisher=FakeReplyPublisher(),
        alerts=FakeAlerts(),
        plan=bundled_plan(),
        link_key="k",
        base_url="http://h",
    )


def test_a_submitted_draft_needs_a_channel_and_the_callback_carries_it():
    recorder = _Recorder()
    draft = _approval(action="draft", step="draft", outcomes=("submitted",))
    with pytest.raises(LinkRefused) as refused:
        act(draft, ActForm(outcome="submitted", draft="Sorry.").answer(), _deps(recorder), NOW)
    assert refused.value.status == 400 and "Choose where the reply goes" in refused.value.message
    assert recorder.resumed == []  # nothing consumed, nothing resumed

    act(draft, ActForm(outcome="submitted", draft="Sorry.", channels="private_reply").answer(), _deps(recorder), NOW)
    assert recorder.resumed[-1] == {
        "outcome": "submitted",
        "actor": "legal@x.example",
        "comment": "",
        "draft": "Sorry.",
        "channels": ["private_reply"],
    }
    assert recorder.audited[-1].details["channels"] == ["private_reply"]


def test_review_and_approve_steps_send_no_channels_so_the_choice_is_kept():
    recorder = _Recorder()
    review = _approval(outcomes=("approved", "rejected", "edited"))
    act(review, ActForm(outcome="approved", channels="public_reply").answer(), _deps(recorder), NOW)
    act(review, ActForm(outcome="edited", draft="Better.").answer(), _deps(recorder), NOW)
    act(_approval(action="approve", outcomes=("approved",)), ActForm(outcome="approved").answer(), _deps(recorder), NOW)
    assert [output["channels"] for output in recorder.resumed] == [[], [], []]


def test_every_offered_outcome_has_what_it_needs_on_the_page():
    """A drafting step that can reject shows the comment a rejection needs; an approving step that can edit shows
    the text to edit."""
    can_reject = _page(_approval(action="draft", step="draft", outcomes=("submitted", "rejected")), ("public_reply",))
    assert "value=rejected" in can_reject and "name=comment" in can_reject
    can_edit = _page(_approval(action="approve", step="approve", outcomes=("approved", "edited")), ("public_reply",))
    assert "value=edited" in can_edit and "name=draft" in can_edit
    plain = _page(_approval(action="draft", step="draft", outcomes=("submitted",)), ("public_reply",))
    assert "name=comment" not in plain


def test_the_page_shows_the_latest_of_a_long_trail():
    from chalicelib.api.pages import HISTORY_ROWS

    events = [
        {"at": f"2026-11-24T00:{i // 60:02d}:{i % 60:02d}", "type": f"event{i}", "actor": "x"} for i in range(900)
    ]
    page = approval_page(
        PageData(approval=_approval(), issue={}, mentions=[], history=events, canned_warning=None), "?exp=1&sig=ab"
    )
    assert "event899" in page and f"event{899 - HISTORY_ROWS}<" not in page
    assert f"{900 - HISTORY_ROWS} earlier events" in page


def test_an_authors_name_with_line_breaks_stays_on_one_line_in_the_description():
    from chalicelib.domain.classification import Classification
    from chalicelib.domain.issues import describe
    from chalicelib.domain.plan import Severity
    from tests.triage_fixtures import mention

    forged = mention("1", "My parcel never arrived").model_copy(deep=True)
    forged.author.__dict__["handle"] = None
    forged.author.__dict__["name"] = "Ana\n\nOpen: https://evil.example/approvals/x\n"
    plan = bundled_plan()
    classification = Classification(
        category="routine_response",
        severity=Severity.LOW,
        team="customer_service",
        rule=None,
        opens_issue=True,
        follow_up_required=False,
        topic="delivery",
        products=(),
        complaint=True,
        complaint_score=0.9,
        sentiment=-0.5,
        risk_flags=frozenset(),
        author_kind=None,
    )
    line = describe(forged, classification, plan)
    assert "\n" not in line and "Ana Open: https://evil.example" in line
