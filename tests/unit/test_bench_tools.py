"""The bench's measuring tools must not change what they measure."""

import contextlib

import boto3
import pytest
from moto import mock_aws

from bench.moto_transactions import item_level_rollback, linear_update_validation
from bench.pipeline import CallCounter, EmulatorClock, Spent, item_size, set_only_item, write_units


def table_t():
    """A client and a table ``t`` keyed by the string ``k`` (inside a ``mock_aws``)."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def test_item_level_rollback_still_rolls_back_a_cancelled_transaction():
    with mock_aws(), item_level_rollback():
        dynamodb = table_t()
        dynamodb.put_item(TableName="t", Item={"k": {"S": "a"}, "n": {"N": "1"}})
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": {"k": {"S": "a"}},
                            "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                    {"Put": {"TableName": "t", "Item": {"k": {"S": "new"}}}},
                    {
                        "Put": {
                            "TableName": "t",
                            "Item": {"k": {"S": "b"}},
                            "ConditionExpression": "attribute_exists(k)",
                        }
                    },  # fails: cancels the rest
                ]
            )
        items = {i["k"]["S"]: i for i in dynamodb.scan(TableName="t")["Items"]}
        assert set(items) == {"a"} and items["a"]["n"] == {"N": "1"}
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"k": {"S": "a"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            ]
        )
        assert dynamodb.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]["n"] == {"N": "2"}


def test_write_units_follow_dynamodb_sizing():
    small = {"pk": {"S": "x#1"}, "n": {"N": "12345"}}
    assert item_size(small) == len("pk") + 3 + len("n") + 4
    assert write_units(small, transactional=False) == 1 and write_units(small, transactional=True) == 2
    big = {"pk": {"S": "x" * 1500}}
    assert write_units(big, transactional=False) == 2


def _model(name):
    return type("Model", (), {"name": name})()


def test_an_update_that_only_sets_values_is_charged_and_floored_as_the_item_it_writes():
    text = {"S": "x" * 1500}
    creating = {
        "TableName": "mentions",
        "Key": {"pk": {"S": "x#1"}},
        "UpdateExpression": "SET #a0 = if_not_exists(#a0, :v0), #a1 = :v1, plain = :v2",
        "ExpressionAttributeNames": {"#a0": "status", "#a1": "text"},
        "ExpressionAttributeValues": {":v0": {"S": "visible"}, ":v1": text, ":v2": {"N": "1"}},
    }
    item = {"pk": {"S": "x#1"}, "status": {"S": "visible"}, "text": text, "plain": {"N": "1"}}
    assert set_only_item(creating) == item
    counting = {"ExpressionAttributeValues": {":one": {"N": "1"}}, "Key": {"pk": {"S": "c"}}}
    assert set_only_item({**counting, "UpdateExpression": "ADD n :one"}) is None
    assert set_only_item({**counting, "UpdateExpression": "SET n = n + :one"}) is None
    assert set_only_item({**counting, "UpdateExpression": "SET a = :one REMOVE b"}) is None

    counter = CallCounter()
    counter(_model("TransactWriteItems"), {"TransactItems": [{"Update": creating}]})
    assert counter.written == [("mentions", item)] and counter.wcu == 2 * 2  # 1.5 KB item, transactional
    counter.counting = False  # the floor's own writes
    counter(_model("PutItem"), {"TableName": "mentions", "Item": item})
    assert counter.calls == {"TransactWriteItems": 1} and counter.wcu == 4


def test_the_emulator_clock_counts_cpu_inside_moto_only():
    with mock_aws():
        dynamodb = table_t()
        emulator = EmulatorClock()
        spent = Spent(emulator)
        with emulator.installed(), spent.measuring():
            for i in range(30):
                dynamodb.put_item(TableName="t", Item={"k": {"S": str(i)}})
            sum(i * i for i in range(300_000))  # our own CPU, outside moto
        inside = emulator.cpu_s
        dynamodb.put_item(TableName="t", Item={"k": {"S": "after"}})  # uninstalled: not clocked
    assert 0 < spent.emulator_cpu_s == inside < spent.cpu_s
    assert emulator.cpu_s == inside


def test_cold_start_children_run_from_the_read_only_package_first_and_write_no_bytecode(tmp_path):
    """bench/coldstart.py measures Lambda's cold start: the package's own code wins on sys.path (the dev tree and its
    .pth files are not seen) and nothing is compiled into it, as on Lambda's read-only disk."""
    import os
    import zipfile

    from bench.coldstart import Runner, _listing, _make_writable, unpack

    archive = tmp_path / "deployment.zip"
    with zipfile.ZipFile(archive, "w") as opened:
        opened.writestr("app.py", "WHERE = 'package'\n")
        opened.writestr("chalicelib/__init__.py", "WHERE = 'package'\n")
    package = unpack(archive, tmp_path / "task")
    assert (package / "app.py").stat().st_mode & 0o222 == 0 and package.stat().st_mode & 0o222 == 0  # read-only
    before = _listing(package)
    answer = Runner(package, dict(os.environ)).run(
        "import app, chalicelib, boto3\nanswer = [app.WHERE, chalicelib.WHERE, boto3.__name__]"
    )
    assert answer["answer"] == ["package", "package", "boto3"] and answer["seconds"] > 0
    assert _listing(package) == before  # no __pycache__ written
    _make_writable(package)


@pytest.mark.parametrize("checked_once", [False, True])
def test_update_validation_checked_once_rejects_and_applies_what_moto_does(checked_once):
    with mock_aws(), linear_update_validation() if checked_once else contextlib.nullcontext():
        dynamodb = table_t()
        values = {":one": {"N": "1"}, ":v": {"S": "v"}}
        for repeated in (
            "SET a = :v SET b = :v",
            "SET a = :v ADD n :one ADD m :one",
            "ADD n :one SET a = :v ADD m :one",
        ):
            with pytest.raises(dynamodb.exceptions.ClientError, match="The .* section can only be used once"):
                dynamodb.update_item(
                    TableName="t",
                    Key={"k": {"S": "a"}},
                    UpdateExpression=repeated,
                    ExpressionAttributeValues={name: v for name, v in values.items() if name in repeated},
                )
        for _ in range(2):
            dynamodb.update_item(
                TableName="t",
                Key={"k": {"S": "a"}},
                UpdateExpression="SET a = :v ADD " + ", ".join(f"n{i} :one" for i in range(40)),
                ExpressionAttributeValues=values,
            )
        item = dynamodb.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]
    assert item["a"] == {"S": "v"} and {item[f"n{i}"]["N"] for i in range(40)} == {"2"}
