"""The surge use case on in-memory ports: counting a batch, opening one Crisis per surge, retries and quiet days.

The real detector (baseline fit and test) runs; only the stores are fakes (``tests/fakes.py``)."""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.domain.surge import Observation, keys_for
from chalicelib.services.surges import count_surges
from tests.fakes import FakeActivePlan, FakeCrisisIssues, FakeSurgeStore

START = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc).timestamp()
QUIET_HOURS = 36
PRODUCT = "product:nova sneakers"
TOPIC = "topic:quality"


def quiet_history() -> list[Observation]:
    """A day and a half of ordinary traffic: a mention every 15 minutes, a late-parcel complaint now and then."""
    out = []
    for i in range(QUIET_HOURS * 4):
        complaint = i % 11 == 0
        keys = keys_for(product=None, topic="delivery" if complaint else None, complaint=complaint)
        out.append(Observation(at=START + i * 900, mention=f"x#bg-{i}", keys=tuple(keys)))
    return out


def burst(count: int = 20) -> list[Observation]:
    """Complaints about one product's quality, two minutes apart, right after the quiet history."""
    begin = START + QUIET_HOURS * 3600 + 7 * 60
    keys = tuple(keys_for(product="nova sneakers", topic="quality", complaint=True))
    return [Observation(at=begin + j * 120, mention=f"x#burst-{j}", keys=keys) for j in range(count)]


def fail_the_test(error: BaseException) -> bool:
    """``count_surges`` logs and swallows a failed count; here any failure must fail the test, not pass quietly."""
    raise error


def feed(observations: list[Observation], store: FakeSurgeStore, issues: FakeCrisisIssues) -> None:
    """As the processor does: batches of ten, each counted at its latest event time."""
    for start in range(0, len(observations), 10):
        batch = observations[start : start + 10]
        count_surges(batch, store, issues, FakeActivePlan(), max(o.at for o in batch), fail_the_test)


def crisis_audit(issues: FakeCrisisIssues, kind: str) -> list:
    return [event for event in issues.audit if event.type == kind]


def quiet_then_burst() -> tuple[FakeSurgeStore, FakeCrisisIssues, list[Observation]]:
    store, issues = FakeSurgeStore(), FakeCrisisIssues()
    feed(quiet_history(), store, issues)
    assert issues.issues == {}  # the quiet history itself opened nothing
    complaints = burst()
    count_surges(complaints, store, issues, FakeActivePlan(), complaints[-1].at, fail_the_test)
    return store, issues, complaints


def test_a_burst_after_a_quiet_history_opens_exactly_one_crisis_linking_the_counted_mentions():
    store, issues, complaints = quiet_then_burst()

    assert len(issues.issues) == 1
    (issue_id, issue) = next(iter(issues.issues.items()))
    assert issue.category == "crisis" and issue.rule == f"surge:{PRODUCT}"
    linked = issues.linked[issue_id]
    assert linked and set(linked) <= {o.mention for o in complaints}
    assert len(crisis_audit(issues, "surge_detected")) == 1
    state, version, state_issue = store.states[PRODUCT]
    assert state.active and version >= 1 and state_issue == issue_id


def test_the_same_batch_counted_again_neither_counts_twice_nor_opens_a_second_crisis():
    store, issues, complaints = quiet_then_burst()
    counts_before = {k: dict(v) for k, v in store.counts.items()}
    states_before = dict(store.states)

    count_surges(complaints, store, issues, FakeActivePlan(), complaints[-1].at, fail_the_test)

    assert store.counts == counts_before
    assert store.states == states_before
    assert len(issues.issues) == 1
    assert len(crisis_audit(issues, "surge_detected")) == 1


def test_other_keys_lifted_by_the_same_surge_join_its_crisis_instead_of_opening_another():
    store, issues, _ = quiet_then_burst()

    (issue_id,) = issues.issues
    widened = crisis_audit(issues, "surge_widened")
    fired = [key for key, (state, _, _) in store.states.items() if state.active]
    assert PRODUCT in fired and len(fired) >= 2, fired  # the topic (or the brand) surged with the product
    assert {store.states[key][2] for key in fired} == {issue_id}
    assert {event.issue_id for event in widened} == {issue_id}
    assert {event.details["key"] for event in widened} == set(fired) - {PRODUCT}


def test_quiet_batches_open_nothing():
    store, issues = FakeSurgeStore(), FakeCrisisIssues()

    feed(quiet_history(), store, issues)

    assert issues.issues == {} and issues.audit == []
    assert not any(state.active for state, _, _ in store.states.values())
    assert sum(store.counts[("brand", "2026-11-20")].values()) > 0  # the batches were counted


class ReadCountingStore(FakeSurgeStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def read(self, keys, days, hours, at=None):
        self.reads += 1
        return super().read(keys, days, hours, at)


def test_an_alert_is_decided_on_a_second_read_and_a_quiet_batch_reads_once():
    """A store may answer the first read from copies made before the batch's triage (issue 14: the cost of a
    mention), in which another processor's Crisis opened meanwhile would not show: an alert reads again."""
    store, issues = ReadCountingStore(), FakeCrisisIssues()
    feed(quiet_history()[:10], store, issues)
    assert store.reads == 1 and issues.issues == {}
    store.reads = 0
    feed(quiet_history()[10:], store, issues)
    complaints = burst()
    quiet_reads = store.reads
    count_surges(complaints, store, issues, FakeActivePlan(), complaints[-1].at, fail_the_test)
    assert quiet_reads == len(quiet_history()[10:]) // 10 + (len(quiet_history()[10:]) % 10 > 0)
    assert store.reads - quiet_reads == 2 and len(issues.issues) == 1
