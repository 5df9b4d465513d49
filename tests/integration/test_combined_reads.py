"""CombinedReads on moto: several adapters' BatchGetItem reads in as few calls as DynamoDB allows (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.aws import CombinedReads, client
from chalicelib.settings import resources


def _put(table: str, name: str, values: list[str], **extra: dict[str, str]) -> None:
    for value in values:
        client("dynamodb").put_item(TableName=table, Item={name: {"S": value}, **extra})


@pytest.fixture
def calls(aws) -> list[dict[str, Any]]:
    """Each BatchGetItem's RequestItems, as sent."""
    sent: list[dict[str, Any]] = []
    client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem", lambda params, **_: sent.append(params["RequestItems"])
    )
    return sent


def test_a_deferred_read_goes_with_the_next_read_of_another_table(calls):
    keys_table, surges_table = resources().issue_keys_table, resources().surges_table
    _put(keys_table, "key", ["k1", "k2"])
    _put(surges_table, "pk", ["day#1", "state#brand"])
    reads = CombinedReads()
    delivered: list[list[dict[str, Any]]] = []

    reads.defer(surges_table, [{"pk": {"S": p}} for p in ("day#1", "hour#1", "state#brand")], delivered.append)
    assert calls == [] and delivered == []  # nothing is sent until someone reads

    found = reads.get(keys_table, [{"key": {"S": "k1"}}, {"key": {"S": "k3"}}], ConsistentRead=True)

    assert len(calls) == 1 and sorted(calls[0]) == sorted([keys_table, surges_table])
    assert [item["key"]["S"] for item in found] == ["k1"]  # its own items only; k3 is not stored
    assert [sorted(item["pk"]["S"] for item in items) for items in delivered] == [["day#1", "state#brand"]]
    reads.get(keys_table, [{"key": {"S": "k2"}}])
    assert len(delivered) == 1 and len(calls) == 2 and list(calls[1]) == [keys_table]  # delivered once, not again


def test_more_than_a_hundred_keys_over_two_tables_take_two_calls_and_keys_asked_twice_once(calls):
    keys_table, surges_table = resources().issue_keys_table, resources().surges_table
    _put(keys_table, "key", [f"k{i}" for i in range(70)])
    _put(surges_table, "pk", [f"p{i}" for i in range(60)])
    reads = CombinedReads()
    delivered: list[list[dict[str, Any]]] = []
    reads.defer(surges_table, [{"pk": {"S": f"p{i}"}} for i in range(60)], delivered.append)
    reads.defer(keys_table, [{"key": {"S": f"k{i}"}} for i in range(10)], delivered.append)  # also read below

    found = reads.get(keys_table, [{"key": {"S": f"k{i}"}} for i in range(70)])

    assert [sum(len(r["Keys"]) for r in request.values()) for request in calls] == [100, 30]  # 130 distinct keys
    assert len(found) == 70 and [len(items) for items in delivered] == [60, 10]


def test_reads_of_one_table_with_other_options_go_in_a_call_of_their_own(calls):
    keys_table = resources().issue_keys_table
    _put(keys_table, "key", ["k1", "k2"], issue_id={"S": "i1"})
    reads = CombinedReads()
    delivered: list[list[dict[str, Any]]] = []
    reads.defer(
        keys_table,
        [{"key": {"S": "k1"}}],
        delivered.append,
        ProjectionExpression="#k",
        ExpressionAttributeNames={"#k": "key"},
    )

    found = reads.get(keys_table, [{"key": {"S": "k2"}}], ConsistentRead=True)

    assert len(calls) == 2 and [item["key"]["S"] for item in found] == ["k2"] and found[0]["issue_id"]["S"] == "i1"
    assert delivered == [[{"key": {"S": "k1"}}]]  # projected: the key only


def test_a_failed_call_delivers_nothing_and_forgets_what_was_deferred(calls):
    from tests.integration.test_side_effects_retry import fail_calls

    keys_table, surges_table = resources().issue_keys_table, resources().surges_table
    _put(surges_table, "pk", ["day#1"])
    reads = CombinedReads()
    delivered: list[list[dict[str, Any]]] = []
    reads.defer(surges_table, [{"pk": {"S": "day#1"}}], delivered.append)
    fail_calls("dynamodb", "BatchGetItem", times=1)

    with pytest.raises(ClientError):
        reads.get(keys_table, [{"key": {"S": "k1"}}])
    reads.get(keys_table, [{"key": {"S": "k1"}}])

    assert delivered == [] and list(calls[-1]) == [keys_table]  # its owner reads it itself when it needs it


def test_a_cancelled_read_is_not_sent(calls):
    keys_table, surges_table = resources().issue_keys_table, resources().surges_table
    reads = CombinedReads()
    delivered: list[list[dict[str, Any]]] = []
    reads.defer(surges_table, [{"pk": {"S": "day#1"}}], delivered.append)
    reads.cancel(delivered.append)
    reads.get(keys_table, [{"key": {"S": "k1"}}])
    assert delivered == [] and list(calls[0]) == [keys_table]


class _Unprocessing:
    """A client that leaves a request's last key unprocessed once, as DynamoDB does under load (moto never does)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.requests.append(RequestItems)
        if len(self.requests) == 1:
            table, request = next(iter(RequestItems.items()))
            done, left = request["Keys"][:-1], request["Keys"][-1:]
            answer = client("dynamodb").batch_get_item(RequestItems={table: {**request, "Keys": done}})
            answer["UnprocessedKeys"] = {table: {**request, "Keys": left}}
            return answer
        return client("dynamodb").batch_get_item(RequestItems=RequestItems)


def test_unprocessed_keys_are_asked_for_again(aws):
    keys_table = resources().issue_keys_table
    _put(keys_table, "key", ["k1", "k2", "k3"])
    dynamodb = _Unprocessing()

    found = CombinedReads(dynamodb).get(keys_table, [{"key": {"S": k}} for k in ("k1", "k2", "k3")])

    assert sorted(item["key"]["S"] for item in found) == ["k1", "k2", "k3"] and len(dynamodb.requests) == 2


def test_one_key_read_with_two_option_sets_gets_each_its_own_answer(calls):
    keys_table = resources().issue_keys_table
    _put(keys_table, "key", ["k1"], issue_id={"S": "i1"})
    reads = CombinedReads()
    delivered: list[list[dict[str, Any]]] = []
    reads.defer(keys_table, [{"key": {"S": "k1"}}], delivered.append)  # the whole item

    projected = reads.get(
        keys_table, [{"key": {"S": "k1"}}], ProjectionExpression="#k", ExpressionAttributeNames={"#k": "key"}
    )

    assert projected == [{"key": {"S": "k1"}}] and delivered == [[{"key": {"S": "k1"}, "issue_id": {"S": "i1"}}]]
