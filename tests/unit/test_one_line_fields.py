"""An author's one-line fields (a post's url, a declared product, a handle) stay on one line wherever they are shown:
in the issue's description, the approver's plain-text email and the hourly alert digest. A line break there would
start lines of the author's choosing, such as a forged "Open: <link>" in the approval email. Bad input is never
dropped: the words are kept with their whitespace folded, and a link that is not a clean http(s) address is only
left out of the email (the mention keeps it as it came)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from chalicelib.adapters.memory import InMemoryTriageStore
from chalicelib.adapters.plans import BundledPlanSource, bundled_plan
from chalicelib.domain.alerts import Alert, AlertKind, digest_alert
from chalicelib.domain.classification import classify, products_named
from chalicelib.domain.issues import describe
from chalicelib.domain.text_safety import escape_json_controls, one_line, printable
from chalicelib.services.approval_email import safe_web_link
from chalicelib.services.approvals import request_step
from chalicelib.services.triage import triage_mention
from tests.triage_fixtures import fixed_analyzer, mention
from tests.unit.test_approvals import ISSUE, NOW, _deps, _step

EVIL_LINK = "https://evil.example/approvals/9f3a?exp=1&sig=ab"
FORGED = f"\n\nOpen: {EVIL_LINK}\n\nThe link is for you alone, works once, and expires.\r\n\u2028\x85\v\f\n"
LINE_BREAKS = ["\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\u2028", "\u2029"]


def _open_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Open: ")]


# -- the mention's fields, where they are normalised and described ------------------------------------------------
def test_a_declared_product_with_line_breaks_is_one_product_on_one_line_and_keeps_its_words():
    m = mention("1", "My parcel never arrived, worst service, I want a refund").model_copy(
        update={"product": "Zorblax" + FORGED}
    )
    store = InMemoryTriageStore()
    issue = store.issues[triage_mention(m, store, BundledPlanSource(), fixed_analyzer).issue_id]
    assert issue.products == (one_line("Zorblax" + FORGED),)
    assert issue.products[0].startswith("Zorblax Open: https://evil.example") and EVIL_LINK in issue.products[0]
    assert len(issue.description.splitlines()) == 1 and "Zorblax Open:" in issue.description
    assert m.product == "Zorblax" + FORGED  # the mention itself is stored as it came


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_products_named_folds_every_kind_of_line_break_in_a_declared_product(brk):
    assert products_named("nothing named here", bundled_plan(), f"  Zorblax{brk}{brk}tote ") == ("Zorblax tote",)
    assert products_named("nothing named here", bundled_plan(), f"{brk} \t{brk}") == ()


def test_describe_puts_a_product_handle_and_text_on_one_line_whatever_the_classification_carries():
    plan = bundled_plan()
    m = mention("1", "The zip broke\nOpen: https://evil.example\u2028again").model_copy(
        update={"author": mention("1", "x").author.model_copy(update={"handle": "ana\r\nOpen: x\x85y"})}
    )
    classification = classify(m, fixed_analyzer(m.text), plan)
    # a product with line breaks (an issue opened before products were folded, or another source of products)
    with_breaks = replace(classification, products=("Zorblax" + FORGED,))
    description = describe(m, with_breaks, plan)
    assert len(description.splitlines()) == 1
    assert "Zorblax Open: https://evil.example" in description and "ana Open: x y" in description


# -- the approver's email ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://reviews.example/r1" + FORGED,
        *(f"https://reviews.example/r1{brk}Open: {EVIL_LINK}" for brk in LINE_BREAKS),
        "https://reviews.example/r 1",
        "https://reviews.example/r1\t",
        "https://reviews.example/\x1b[2Jr1",
        "https://reviews.example/r1\x00",
        "https://reviews.example/r1\x7f",
        "https://reviews.example/r1\x9b",
        "https://reviews.example/r1\u00a0",
        "https://",
        "https:///path-without-a-host",
        "javascript:alert(1)//https://x",
    ],
)
def test_safe_web_link_refuses_a_link_that_is_not_a_clean_http_address(url):
    assert safe_web_link(url) is None


@pytest.mark.parametrize(
    "url", ["https://reviews.example/r1", "http://x.example/a?b=1&c=%0A#frag", "HTTPS://X.EXAMPLE/ü"]
)
def test_safe_web_link_keeps_a_clean_http_address(url):
    assert safe_web_link(url) == url


def test_the_approval_email_has_one_open_line_whatever_the_authors_url_and_description_hold():
    deps = _deps()
    forged_url = "https://x.com/walker/status/1700" + FORGED
    deps.issues.mention_items[ISSUE][0]["url"] = forged_url
    # an issue described before descriptions were one line: its stored product carried the author's line breaks
    deps.issues.issues[ISSUE]["description"] = "Routine Response: Zorblax" + FORGED + 'on x from ana: "late"'
    links = request_step(_step(), deps, NOW)
    assert len(links) == 2
    for sent, link in zip(deps.email.sent, links, strict=True):
        assert _open_lines(sent["text"]) == [f"Open: {link}"]
        assert "The original post" not in sent["text"] and "The original post" not in sent["html"]
        assert EVIL_LINK in sent["text"]  # the description's words are kept, on its one line
        assert [line for line in sent["text"].splitlines() if EVIL_LINK in line] == [
            one_line(deps.issues.issues[ISSUE]["description"])
        ]
    assert deps.issues.mention_items[ISSUE][0]["url"] == forged_url  # the mention keeps what came


# -- the alert digest -----------------------------------------------------------------------------------------------
def test_the_digest_gives_each_held_back_alert_one_line():
    desc = 'Routine Response: Zorblax\n- [critical] new_issue crisis iss-0: all clear, ignore the alerts above "late"'
    alerts = [
        Alert(
            kind=AlertKind.NEW_ISSUE,
            severity="high",
            category="high_priority",
            team="cs",
            issue_id=f"iss-{i}{brk}",
            subject=f"New High Priority issue (high): {desc.replace(chr(10), brk)}",
            message=desc,
        )
        for i, brk in enumerate(LINE_BREAKS)
    ]
    digest = digest_alert("2026-12-01T16", alerts)
    lines = digest.message.splitlines()
    assert len(lines) == 1 + len(alerts)
    assert all(line.startswith("- [high] new_issue high_priority iss-") for line in lines[1:])
    assert all("Zorblax - [critical] new_issue crisis iss-0: all clear" in line for line in lines[1:])
    assert [a["subject"] for a in digest.details["alerts"]] == [a.subject for a in alerts]  # the details, whole


# -- the shared helpers ---------------------------------------------------------------------------------------------
def test_one_line_folds_whitespace_only_and_printable_drops_controls():
    assert one_line("  a\r\n\u2028b\x85\tc\x1b[2J ") == "a b c\x1b[2J"  # erasure finds the words folded so
    assert printable("a\r\nb\x1b]0;t\x07\x7f\x9bc\u2028d") == "a  b]0;tc d"
    assert printable("ünïcode ✓") == "ünïcode ✓"


def test_escape_json_controls_keeps_the_json_valid_and_the_same():
    value = {"t\x9bk": "a\x1b[2J\x7f\x9b2J\x85\u2028ü", "n": [1, None]}
    text = escape_json_controls(json.dumps(value, ensure_ascii=False, indent=2))
    assert json.loads(text) == value and "ü" in text
    assert not any(c in text for c in "\x1b\x7f\x9b\x85\u2028")


def test_a_comment_and_a_draft_cannot_write_lines_of_the_approval_email_of_their_own():
    from chalicelib.services.approval_email import step_email
    from tests.unit.test_channel_length import drafting

    approval = replace(
        drafting(),
        step="review",
        action="review",
        role="legal",
        outcomes=("approve", "reject"),
        draft="Dear customer,\nwe are sorry." + FORGED,
        comment="Too long" + FORGED,
        commented_by="pr\nOpen: x",
    )
    link = "https://api.example/approvals/a1?exp=2&sig=cd"
    email = step_email(approval, {"description": "d"}, link, NOW, [], None, 60)
    assert _open_lines(email.text) == [f"Open: {link}"]
    comment_lines = [line for line in email.text.splitlines() if line.startswith("Comment from")]
    assert comment_lines == [f"Comment from pr Open: x: {one_line('Too long' + FORGED)}"]
    draft = email.text.split("Current draft:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert draft[:2] == ["> Dear customer,", "> we are sorry."] and all(line.startswith("> ") for line in draft)
    assert sum(line.startswith("The link is for you alone") for line in email.text.splitlines()) == 1
