"""One surge, one Crisis, however processors interleave (review C2): a key's state is claimed with its conditional
write (naming the Crisis, keeping the alert as ``opening``) before the Crisis is opened, so the processor that
loses the write joins the winner's Crisis; a batch that died between the claim and the opening has it opened by its
retry or by the next batch. Issues, audit and cases on moto; the surge counters and states in memory (a state is
saved only at the version read, as the conditional put)."""

from __future__ import annotations

import json

import pytest

import chalicelib.services.surges as surges
from chalicelib import bootstrap
from chalicelib.adapters.aws import client
from chalicelib.domain.surge import Observation
from chalicelib.services.surges import count_surges, crisis_name
from chalicelib.settings import resources
from tests.fakes import FakeActivePlan, FakeSurgeStore
from tests.unit.test_surge_service import PRODUCT, burst, fail_the_test, quiet_history


class Interleaved(FakeSurgeStore):
    """Counters and states shared by every processor; ``before_save`` / ``before_read``: another processor's whole
    batch, run once just before this processor's next state write, or just before its next read is answered (with
    what was stored before that batch: a read made before the other processor wrote)."""

    def __init__(self) -> None:
        super().__init__()
        self.before_save = None
        self.before_read = None
        self.reads = 0
        self.read_at = 0

    def save_state(self, key, state, expected_version, issue_id=None):
        if self.before_save is not None:
            other, self.before_save = self.before_save, None
            other()
        return super().save_state(key, state, expected_version, issue_id)

    def read(self, keys, days, hours, at=None):
        self.reads += 1
        history = super().read(keys, days, hours, at)
        if self.before_read is not None and self.reads == self.read_at:
            other, self.before_read = self.before_read, None
            other()
        return history


def quiet_store() -> tuple[Interleaved, object, FakeActivePlan]:
    store, issues, plans = Interleaved(), bootstrap.triage_store(), FakeActivePlan()
    history = quiet_history()
    for start in range(0, len(history), 10):
        batch = history[start : start + 10]
        count_surges(batch, store, issues, plans, max(o.at for o in batch), fail_the_test)
    return store, issues, plans


def run(batch: list[Observation], store, issues, plans) -> None:
    count_surges(batch, store, issues, plans, batch[-1].at, fail_the_test)


def crises() -> list[str]:
    items = client("dynamodb").scan(TableName=resources().issues_table)["Items"]
    return sorted(item["issue_id"]["S"] for item in items if item["category"]["S"] == "crisis")


def audit(issue_id: str, kind: str) -> list[dict]:
    items = client("dynamodb").scan(TableName=resources().audit_table)["Items"]
    return [json.loads(i["details"]["S"]) for i in items if i["issue_id"]["S"] == issue_id and i["type"]["S"] == kind]


def assert_one_crisis_every_surging_key_names(store: Interleaved) -> str:
    (opened,) = crises()
    surging = {key: named for key, (state, _, named) in store.states.items() if state.active}
    assert PRODUCT in surging and set(surging.values()) == {opened}, surging
    assert not [key for key, (state, _, _) in store.states.items() if state.opening is not None]
    assert len(audit(opened, "surge_detected")) == 1
    assert {event["key"] for event in audit(opened, "surge_widened")} == set(surging) - {PRODUCT}
    return opened


def test_a_processor_writing_first_after_another_read_leaves_one_crisis(aws):
    """Processor A counts the later complaints; processor B, with the earlier ones (an earlier window, so another
    Crisis name), writes the key's state just before A's first write. A loses the write and joins B's Crisis."""
    store, issues, plans = quiet_store()
    complaints = burst(24)
    earlier, later = complaints[:12], complaints[12:]
    store.before_save = lambda: run(earlier, store, issues, plans)
    run(later, store, issues, plans)
    assert assert_one_crisis_every_surging_key_names(store) == store.states[PRODUCT][2]


def test_a_processor_that_read_before_another_opened_joins_its_crisis(aws):
    """B reads the key's state (for the alert it decides on) before A writes anything; A then counts, claims, opens
    its Crisis and finishes; B acts on what it read: its write loses, and it reads again and joins A's Crisis."""
    store, issues, plans = quiet_store()
    complaints = burst(24)
    earlier, later = complaints[:12], complaints[12:]
    store.read_at = store.reads + 2  # B's second read: the one an alert is decided and acted on
    store.before_read = lambda: run(later, store, issues, plans)
    run(earlier, store, issues, plans)
    assert_one_crisis_every_surging_key_names(store)


class Crash(RuntimeError):
    """The Crisis's transaction failed (a throttled write, a Lambda timing out between the two writes)."""


def failing_opens(issues, times: int) -> list[str]:
    """Make ``issues.open_issue`` fail its next ``times`` calls; the list gets the name each failed call opened."""
    real, failed = issues.open_issue, []

    def open_issue(issue, audit_events, case, linked):
        if len(failed) < times:
            failed.append(issue.issue_id)
            raise Crash("the Crisis was not opened")
        return real(issue, audit_events, case, linked)

    issues.open_issue = open_issue
    return failed


def test_a_batch_that_died_between_claiming_the_key_and_opening_its_crisis_opens_it_on_retry(aws, monkeypatch):
    monkeypatch.setattr(surges, "SURGE_BACKOFF_SECONDS", (0, 0))
    store, issues, plans = quiet_store()
    failed = failing_opens(issues, times=1)
    complaints = burst(24)
    count_surges(complaints, store, issues, plans, complaints[-1].at, lambda error: False)
    assert failed and crises() == [failed[0]] == [store.states[PRODUCT][2]]
    assert_one_crisis_every_surging_key_names(store)


def test_a_crisis_whose_every_try_failed_is_opened_by_the_next_batch_under_the_claimed_name(aws, monkeypatch):
    monkeypatch.setattr(surges, "SURGE_BACKOFF_SECONDS", (0, 0))
    store, issues, plans = quiet_store()
    failed = failing_opens(issues, times=surges.SURGE_ATTEMPTS)
    complaints = burst(30)
    first, later = complaints[:20], complaints[20:]
    count_surges(first, store, issues, plans, first[-1].at, lambda error: False)  # logged: surge detection failed
    state, _, claimed = store.states[PRODUCT]
    assert crises() == [] and state.active and state.opening is not None
    assert set(failed) == {claimed} and claimed == crisis_name(state.opening)

    run(later, store, issues, plans)
    assert crises() == [claimed]
    assert store.states[PRODUCT][0].opening is None  # opened: no later batch opens it again
    assert_one_crisis_every_surging_key_names(store)


@pytest.mark.parametrize("alerts", [False, True])
def test_the_claim_costs_no_write_of_a_quiet_batch_and_two_of_an_opening_key(aws, alerts):
    """Cost: a batch that alerts nothing writes no state; the key that opens the Crisis writes its state twice
    (claim, then cleared) and the keys that join once each, as before the claim (a look-up of earlier names and
    one write)."""
    store, issues, plans = quiet_store()
    writes: list[str] = []
    real = store.save_state

    def counting(key, state, expected_version, issue_id=None):
        writes.append(key)
        return real(key, state, expected_version, issue_id)

    store.save_state = counting
    batch = burst(24) if alerts else quiet_history()[-10:]
    if not alerts:
        batch = [Observation(at=o.at + 86400, mention=o.mention + "-next", keys=o.keys) for o in batch]
    run(batch, store, issues, plans)
    if not alerts:
        assert writes == [] and crises() == []
        return
    surging = [key for key, (state, _, _) in store.states.items() if state.active]
    assert sorted(writes) == sorted([PRODUCT, *surging])
