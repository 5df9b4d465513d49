"""Emailed links (signed, expiring) and what the pages and emails show (escaped, warned)."""

from __future__ import annotations

from chalicelib.adapters.approvals_table import Approval
from chalicelib.domain import links
from chalicelib.services.approvals import canned_warning, step_email

KEY = "k" * 32


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
    base = dict(approval_id="id1", issue_id="iss-1", person="legal@x.example", step="legal_review", action="review",
                role="Legal reviews", protocol="high_priority", attempt="initial",
                outcomes=("approved", "rejected"), draft="We're sorry <b>Ana</b>", comment="<i>tone</i>",
                commented_by="pr@x.example", status="pending", created_at="2026-11-24T00:00:00+00:00",
                expires_at=2_000_000_000, token_ref="token#x")
    base.update(changes)
    return Approval(**base)


def test_emails_escape_every_piece_of_user_text():
    issue = {"category": "high_priority", "severity": "critical", "description": "<script>x()</script> boots"}
    subject, text, html = step_email(_approval(), issue, "http://h/approvals/id1?exp=1&sig=ab", 60)
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
