"""A deferred alert's message, cut for the digest, keeps no fragment of an author's words (review C7)."""

from __future__ import annotations

from chalicelib.domain.alerts import MESSAGE_EXCERPT, message_excerpt


def test_a_long_message_is_cut_before_the_quotation_and_between_words():
    head = "First response for iss-1 (Routine) overdue by 1 min. Assigned to social1@aurelle.example. "
    quoted = head + 'Routine: Cortez on x from ana: "' + "my daughter Maria Lopez at 14 Rue Cler " * 10 + '"'
    assert message_excerpt(quoted) == head + "Routine: Cortez on x from ana:"
    handle = head + "Routine: Cortez on x from " + "a" * 300
    assert message_excerpt(handle) == head + "Routine: Cortez on x from"  # no half handle
    assert message_excerpt("x" * 5000) == "x" * MESSAGE_EXCERPT and message_excerpt("short") == "short"
    assert all(len(message_excerpt(m)) <= MESSAGE_EXCERPT for m in (quoted, handle))
