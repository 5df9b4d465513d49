"""Erasure's pure rules (review C8, C10): keys by their layout, enumerations and ids never rewritten, the id matched
whole where it is the author, short handles and names only whole or where a description quotes them."""

from __future__ import annotations

import json

from chalicelib.domain.erasure import REDACTED, ErasureNeedles, redact, redact_item

SHORT = ErasureNeedles.of("1001", ["jo"], ["X"], ["The zip of my Lina coat broke on day one"], platform="forum")
ANA = ErasureNeedles.of("id-ana", ["ana"], ["Ana Lopez"], [], platform="x")


def test_an_items_key_is_the_authors_by_its_layout_not_by_a_part_equal_to_the_id():
    assert SHORT.owns_key_of({"key": "author#forum#1001#topic:delivery", "author": "1001"}, ["key"])
    assert SHORT.owns_key_of({"key": "author#forum#1001"}, ["key"])  # a recurrence key
    assert SHORT.owns_key_of({"key": "conv#forum#5", "author": "1001"}, ["key"])
    for other in (
        {"pk": "forum#1001", "author_id": "2002"},  # someone's mention whose own id is 1001
        {"key": "conv#forum#1001", "author": "2002"},  # and its conversation claim
        {"key": "author#facebook#1001#topic:delivery", "author": "1001"},  # id 1001 on another platform
        {"key": "conv#facebook#7", "author": "1001"},
        {"key": "author#forum#10010#topic:delivery"},
        {"key": "subject#1001#delivery"},
    ):
        assert not SHORT.owns_key_of(other, list(other)[:1]), other


def test_enumerations_ids_and_keys_are_never_rewritten_short_needles_only_whole_or_where_quoted():
    issue = {
        "issue_id": "iss-1",
        "platform": "x",
        "status": "open",
        "category": "x",
        "severity": "high",
        "assigned_to": "jo@aurelle.example",
        "description": 'Routine: Lina on forum from jo: "The zip of my Lina coat broke on day one"',
        "note": "x marks the spot, jo said X",
    }
    assert redact_item(issue, SHORT, ["issue_id"]) == {
        "description": f'Routine: Lina on forum from {REDACTED}: "{REDACTED}"'
    }
    split = {"description": 'Split from iss-1: X on forum: "something"'}
    assert redact_item(split, SHORT) == {"description": f'Split from iss-1: {REDACTED} on forum: "something"'}
    # the id only whole, where it is the author; never as a word of text, an external id or a count
    mention = {"pk": "forum#9", "external_id": "1001", "text": "order 1001 is late", "author_id": "2002"}
    assert redact_item(mention, SHORT, ["pk"]) == {}
    alert = json.dumps({"kind": "new_issue", "category": "x", "team": "pr", "message": 'from jo: "zip"', "n": 1})
    assert json.loads(redact(alert, SHORT, "digest"))["category"] == "x"


def test_identity_attributes_name_the_author_whole_on_her_platform_and_another_authors_stay_theirs():
    survey = {"pk": "survey#s1", "platform": "x", "author": "x#id-ana", "recipient": "@Ana", "contact": "id-ana"}
    assert redact_item(survey, ANA, ["pk"]) == {"author": REDACTED, "recipient": REDACTED, "contact": REDACTED}
    recurrence = {"key": "subject#lina#quality", "author": "x#id-ana", "issue_id": "iss-1"}
    assert redact_item(recurrence, ANA, ["key"]) == {"author": REDACTED}
    elsewhere = {"pk": "o-1", "platform": "facebook", "recipient": "ana", "text": "@ana sorry to hear that"}
    assert redact_item(elsewhere, ANA, ["pk"]) == {"text": f"{REDACTED} sorry to hear that"}
    # another author's mention keeps their identity, even with her handle or name
    bens = {"pk": "x#2", "platform": "x", "author_id": "id-ben", "author_handle": "ana", "author_name": "Ana Lopez"}
    assert redact_item(bens, ANA, ["pk"]) == {}
