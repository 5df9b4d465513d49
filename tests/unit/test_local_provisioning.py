"""The local stack's provisioning steps that tests rely on, on moto in-process."""

from __future__ import annotations

import boto3
from moto import mock_aws

from infra.local.provisioning import set_queue_visibility


def test_only_the_queues_the_template_gives_a_visibility_timeout_get_the_shortened_one():
    template = {
        "Resources": {
            "IngestQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "ingest", "VisibilityTimeout": 360}},
            "IngestDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "ingest-dlq"}},
            "Mentions": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "mentions"}},
        }
    }
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        urls = {
            name: sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            for name, attributes in (
                ("ingest", {"VisibilityTimeout": "360"}),
                ("ingest-dlq", {"VisibilityTimeout": "30"}),
            )
        }
        set_queue_visibility(lambda service: boto3.client(service, region_name="us-east-1"), template, 8)
        visibility = {
            name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"][
                "VisibilityTimeout"
            ]
            for name, url in urls.items()
        }
    assert visibility == {"ingest": "8", "ingest-dlq": "30"}
