"""The bench's measuring tools must not change what they measure."""

import contextlib

import boto3
import pytest
from moto import mock_aws

from bench.moto_transactions import (
    ITEM_SIZE_LIMIT,
    item_level_rollback,
    linear_item_size_check,
    linear_update_validation,
    wire_attribute_values,
)
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


# Every kind of AttributeValue, nested, with the edge values a serializer might drop (False, "", empty list and map).
EVERY_KIND = {
    "k": {"S": "all"},
    "s": {"S": "text <b>&</b> ü"},
    "empty": {"S": ""},
    "n": {"N": "-12.50"},
    "b": {"B": b"\x00\xffraw"},
    "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"a", b"\x01"]},
    "no": {"BOOL": False},
    "yes": {"BOOL": True},
    "nothing": {"NULL": True},
    "list": {"L": [{"N": "1"}, {"S": ""}, {"L": []}, {"M": {}}, {"B": b"in a list"}]},
    "map": {"M": {"inner": {"M": {"deep": {"BOOL": False}}}, "text": {"S": "t"}, "blob": {"B": b"\x02"}}},
}


def answers(dynamodb) -> list:
    """The same reads of every kind of value through each read API that returns items."""
    dynamodb.put_item(TableName="t", Item=EVERY_KIND)
    dynamodb.put_item(TableName="t", Item={"k": {"S": "plain"}, "n": {"N": "1"}, "m": {"M": {"a": {"S": "b"}}}})
    keys = [{"k": {"S": "all"}}, {"k": {"S": "plain"}}, {"k": {"S": "absent"}}]
    answers = [dynamodb.get_item(TableName="t", Key=key).get("Item") for key in keys]
    batch = dynamodb.batch_get_item(RequestItems={"t": {"Keys": keys, "ConsistentRead": True}})["Responses"]["t"]
    answers.append(sorted(batch, key=lambda item: item["k"]["S"]))
    answers.append(
        dynamodb.query(TableName="t", KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "all"}})[
            "Items"
        ]
    )
    answers.append(sorted(dynamodb.scan(TableName="t")["Items"], key=lambda item: item["k"]["S"]))
    answers.append(
        dynamodb.update_item(
            TableName="t",
            Key={"k": {"S": "plain"}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_OLD",
        )["Attributes"]
    )
    return answers


def test_attribute_values_output_as_they_are_read_back_as_moto_serializes_them():
    with mock_aws():
        shipped = answers(table_t())
    with mock_aws(), wire_attribute_values():
        direct = answers(table_t())
    assert direct == shipped
    assert shipped[0]["b"] == {"B": b"\x00\xffraw"} and shipped[0]["no"] == {"BOOL": False}  # what is compared


@pytest.mark.parametrize("checked_once", [False, True])
def test_item_size_checked_once_stores_and_refuses_what_moto_does(checked_once):
    with mock_aws(), linear_item_size_check() if checked_once else contextlib.nullcontext():
        dynamodb = table_t()
        dynamodb.put_item(TableName="t", Item=EVERY_KIND)
        assert answers(dynamodb)[0] == {**EVERY_KIND}
        # 40 attributes of 10,200 bytes: only the last one takes the item past the limit
        big = {f"a{i:02d}": {"S": "x" * 10_200} for i in range(40)}
        assert sum(len(name) + 10_200 for name in big) + len("k") + len("big") > ITEM_SIZE_LIMIT
        almost = dict(list(big.items())[:39])
        dynamodb.put_item(TableName="t", Item={"k": {"S": "big"}, **almost})
        with pytest.raises(dynamodb.exceptions.ClientError, match="Item size has exceeded"):
            dynamodb.put_item(TableName="t", Item={"k": {"S": "big"}, **big})
        stored = dynamodb.get_item(TableName="t", Key={"k": {"S": "big"}})["Item"]
    assert set(stored) == {"k", *almost}  # the refused write changed nothing


def test_the_batch_floor_writes_an_item_written_twice_in_order():
    """BatchWriteItem refuses a call naming one key twice: the floor splits the call there, and the later write
    wins, as the pipeline's own writes did."""
    from bench import pipeline

    with mock_aws():
        dynamodb = table_t()
        pipeline._KEY_NAMES["t"] = ("k",)
        items = [("src", {"k": {"S": f"i{n % 30}"}, "n": {"N": str(n)}}) for n in range(40)]
        with patch_client(dynamodb):
            pipeline._raw_batches(items, {"src": "t"})
        stored = {i["k"]["S"]: i["n"]["N"] for i in dynamodb.scan(TableName="t")["Items"]}
    assert len(stored) == 30
    assert stored["i0"] == "30" and stored["i9"] == "39" and stored["i10"] == "10"


@contextlib.contextmanager
def patch_client(dynamodb):
    from chalicelib.adapters import aws

    original = aws.client
    aws.client = lambda name, **_: dynamodb
    try:
        yield
    finally:
        aws.client = original
