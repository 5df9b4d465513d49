"""A comment, reply or message reaches us addressed to the brand though its text names nobody: the text model reads
it so (``chalicelib.domain.classification.model_text``), and its complaint is a complaint."""

import pytest

from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.classification import ADDRESSEE, classify, model_text
from chalicelib.domain.models import Mention, MentionKind
from chalicelib.domain.signals import analyze_one


def mention(kind: MentionKind, text: str, **fields) -> Mention:
    return Mention(
        platform="facebook", external_id="1", kind=kind, text=text, created_at="2026-11-20T09:00:00Z", **fields
    )


@pytest.mark.parametrize(
    ("kind", "text", "read"),
    [
        (MentionKind.COMMENT, "My parcel never arrived", f"{ADDRESSEE} My parcel never arrived"),
        (MentionKind.REPLY, "still nothing", f"{ADDRESSEE} still nothing"),
        (MentionKind.MESSAGE, "Where is my refund?", f"{ADDRESSEE} Where is my refund?"),
        (MentionKind.COMMENT, "@aurelle my parcel never arrived", "@aurelle my parcel never arrived"),  # addressed
        (MentionKind.REPLY, " .@ana agreed", " .@ana agreed"),
        (MentionKind.POST, "My parcel never arrived", "My parcel never arrived"),  # maybe about us, not to us
        (MentionKind.MENTION, "Lunch with @aurelle", "Lunch with @aurelle"),
        (MentionKind.REVIEW, "Broke in a week", "Broke in a week"),  # a review reads as written (its rating counts)
    ],
    ids=["comment", "reply", "message", "opening-handle", "dot-handle", "post", "mention", "review"],
)
def test_the_model_reads_an_addressed_mention_as_addressed(kind, text, read):
    assert model_text(mention(kind, text)) == read


def test_a_title_is_read_with_the_text():
    assert (
        model_text(mention(MentionKind.MESSAGE, "it never came", title="Order 123"))
        == f"{ADDRESSEE} Order 123 it never came"
    )


def test_a_plain_complaint_in_a_comment_goes_to_customer_service_as_a_post_of_it_would_not():
    plan = bundled_plan()
    text = "My parcel never arrived"
    as_comment, as_post = (mention(kind, text) for kind in (MentionKind.COMMENT, MentionKind.POST))
    commented = classify(as_comment, analyze_one(model_text(as_comment)), plan)
    posted = classify(as_post, analyze_one(model_text(as_post)), plan)
    assert commented.complaint and commented.category == "routine_response" and commented.team == "customer_service"
    assert not posted.complaint and posted.category == "no_action"
    praise = mention(MentionKind.COMMENT, "Love these shoes, thank you!")
    assert not classify(praise, analyze_one(model_text(praise)), plan).complaint  # addressed is not a complaint
