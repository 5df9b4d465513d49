"""A batch's dedup keys read in one call (issue 14: AWS calls per mention): each mention decides as it would on a
read of its own, and a claim another processor made in between sends it back to fresh reads."""

from __future__ import annotations

from chalicelib.adapters.memory import InMemoryTriageStore
from chalicelib.adapters.plans import BundledPlanSource
from chalicelib.domain.dedup import KeyClaim
from chalicelib.services.triage import BatchKeyReads, batch_lookups, classify_batch, triage_mention
from tests.triage_fixtures import fixed_analyzer, mention


class CountingStore(InMemoryTriageStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[list[str]] = []

    def read_keys(self, keys: list[str]) -> dict[str, KeyClaim]:
        self.reads.append(list(keys))
        return super().read_keys(keys)


BATCH = [
    mention("1", "The zip on my Cortez jacket broke", author="ana"),
    mention("2", "Still waiting for a refund for the Cortez jacket", author="ana", minutes=5),
    mention("3", "My Alba boots never arrived", author="bo", minutes=6),
    mention("4", "Love my new Sol dress, thank you!", author="cy", minutes=7),
    mention("5", "Alba boots order never arrived, worst", author="bo", minutes=9),
]


def triaged(store, reads) -> list[int | None]:
    """Each mention's issue, numbered by first appearance (issue ids are random)."""
    plans = BundledPlanSource()
    ids = [triage_mention(m, reads, plans, fixed_analyzer).issue_id for m in BATCH]
    return [None if i is None else ids.index(i) for i in ids]


def test_one_read_a_batch_and_the_same_issues_as_a_read_a_mention():
    alone = CountingStore()
    expected = triaged(alone, alone)
    batched = CountingStore()
    reads = BatchKeyReads(batched)
    reads.prefetch(batch_lookups(classify_batch(BATCH, BundledPlanSource(), fixed_analyzer), BundledPlanSource()))

    assert triaged(batched, reads) == expected
    assert len(alone.reads) == 4 and len(batched.reads) == 1  # praise reads nothing either way
    assert expected[0] == expected[1] and expected[2] == expected[4] and expected[0] != expected[2]
    assert sorted(batched.keys) == sorted(alone.keys) and len(batched.issues) == len(alone.issues) == 2


def test_a_claim_made_by_another_processor_meanwhile_is_read_again():
    store = CountingStore()
    reads = BatchKeyReads(store)
    first, second = mention("1", "The zip on my Cortez jacket broke"), mention("2", "Cortez zip broke", minutes=1)
    reads.prefetch(
        batch_lookups(classify_batch([first, second], BundledPlanSource(), fixed_analyzer), BundledPlanSource())
    )
    meanwhile = first.model_copy(update={"external_id": "other"})  # another processor's, the same author's
    other = triage_mention(meanwhile, store, BundledPlanSource(), fixed_analyzer)

    result = triage_mention(first, reads, BundledPlanSource(), fixed_analyzer)
    assert result.issue_id == other.issue_id  # the conflict made it read again, and it joined the other's issue
    assert len(store.issues) == 1 and len(store.reads) == 3  # prefetch, the other's own read, the fresh one
