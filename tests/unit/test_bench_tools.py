"""The bench's measuring tools must not change what they measure."""

import boto3
import pytest
from moto import mock_aws

from bench.moto_transactions import item_level_rollback
from bench.pipeline import item_size, write_units


def test_item_level_rollback_still_rolls_back_a_cancelled_transaction():
    with mock_aws(), item_level_rollback():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(TableName="t", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
        dynamodb.put_item(TableName="t", Item={"k": {"S": "a"}, "n": {"N": "1"}})
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(TransactItems=[
                {"Update": {"TableName": "t", "Key": {"k": {"S": "a"}}, "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"Put": {"TableName": "t", "Item": {"k": {"S": "new"}}}},
                {"Put": {"TableName": "t", "Item": {"k": {"S": "b"}},
                         "ConditionExpression": "attribute_exists(k)"}},  # fails: cancels the rest
            ])
        items = {i["k"]["S"]: i for i in dynamodb.scan(TableName="t")["Items"]}
        assert set(items) == {"a"} and items["a"]["n"] == {"N": "1"}
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", "Key": {"k": {"S": "a"}}, "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
        assert dynamodb.get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]["n"] == {"N": "2"}


def test_write_units_follow_dynamodb_sizing():
    small = {"pk": {"S": "x#1"}, "n": {"N": "12345"}}
    assert item_size(small) == len("pk") + 3 + len("n") + 4
    assert write_units(small, transactional=False) == 1 and write_units(small, transactional=True) == 2
    big = {"pk": {"S": "x" * 1500}}
    assert write_units(big, transactional=False) == 2
