"""The test stack on moto is the packaged template: every resource moto can create exists, named as the template
names it; the functions' environment is the template's, resolved; a signed delivery flows through with it."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from moto import mock_aws

from chalicelib.settings import Resources
from infra.local.deploy import SAM_FUNCTION, deploy_stack, seed_secrets, split_template
from tests.conftest import TEST_STAGE, forget_cached_adapters


@pytest.fixture
def deployed(monkeypatch):
    forget_cached_adapters()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        deployment = deploy_stack(TEST_STAGE)
        secrets = seed_secrets(TEST_STAGE, {})
        yield deployment, secrets, monkeypatch
    forget_cached_adapters()


def test_every_resource_moto_can_create_is_created_from_the_packaged_template(deployed):
    import boto3

    deployment, _, _ = deployed
    template = deployment.template
    assert template["Transform"] == "AWS::Serverless-2016-10-31"  # Chalice's SAM output, not infra/ alone
    stack, api, not_created = split_template(template)
    assert set(deployment.created_by_cloudformation) == set(stack) and set(deployment.not_created) == set(not_created)
    assert all(template["Resources"][k]["Type"] == SAM_FUNCTION for k in ("APIHandler", "ProcessMentions"))
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    tables = set(dynamodb.list_tables()["TableNames"])
    queues = {url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]}
    for logical, resource in {**stack, **api}.items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::DynamoDB::Table":
            assert properties["TableName"] in tables, logical
        elif resource["Type"] == "AWS::SQS::Queue":
            assert properties["QueueName"] in queues, logical
    assert boto3.client("s3").head_bucket(Bucket=deployment.outputs["ReportBucketName"])
    machines = {m["name"] for m in boto3.client("stepfunctions").list_state_machines()["stateMachines"]}
    assert {
        r["Properties"]["StateMachineName"] for r in api.values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    } <= machines
    sets = boto3.client("ses").list_configuration_sets()["ConfigurationSets"]
    assert deployment.environment["SES_CONFIGURATION_SET"] in {c["Name"] for c in sets}


def test_the_functions_environment_is_the_template_s_resolved_on_moto(deployed):
    import boto3

    deployment, _, _ = deployed
    environment, names = deployment.environment, Resources.for_stage(TEST_STAGE)
    table = boto3.client("dynamodb").describe_table(TableName=names.issues_table)["Table"]
    assert environment["ISSUES_STREAM_ARN"] == table["LatestStreamArn"]
    assert environment["REPORT_BUCKET"] == deployment.outputs["ReportBucketName"]
    assert environment["STAGE"] == TEST_STAGE
    assert not any(key.startswith("FunctionEnvironment") for key in deployment.outputs)


def test_a_signed_delivery_flows_through_with_the_template_s_environment(deployed):
    """Webhook -> ingest queue -> process_mentions (the worker's SQS step) -> mention stored, with the functions'
    environment from the template; the approval email goes out with the template's configuration set."""
    import boto3
    from chalice.test import Client

    from chalicelib.adapters.email import SesEmail
    from chalicelib.platforms.generic import sign

    deployment, secrets, monkeypatch = deployed
    for name, value in deployment.environment.items():
        monkeypatch.setenv(name, value)
    forget_cached_adapters()
    import app

    names = Resources.for_stage(TEST_STAGE)
    body = json.dumps(
        {
            "platform": "forum",
            "id": "t-1",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "text": "@aurelle my Lina trench coat ripped after one wear",
            "author": {"id": "a1", "handle": "ana", "name": "Ana", "followers": 10, "verified": False},
        }
    )
    signature = sign(body.encode(), secrets.__getitem__, datetime.now(timezone.utc))
    with Client(app.app, stage_name=TEST_STAGE) as client:
        answer = client.http.post(
            "/webhooks/generic", body=body, headers={"Content-Type": "application/json", **signature}
        )
        assert answer.status_code == 200, answer.body
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName=names.ingest_queue)["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:" + names.ingest_queue,
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }
        result = client.lambda_.invoke("process_mentions", event).payload
    assert result == {"batchItemFailures": []}
    stored = boto3.client("dynamodb").get_item(TableName=names.mentions_table, Key={"pk": {"S": "forum#t-1"}})
    assert stored["Item"]["text"]["S"].endswith("after one wear")
    email = SesEmail(deployment.environment.get("APPROVALS_FROM_EMAIL") or "social-response@aurelle.example")
    assert email.configuration_set == deployment.environment["SES_CONFIGURATION_SET"]
    assert email.send("pr@aurelle.example", "s", "t", "<p>t</p>")
