"""Erasure, pure and through the use case on a fake store: what counts as the author's trace, what is left alone
(staff emails, dotted names, longer words), JSON inside strings, the order of the steps and idempotence."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from chalicelib.domain.erasure import REDACTED, ErasureNeedles, author_reference, redact
from chalicelib.services.erasure import ERASURES, erase_author

NOW = datetime(2026, 11, 30, 9, tzinfo=timezone.utc)
NEEDLES = ErasureNeedles.of(
    "id-ana", ["@ana"], ["Ana Lopez"], ["My Lina trench coat ripped after one wear"], platform="x"
)


def test_handles_names_texts_and_the_id_are_redacted_as_words_only():
    assert redact("Called @ana and Ana Lopez today", NEEDLES) == f"Called {REDACTED} and {REDACTED} today"
    assert redact('ana: "My Lina trench coat ripped after one wear"', NEEDLES) == f'{REDACTED}: "{REDACTED}"'
    assert redact({"author": "id-ana"}, NEEDLES) == {"author": REDACTED}  # the id: whole, where it is the author
    for kept in ("banana", "ana@aurelle.example", "ana.responder", "Dana", "anatomy", "id-ana-2 is someone else"):
        assert redact(kept, NEEDLES) == kept, kept


def test_json_inside_strings_and_nested_values_are_redacted_and_written_back_as_json():
    details = json.dumps({"text": "Called Ana Lopez", "people": ["@ana", "bo"], "count": 2}, ensure_ascii=True)
    cleaned = json.loads(redact(details, NEEDLES))
    assert cleaned == {"text": f"Called {REDACTED}", "people": [REDACTED, "bo"], "count": 2}
    assert redact({"a": ["x", {"b": "ana"}], "n": 3}, NEEDLES) == {"a": ["x", {"b": REDACTED}], "n": 3}
    untouched = json.dumps({"text": "nothing of hers"})
    assert redact(untouched, NEEDLES) == untouched  # written back unchanged, not re-encoded


def test_keys_are_the_authors_by_their_layout_only():
    assert NEEDLES.is_author_key("author#x#id-ana#product:lina#topic:quality")
    assert NEEDLES.is_author_key("author#x#id-ana#topic:delivery") and NEEDLES.is_author_key("author#x#id-ana")
    for other in ("iss-20261124T064001-b808f3fd", "x#ana-2", "x#id-ana", "author#facebook#id-ana#topic:delivery"):
        assert not NEEDLES.is_author_key(other), other
    assert NEEDLES.owns_key_of({"key": "conv#x#77", "author": "id-ana"}, ["key"])
    assert not NEEDLES.owns_key_of({"key": "conv#x#id-ana", "author": "id-bo"}, ["key"])


def test_short_texts_are_not_needles_and_the_audit_keeps_a_digest_not_the_id():
    assert ErasureNeedles.of("1", [], [], ["ok", "thanks"]).texts == frozenset()
    assert author_reference("x", "id-ana").startswith("sha256:") and "id-ana" not in author_reference("x", "id-ana")


class FakeErasureStore:
    """Mentions by key, other tables as lists of plain dicts; records the order of the steps."""

    def __init__(self):
        self.mentions = {
            "x#1": {
                "platform": "x",
                "author_id": "id-ana",
                "author_handle": "ana",
                "author_name": "Ana Lopez",
                "text": "My Lina trench coat ripped after one wear",
                "issue_id": "iss-1",
            },
            "x#2": {
                "platform": "x",
                "author_id": "id-bo",
                "author_handle": "bo",
                "text": "@ana same here",
                "issue_id": "iss-2",
            },
        }
        self.issues = [
            {
                "issue_id": "iss-1",
                "description": 'Routine: Lina on x from ana: "My Lina trench coat ripped after one wear"',
            }
        ]
        self.steps: list[str] = []
        self.events = []

    def author_mentions(self, platform, author_id):
        return [
            {
                "key": key,
                "text": m.get("text"),
                "handle": m.get("author_handle"),
                "name": m.get("author_name"),
                "issue_id": m["issue_id"],
            }
            for key, m in self.mentions.items()
            if m["platform"] == platform and m.get("author_id") == author_id
        ]

    def redact_everywhere(self, needles, keep_partition):
        self.steps.append("redact")
        changed = 0
        for item in self.issues + [m for m in self.mentions.values() if m.get("author_id") != needles.author_id]:
            cleaned = redact(item, needles)
            if cleaned != item:
                item.update(cleaned)
                changed += 1
        return {"issues_and_mentions": changed} if changed else {}

    def redact_reports(self, needles):
        self.steps.append("reports")
        return 0

    def erase_mentions(self, keys, erased_at):
        self.steps.append("erase")
        for key in keys:
            self.mentions[key] = {
                k: v
                for k, v in self.mentions[key].items()
                if k not in ("text", "author_id", "author_handle", "author_name")
            }
        return len(keys)

    def record(self, events):
        self.steps.append("record")
        self.events += events


def test_the_use_case_redacts_elsewhere_first_erases_the_mentions_last_records_once_and_is_idempotent():
    store = FakeErasureStore()
    result = erase_author("X", " id-ana ", "dpo@aurelle.example", store, NOW)
    assert store.steps == ["redact", "reports", "erase", "record"]  # a run that stops early finds her mentions again
    assert result.mentions == 1 and result.issues == ["iss-1"] and result.redacted == {"issues_and_mentions": 2}
    assert "ana" not in store.issues[0]["description"] and store.mentions["x#2"]["text"] == f"{REDACTED} same here"
    assert {(e.issue_id, e.type, e.actor) for e in store.events} == {
        (ERASURES, "author_erased", "dpo@aurelle.example"),
        ("iss-1", "author_erased", "dpo@aurelle.example"),
    }
    assert "id-ana" not in json.dumps([e.details for e in store.events])
    again = erase_author("x", "id-ana", "dpo@aurelle.example", store, NOW)
    assert again.mentions == 0 and store.steps == ["redact", "reports", "erase", "record"]  # nothing more is written
