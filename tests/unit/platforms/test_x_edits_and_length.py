"""X edits (review G): every edit of a post gets a new post id, and the post's ``edit_history`` names the chain,
oldest first ("Each time a Post is edited, a new Post ID is created ... chaining these IDs together, starting with
the original ID", X's Edit Posts docs). An edit is an EDITED event of the mention its first id made, not a second
mention beside it. Payloads follow X's documented v1.1 objects (``edit_history``) and v2 ones
(``edit_history_tweet_ids``)."""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.domain.models import MentionEvent, MentionKind
from tests.unit.platforms.test_x import CAIRDIN, activity, parse, tweet

ORIGINAL_ID, EDIT_ID, EDIT2_ID = "1900000000000000001", "1900000000000000002", "1900000000000000003"
ORIGINAL = tweet(
    ORIGINAL_ID,
    "@VirginAmerica my bag is late",
    "Wed May 01 11:40:00 +0000 2024",
    CAIRDIN,
    edit_history={"initial_tweet_id": ORIGINAL_ID, "edit_tweet_ids": [ORIGINAL_ID]},
)


def _edit(tweet_id: str, text: str, at: str, chain: list[str]) -> dict:
    return tweet(tweet_id, text, at, CAIRDIN, edit_history={"initial_tweet_id": ORIGINAL_ID, "edit_tweet_ids": chain})


def test_a_post_never_edited_is_created_under_its_own_id():
    [mention] = parse(activity(tweet_create_events=[ORIGINAL])).mentions
    assert (mention.external_id, mention.event) == (ORIGINAL_ID, MentionEvent.CREATED)


def test_an_edit_is_an_edited_event_of_the_first_versions_mention():
    edit = _edit(
        EDIT_ID, "@VirginAmerica my bag is late, 3 days now", "Wed May 01 11:50:00 +0000 2024", [ORIGINAL_ID, EDIT_ID]
    )
    [mention] = parse(activity(tweet_create_events=[edit])).mentions
    assert (mention.platform, mention.external_id, mention.event) == ("x", ORIGINAL_ID, MentionEvent.EDITED)
    assert mention.kind is MentionKind.POST and mention.text == "@VirginAmerica my bag is late, 3 days now"
    assert mention.created_at == datetime(2024, 5, 1, 11, 50, tzinfo=timezone.utc)  # the edit's time orders edits
    assert mention.url == f"https://x.com/cairdin/status/{EDIT_ID}"  # the link shows the version we hold


def test_a_second_edit_is_still_the_first_ids_mention_and_newer():
    chain = [ORIGINAL_ID, EDIT_ID, EDIT2_ID]
    first = _edit(EDIT_ID, "@VirginAmerica edit one", "Wed May 01 11:50:00 +0000 2024", chain[:2])
    second = _edit(EDIT2_ID, "@VirginAmerica edit two", "Wed May 01 11:55:00 +0000 2024", chain)
    one, two = parse(activity(tweet_create_events=[first, second])).mentions
    assert one.external_id == two.external_id == ORIGINAL_ID
    assert one.event is two.event is MentionEvent.EDITED and two.created_at > one.created_at


def test_the_chain_alone_names_the_first_id():
    without_initial = tweet(
        EDIT_ID,
        "@VirginAmerica edited",
        "Wed May 01 11:50:00 +0000 2024",
        CAIRDIN,
        edit_history={"edit_tweet_ids": [ORIGINAL_ID, EDIT_ID]},
    )
    v2_style = tweet(
        EDIT_ID,
        "@VirginAmerica edited",
        "Wed May 01 11:50:00 +0000 2024",
        CAIRDIN,
        edit_history_tweet_ids=[ORIGINAL_ID, EDIT_ID],
    )
    for body in (without_initial, v2_style):
        [mention] = parse(activity(tweet_create_events=[body])).mentions
        assert (mention.external_id, mention.event) == (ORIGINAL_ID, MentionEvent.EDITED)


def test_a_malformed_edit_history_leaves_the_post_its_own_mention():
    for history in ({"edit_history": "x"}, {"edit_history": {"edit_tweet_ids": "x"}}, {"edit_history_tweet_ids": []}):
        body = tweet(EDIT_ID, "@VirginAmerica hi", "Wed May 01 11:50:00 +0000 2024", CAIRDIN, **history)
        [mention] = parse(activity(tweet_create_events=[body])).mentions
        assert (mention.external_id, mention.event) == (EDIT_ID, MentionEvent.CREATED)


def test_a_deletion_of_the_first_id_removes_the_mention_its_edits_update():
    deletion = {"status": {"id_str": ORIGINAL_ID, "user_id_str": "2000000001"}, "timestamp_ms": "1714564200000"}
    [removed] = parse(activity(tweet_delete_events=[deletion])).mentions
    edit = _edit(EDIT_ID, "@VirginAmerica edited", "Wed May 01 11:50:00 +0000 2024", [ORIGINAL_ID, EDIT_ID])
    [edited] = parse(activity(tweet_create_events=[edit])).mentions
    assert removed.key == edited.key and removed.event is MentionEvent.REMOVED
