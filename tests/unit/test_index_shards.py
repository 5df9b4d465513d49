"""Write shards of the issues table's index partitions: chosen from the planned peak, the plain value as shard 0,
the same shard whether Python or a protocol's Step Functions machine names it, and every partition under
DynamoDB's 1,000 writes a second at 10,000 mentions a second (bench/hotkeys.py, write by write)."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timezone

import boto3
import pytest
from moto import mock_aws

from bench.hotkeys import issue_indexes
from chalicelib.adapters.state_machines import index_shard_states
from chalicelib.domain.index_shards import (
    ASSIGNEE_SHARDS,
    ASSIGNEE_WRITES_PER_MENTION,
    DAY_SHARDS,
    DAY_WRITES_PER_MENTION,
    STATUS_CATEGORY_SHARDS,
    STATUS_CATEGORY_WRITES_PER_MENTION,
    assignee_shard,
    first_seen_day,
    index_key_values,
    index_shard,
    index_shards_for,
    shard_suffix,
    status_category,
)

LIMIT = 1000  # DynamoDB's write units a second per partition key value, in an index too


def test_shards_follow_the_expected_peak():
    assert index_shards_for(DAY_WRITES_PER_MENTION) == DAY_SHARDS == 20
    assert index_shards_for(STATUS_CATEGORY_WRITES_PER_MENTION, divides=16) == STATUS_CATEGORY_SHARDS == 16
    assert index_shards_for(ASSIGNEE_WRITES_PER_MENTION) == ASSIGNEE_SHARDS == 7
    assert index_shards_for(DAY_WRITES_PER_MENTION, peak_mentions_per_s=100) == 1
    assert index_shards_for(1.0, peak_mentions_per_s=2_000, divides=16) == 4  # 3 needed: the next divisor of 16
    assert index_shards_for(DAY_WRITES_PER_MENTION, peak_mentions_per_s=40_000) > DAY_SHARDS
    with pytest.raises(ValueError, match="divisor of 16"):
        index_shards_for(STATUS_CATEGORY_WRITES_PER_MENTION, peak_mentions_per_s=40_000, divides=16)


def test_shard_zero_is_the_value_written_before_the_shards():
    at = datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc)
    assert status_category("open", "routine_response") == "open#routine_response"
    assert first_seen_day(at) == "2026-11-30"
    assert index_key_values("open#routine_response", 4) == [
        "open#routine_response",
        "open#routine_response#1",
        "open#routine_response#2",
        "open#routine_response#3",
    ]
    ids = [f"iss-20261130T235900-{n:08x}" for n in range(200)]
    for issue_id in ids:
        shard = index_shard(issue_id, STATUS_CATEGORY_SHARDS)
        assert status_category("open", "routine_response", issue_id) == "open#routine_response" + shard_suffix(shard)
        assert first_seen_day(at, issue_id) == "2026-11-30" + shard_suffix(index_shard(issue_id, DAY_SHARDS))
    assert {first_seen_day(at, i) for i in ids} == set(index_key_values("2026-11-30", DAY_SHARDS))
    # the assignee's key: the address (as shown, in assigned_to) in shard 0, suffixed in the others
    person = "cs-agent1@aurelle.example"
    for issue_id in ids:
        assert assignee_shard(person, issue_id) == person + shard_suffix(index_shard(issue_id, ASSIGNEE_SHARDS))
    assert assignee_shard(person, ids[0], shards=1) == person
    assert {assignee_shard(person, i) for i in ids} == set(index_key_values(person, ASSIGNEE_SHARDS))


@pytest.mark.parametrize("shards", [STATUS_CATEGORY_SHARDS, DAY_SHARDS, ASSIGNEE_SHARDS])
def test_issue_ids_spread_evenly_over_the_shards(shards):
    counts = Counter(index_shard(f"iss-20261130T1500{n // 1000:02d}-{n:08x}", shards) for n in range(40_000))
    assert set(counts) == set(range(shards))
    mean = 40_000 / shards
    assert all(abs(n - mean) < 0.1 * mean for n in counts.values()), counts


def test_the_protocols_step_functions_states_pick_the_shard_python_names():
    """moto's Step Functions interpreter runs the compiled states (States.Hash, then a Choice on the digest's
    last hex digit) for issue ids covering every shard, and lands each on ``index_shard``'s shard."""
    ids: dict[int, str] = {}
    n = 0
    while len(ids) < STATUS_CATEGORY_SHARDS:
        ids.setdefault(index_shard(f"iss-{n}", STATUS_CATEGORY_SHARDS), f"iss-{n}")
        n += 1
    definition = {
        "StartAt": "Pick.shard",
        "States": {**index_shard_states("Pick", "Done"), "Done": {"Type": "Succeed"}},
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="shards", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/x"
        )["stateMachineArn"]
        runs = {
            shard: sfn.start_execution(
                stateMachineArn=machine, name=f"shard-{shard}", input=json.dumps({"issue_id": issue_id})
            )["executionArn"]
            for shard, issue_id in ids.items()
        }
        deadline = time.monotonic() + 30
        for shard, arn in runs.items():
            while (execution := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
                assert time.monotonic() < deadline, "the shard states did not finish"
                time.sleep(0.05)
            assert execution["status"] == "SUCCEEDED", execution
            assert json.loads(execution["output"])["index_shard"]["suffix"] == shard_suffix(shard), ids[shard]


def test_at_ten_thousand_mentions_a_second_no_index_partition_of_the_shards_passes_the_limit():
    sharded = issue_indexes(rate=10_000, seconds=1)
    unsharded = issue_indexes(rate=10_000, seconds=1, sharded=False)
    assert set(sharded["indexes"]) == {"by_day", "by_status_category", "by_assignee_shard"}  # the template's
    for index in sharded["indexes"]:
        figures = sharded["indexes"][index]
        assert figures["shards"] > 1 and figures["partition_values"] >= figures["shards"]
        assert figures["max_write_units_per_partition_per_s"] < LIMIT, (index, figures)
        assert unsharded["indexes"][index]["max_write_units_per_partition_per_s"] > 4 * LIMIT  # what shards are for
        # the writes per mention are the design's, not a result of the shards
        assert figures["writes_per_mention"] == unsharded["indexes"][index]["writes_per_mention"]
    # the figures the shard counts were chosen from: the hottest partitions' writes per mention
    assert sharded["indexes"]["by_day"]["writes_per_mention"] <= DAY_WRITES_PER_MENTION
    busiest_person = unsharded["indexes"]["by_assignee_shard"]["max_write_units_per_partition_per_s"] / 10_000
    assert 0.4 < busiest_person <= ASSIGNEE_WRITES_PER_MENTION
    assert sharded["max_writes_per_issue_item_per_s"] < LIMIT
