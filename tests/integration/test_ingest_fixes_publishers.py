"""A read-back takes only this claim's own post for done: a survey line whose first attempt failed (5xx, nothing
posted) is posted on retry, not recorded as published because the approved reply is already on the same target; a
post that did go out is still found (exactly once), even as the platform rewrites its text (X's t.co links)."""

from __future__ import annotations

import pytest

from chalicelib.domain.publishing import PUBLIC_REPLY, Next, Reason, is_our_reply, reply_fingerprint
from tests.contract_servers.base import ACCEPT_THEN_HANG, UNAVAILABLE
from tests.integration.test_publishers import (  # noqa: F401  (fixtures)
    FACEBOOK,
    INSTAGRAM,
    TRUSTPILOT,
    YOUTUBE,
    X,
    claims,
    later,
    moto_aws,
    now,
    publisher_for,
    request,
    serve,
)

SURVEY = "@walker Thanks for telling us & sorry. How happy are you, 1 to 5? https://brand.example/s/s1?exp=1&sig=2"


@pytest.mark.parametrize("platform", [X, FACEBOOK, INSTAGRAM, YOUTUBE], ids=lambda p: p.name)
def test_a_survey_retried_after_a_5xx_is_posted_not_taken_for_the_approved_reply(platform, claims, serve):  # noqa: F811
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, PUBLIC_REPLY)
    approved = publisher.publish(request(target, PUBLIC_REPLY, run="iss-1-routine-run1"), now())
    server.script(UNAVAILABLE)

    first = publisher.publish(request(target, PUBLIC_REPLY, run="survey-s1", text=SURVEY), now())
    retried = publisher.publish(request(target, PUBLIC_REPLY, run="survey-s1", text=SURVEY), later(first))

    assert approved.reason is Reason.PUBLISHED
    assert (first.next, first.ambiguous) == (Next.RETRY, True)
    assert (retried.next, retried.reason) == (Next.DONE, Reason.PUBLISHED)
    assert retried.platform_id != approved.platform_id
    assert platform.posts(server, PUBLIC_REPLY) == 2


@pytest.mark.parametrize("platform", [X, FACEBOOK, INSTAGRAM, YOUTUBE, TRUSTPILOT], ids=lambda p: p.name)
def test_a_survey_that_went_out_before_a_timeout_is_found_and_not_posted_twice(platform, claims, serve):  # noqa: F811
    server = serve(platform)
    publisher = publisher_for(platform, server, claims)
    target = platform.target(server, PUBLIC_REPLY)
    if platform is not TRUSTPILOT:  # a Trustpilot review holds one reply
        publisher.publish(request(target, PUBLIC_REPLY, run="iss-1-routine-run1"), now())
    server.script(ACCEPT_THEN_HANG)

    first = publisher.publish(request(target, PUBLIC_REPLY, run="survey-s1", text=SURVEY), now())
    retried = publisher.publish(request(target, PUBLIC_REPLY, run="survey-s1", text=SURVEY), later(first))

    assert (first.next, first.reason) == (Next.RETRY, Reason.TIMEOUT)
    assert (retried.next, retried.reason) == (Next.DONE, Reason.FOUND_BY_READ_BACK)
    assert platform.posts(server, PUBLIC_REPLY) == (1 if platform is TRUSTPILOT else 2)


def test_x_shows_the_survey_with_a_t_co_link_and_escaped_ampersand(claims, serve):  # noqa: F811
    server = serve(X)
    publisher = publisher_for(X, server, claims)
    target = X.target(server, PUBLIC_REPLY)
    server.script(ACCEPT_THEN_HANG)
    first = publisher.publish(request(target, PUBLIC_REPLY, run="survey-s1", text=SURVEY), now())
    [shown] = [t["text"] for t in server.brand_replies()]
    assert "https://t.co/" in shown and "&amp;" in shown and shown != SURVEY  # the contract server rewrites it
    retried = publisher.publish(request(target, PUBLIC_REPLY, run="survey-s1", text=SURVEY), later(first))
    assert retried.reason is Reason.FOUND_BY_READ_BACK and len(server.brand_replies()) == 1


def test_trustpilot_a_reply_of_another_claim_is_neither_taken_nor_replaced(claims, serve):  # noqa: F811
    server = serve(TRUSTPILOT)
    publisher = publisher_for(TRUSTPILOT, server, claims)
    target = TRUSTPILOT.target(server, PUBLIC_REPLY)
    publisher.publish(request(target, PUBLIC_REPLY, run="iss-1-routine-run1"), now())
    approved_text = server.reviews[target.external_id]["companyReply"]["text"]
    server.script(UNAVAILABLE)

    first = publisher.publish(request(target, PUBLIC_REPLY, run="survey-s1", text=SURVEY), now())
    retried = publisher.publish(request(target, PUBLIC_REPLY, run="survey-s1", text=SURVEY), later(first))

    assert (retried.next, retried.reason, retried.alert) == (Next.FINAL, Reason.ALREADY_REPLIED, True)
    assert server.reviews[target.external_id]["companyReply"]["text"] == approved_text
    assert server.replies_posted == 1


@pytest.mark.parametrize(
    ("shown", "ours", "same"),
    [
        (
            "@walker Thanks &amp; bye https://t.co/Ab12Cd34Ef",
            "@walker Thanks & bye https://brand.example/s?a=1&b=2",
            True,
        ),
        ("Thanks & bye https://t.co/x", "@walker  Thanks &  bye\nhttps://brand.example/s", True),
        ("We are sorry: a replacement is on its way.", SURVEY, False),
        ("Thanks & bye", "Thanks & bye https://brand.example/s", False),  # a link is part of what was said
        ("", "", False),
    ],
)
def test_reply_texts_compare_as_platforms_show_them(shown, ours, same):
    assert is_our_reply(shown, ours) is same
    assert reply_fingerprint(ours) == reply_fingerprint(ours.upper().lower())
