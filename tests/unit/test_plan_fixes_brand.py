"""The plan's brand is one line of at most 100 characters, and every email subject built from plan or user words is
one line: a line break in a header made Python's email package raise on every weekly report run."""

from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes, policy

import pytest

from chalicelib.adapters.plans import DEFAULT_PLAN, bundled_plan
from chalicelib.adapters.report_sender import report_email
from chalicelib.adapters.survey_senders import SesSurveySender
from chalicelib.domain.plan import BRAND_MAX_CHARS, PlanError, load_plan_yaml, parse_plan
from chalicelib.domain.text_safety import subject_line
from chalicelib.services.plan_check import plan_problems
from chalicelib.services.surveys import schedule_surveys
from chalicelib.services.upkeep import send_review_reminders
from tests.unit.test_plan_upkeep import FakeIssues, FakeMailer
from tests.unit.test_surveys import NOW, deps, resolved  # noqa: F401 - deps: the fixture

PLAN = DEFAULT_PLAN.read_text(encoding="utf-8")


def with_brand(line: str) -> str:
    return PLAN.replace("brand: Aurelle\n", line, 1)


def test_a_folded_brand_is_trimmed_to_its_one_line():
    assert load_plan_yaml(with_brand("brand: >\n  Aurelle\n")).brand == "Aurelle"  # YAML reads 'Aurelle\n'
    assert load_plan_yaml(with_brand('brand: "  Aurelle Paris "\n')).brand == "Aurelle Paris"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("brand: |\n  Aurelle\n  Paris\n", "one line"),
        ('brand: "Aurelle\\tParis"\n', "one line"),
        ('brand: "Aurelle\\u2028Paris"\n', "one line"),
        ('brand: "Aurelle\\x00"\n', "one line"),
        (f"brand: {'A' * (BRAND_MAX_CHARS + 1)}\n", f"at most {BRAND_MAX_CHARS} characters"),
    ],
)
def test_a_brand_on_several_lines_with_control_characters_or_too_long_is_refused_naming_the_field(line, problem):
    (found,) = plan_problems(with_brand(line))
    assert (found.place, found.line) == ("brand", 3) and problem in found.problem
    with pytest.raises(PlanError, match="brand"):
        load_plan_yaml(with_brand(line))


def test_a_stored_document_with_a_line_break_in_its_brand_is_read_on_one_line():
    document = {**bundled_plan().model_dump(mode="json"), "brand": "Aurelle\r\nParis\n" + "x" * 200}
    assert parse_plan(document, stored=True).brand == ("Aurelle Paris " + "x" * 200)[:BRAND_MAX_CHARS]
    with pytest.raises(PlanError, match="brand"):
        parse_plan(document)


def test_one_line_collapses_line_breaks_tabs_and_control_characters():
    assert subject_line("  Aurelle\r\n weekly\u2028report\x00\t2026-W47 \n") == "Aurelle weekly report 2026-W47"
    assert subject_line("a " * 200, limit=10) == "a a a a a"


def test_the_report_email_is_built_from_a_subject_with_a_line_break():
    raw = report_email("r@aurelle.example", "cmo@aurelle.example", "Aurelle\nweekly report 2026-W47", "t", "<p/>", {})
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == "Aurelle weekly report 2026-W47"


def test_the_survey_subject_from_the_plans_brand_and_question_is_one_line(deps):  # noqa: F811
    document = bundled_plan().model_dump(mode="json")
    document["categories"]["routine_response"]["survey"]["question"] = "How happy are you\nwith our answer?"
    plan = parse_plan(document)
    assert schedule_surveys([resolved()], plan, deps, NOW)["sent"] == 1
    ((_, subject, _, _),) = deps.sender.sent
    assert subject == "Aurelle: How happy are you with our answer?"

    class Email:
        def send(self, to, subject, text, html):
            self.subject = subject
            return "m-1"

    email = Email()
    survey = deps.sender.sent[0][0].model_copy(update={"contact": "ana@example.com"})
    SesSurveySender(email).send(survey, {}, "Aurelle:\r\nBcc: all@example.com", "t", "<p/>", NOW)  # type: ignore[arg-type]
    assert email.subject == "Aurelle: Bcc: all@example.com"


def test_the_review_reminder_subject_from_a_protocol_label_is_one_line():
    document = bundled_plan().model_dump(mode="json")
    document["protocols"]["routine"]["label"] = "Routine\nresponse"
    mailer = FakeMailer()
    send_review_reminders(parse_plan(document), FakeIssues([], {}), mailer, datetime(2026, 11, 1, tzinfo=timezone.utc))
    subject = next(v[1] for k, v in mailer.sent.items() if "#routine#" in k)
    assert subject == "[Aurelle] Monthly review: Routine response (2026-10)"
