"""A surge batch retried after it joined a key to the Crisis records the join once (issue 8's fault run).

``count_surges`` retries a failed count in place. When saving a joined key's state fails (a throttled DynamoDB
write), the retry finds the key not yet surging, fires it again and joins it again: the audit table on moto must
still hold one ``surge_widened`` event per key, as after a fault-free count.
"""

from __future__ import annotations

import json

from chalicelib import bootstrap
from chalicelib.adapters.aws import client
from chalicelib.services.surges import count_surges
from chalicelib.settings import resources
from tests.fakes import FakeActivePlan, FakeSurgeStore
from tests.unit.test_surge_service import PRODUCT, burst, fail_the_test, quiet_history


class ThrottledOnce(RuntimeError):
    """What a throttled write looks like to the service: an error a retry can get past."""


class StoreFailingTheFirstJoinedSave(FakeSurgeStore):
    """Counters and states in memory; the first save of a key other than the product's (a key that joined the
    Crisis) fails once, after the join was written."""

    def __init__(self) -> None:
        super().__init__()
        self.failed_once: list[str] = []

    def save_state(self, key, state, expected_version, issue_id=None):
        if key != PRODUCT and state.active and not self.failed_once:
            self.failed_once.append(key)
            raise ThrottledOnce(f"save of {key} throttled")
        return super().save_state(key, state, expected_version, issue_id)


def audit_events(issue_id: str) -> list[dict]:
    items = client("dynamodb").scan(TableName=resources().audit_table)["Items"]
    return [item for item in items if item["issue_id"]["S"] == issue_id]


def test_a_count_retried_after_a_join_records_the_join_once(aws):
    store, issues, plans = StoreFailingTheFirstJoinedSave(), bootstrap.triage_store(), FakeActivePlan()
    for start in range(0, len(history := quiet_history()), 10):
        batch = history[start : start + 10]
        count_surges(batch, store, issues, plans, max(o.at for o in batch), fail_the_test)
    complaints = burst()

    count_surges(complaints, store, issues, plans, complaints[-1].at, lambda error: False)

    assert store.failed_once, "no joined key's save failed: the retry this test is about never happened"
    joined = [key for key, (state, _, _) in store.states.items() if state.active and key != PRODUCT]
    assert store.failed_once[0] in joined  # the retry saved it after all
    (issue_id,) = {store.states[key][2] for key in joined}
    widened = [e for e in audit_events(issue_id) if e["type"]["S"] == "surge_widened"]
    assert sorted(json.loads(e["details"]["S"])["key"] for e in widened) == sorted(joined)
    assert [e["type"]["S"] for e in audit_events(issue_id)].count("surge_detected") == 1


class StoreLosingEverySave(FakeSurgeStore):
    """Counters and states in memory; while ``failing``, every state save fails (throttled past every retry)."""

    failing = False

    def save_state(self, key, state, expected_version, issue_id=None):
        if self.failing:
            raise ThrottledOnce(f"save of {key} throttled")
        return super().save_state(key, state, expected_version, issue_id)


def crisis_ids() -> list[str]:
    items = client("dynamodb").scan(TableName=resources().issues_table)["Items"]
    return sorted(item["issue_id"]["S"] for item in items if item["category"]["S"] == "crisis")


def test_a_surge_whose_state_cannot_be_saved_opens_no_crisis_until_a_later_batch_claims_it(aws, monkeypatch):
    """Issue 8's fault run, mode "33 issues against 32": every in-place try of the batch that detected the surge
    failed to save the key's state. The Crisis is opened only once the key's state names it (review C2), so that
    batch opens none, and the later batches, still surging, open exactly one."""
    import chalicelib.services.surges as surges

    monkeypatch.setattr(surges, "SURGE_BACKOFF_SECONDS", (0, 0))
    store, issues, plans = StoreLosingEverySave(), bootstrap.triage_store(), FakeActivePlan()
    for start in range(0, len(history := quiet_history()), 10):
        batch = history[start : start + 10]
        count_surges(batch, store, issues, plans, max(o.at for o in batch), fail_the_test)
    complaints = burst(40)
    first, later = complaints[:20], complaints[20:]

    store.failing = True
    count_surges(first, store, issues, plans, first[-1].at, lambda error: False)
    assert crisis_ids() == []
    assert not any(state.active for state, _, _ in store.states.values())

    store.failing = False
    for start in range(0, len(later), 5):
        batch = later[start : start + 5]
        count_surges(batch, store, issues, plans, batch[-1].at, fail_the_test)

    (opened,) = crisis_ids()
    state, _, named = store.states[PRODUCT]
    assert state.active and state.opening is None and named == opened
    assert [e["type"]["S"] for e in audit_events(opened)].count("surge_detected") == 1


def test_a_crisis_is_opened_under_the_name_its_state_claimed_and_once(aws):
    """Opening is idempotent by name: the batch that claimed the key, its retry, or another processor reading the
    claim may each open it; one Crisis. A new surge (a new window) is a new name."""
    from datetime import datetime, timezone

    from chalicelib.domain.surge import SurgeAlert
    from chalicelib.services.surges import crisis_name, open_crisis

    issues, plans = bootstrap.triage_store(), FakeActivePlan()
    start = datetime(2026, 11, 21, 21, 30, tzinfo=timezone.utc).timestamp()
    first = SurgeAlert(PRODUCT, start + 900, start, 12, 1.0, 1e-9)
    ended = open_crisis(first, ["x#a"], issues, plans, crisis_name(first))
    assert open_crisis(first, ["x#a", "x#b"], issues, plans, crisis_name(first)) == ended
    assert open_crisis(first, ["x#a"], issues, plans) == ended  # the name defaults to the one a claim records
    later = SurgeAlert(PRODUCT, start + 2700, start + 1800, 12, 1.0, 1e-9)
    assert (new := open_crisis(later, ["x#b"], issues, plans, crisis_name(later))) != ended
    assert crisis_ids() == sorted([ended, new])
    assert [e["type"]["S"] for e in audit_events(ended)].count("surge_detected") == 1
