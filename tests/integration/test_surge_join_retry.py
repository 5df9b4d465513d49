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
