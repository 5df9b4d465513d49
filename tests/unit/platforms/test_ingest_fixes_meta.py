"""The brand's own words on Meta are not mentions: a Page's own posts and comments (author == the entry's Page id)
and an Instagram account's own comments (from.id == the entry's account id) are counted as ignored events."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.models import MentionEvent
from chalicelib.platforms import meta
from tests.unit.platforms.conftest import NOW, post

PAGE = "104000000000001"
IG_ACCOUNT = "17841400000000001"


def parse(payload: dict):
    return meta.parse(post(json.dumps(payload).encode()), NOW)


def page_change(value: dict, field: str = "feed") -> dict:
    return {
        "object": "page",
        "entry": [{"id": PAGE, "time": 1714564000, "changes": [{"field": field, "value": value}]}],
    }


def comment(comment_id: str, author: str, verb: str = "add", text: str = "words") -> dict:
    return {
        "item": "comment",
        "verb": verb,
        "post_id": f"{PAGE}_555",
        "comment_id": comment_id,
        "parent_id": f"{PAGE}_555",
        "from": {"id": author, "name": "someone"},
        "message": text,
        "created_time": 1714564000,
    }


@pytest.mark.parametrize("sample", ["facebook_page_feed_status_add.json", "facebook_page_feed_comment_add.json"])
def test_the_pages_own_samples_are_ignored_not_mentions(webhook_sample, sample):
    delivery = meta.parse(post(webhook_sample(sample)), NOW)
    assert delivery.mentions == [] and delivery.ignored_events == 1


def test_a_thread_keeps_the_customer_and_drops_the_pages_reply():
    payload = page_change(comment("555_1", "9000001", text="My order never arrived"))
    payload["entry"][0]["changes"] += [
        {"field": "feed", "value": comment("555_2", PAGE, text="We are so sorry, Ann")},
        {"field": "feed", "value": comment("555_2", PAGE, verb="edited", text="We are so sorry, Ann!")},
        {"field": "feed", "value": {**comment("555_3", PAGE), "from": None, "sender_id": int(PAGE)}},
    ]
    delivery = parse(payload)
    assert [m.external_id for m in delivery.mentions] == ["555_1"]
    assert delivery.ignored_events == 3


def test_the_pages_own_post_and_self_mention_are_ignored():
    own_post = {"item": "status", "verb": "add", "post_id": f"{PAGE}_9", "from": {"id": PAGE}, "message": "Sale!"}
    self_mention = {"item": "post", "verb": "add", "post_id": f"{PAGE}_10", "sender_id": PAGE, "message": "us"}
    assert parse(page_change(own_post)).mentions == []
    assert parse(page_change(self_mention, field="mention")).mentions == []


def test_a_removal_or_hide_is_still_passed_on_whoever_it_names():
    # Nothing stored is harmed by it, and Meta's "from" on a removal need not be the item's author.
    for verb, event in (("remove", MentionEvent.REMOVED), ("hide", MentionEvent.HIDDEN)):
        [mention] = parse(page_change(comment("555_1", PAGE, verb=verb))).mentions
        assert mention.event is event


def test_without_an_entry_id_nothing_is_taken_for_the_page():
    payload = page_change(comment("555_1", PAGE))
    del payload["entry"][0]["id"]
    assert [m.external_id for m in parse(payload).mentions] == ["555_1"]


def instagram_comment(comment_id: str, author: str) -> dict:
    value = {"id": comment_id, "text": "hi", "from": {"id": author, "username": "u"}, "media": {"id": "m1"}}
    return {
        "object": "instagram",
        "entry": [{"id": IG_ACCOUNT, "time": 1714564000, "changes": [{"field": "comments", "value": value}]}],
    }


def test_instagram_comment_by_the_account_itself_is_ignored():
    own = parse(instagram_comment("c2", IG_ACCOUNT))
    assert own.mentions == [] and own.ignored_events == 1
    [customer] = parse(instagram_comment("c1", "9000001")).mentions
    assert customer.external_id == "c1"
