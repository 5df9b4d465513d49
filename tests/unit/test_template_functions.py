"""What moto cannot create, compared against the code: the packaged template's SAM functions and event sources.

The local stack creates every other resource from the packaged template itself (``infra.local.deploy``); the
functions run in ``chalice local`` and the worker, which read app.py. This test holds the two together: every
handler of app.py has its function in the template, with the same queue and batch size, the same stream, the same
schedule; nothing in the template runs code app.py does not have.
"""

from __future__ import annotations

import dataclasses

import pytest
from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

from chalicelib.settings import Resources
from infra.local.deploy import SAM_FUNCTION, split_template, template_function_environment
from infra.local.event_sources import cfn_name
from infra.local.worker import expression_of
from infra.package import sam_template
from infra.stage_config import StageConfig

STAGES = ("test", "dev")


@pytest.fixture(scope="module", params=STAGES)
def packaged(request):
    return request.param, sam_template(request.param)


def app_sources():
    import app

    return app.app


def functions(template):
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == SAM_FUNCTION}


def only_event(function) -> dict:
    [event] = function["Events"].values()
    return event


def queue_name(template, queue) -> str:
    """The queue an SQS event names: Chalice writes an ARN by ``Fn::Sub``; an override may ``Fn::GetAtt`` one."""
    if "Fn::GetAtt" in queue:
        return template["Resources"][queue["Fn::GetAtt"][0]]["Properties"]["QueueName"]
    return queue["Fn::Sub"].rsplit(":", 1)[1]


def test_every_handler_has_its_function_and_every_function_its_handler(packaged):
    _, template = packaged
    app = app_sources()
    # Chalice packages a handler by the module defining it: app.<name>, or a blueprint's chalicelib.api.<module>.<name>
    expected = {cfn_name(s.name): s.handler_string for s in app.event_sources}
    expected["APIHandler"] = "app.app"
    assert {k: f["Handler"] for k, f in functions(template).items()} == expected


def test_each_queue_handler_consumes_its_queue_in_its_batch_size_reporting_item_failures(packaged):
    stage, template = packaged
    # The app named its queues for the stage this process runs (test): the same field, for the packaged stage.
    imported, packaged_names = dataclasses.asdict(Resources.for_stage("test")), Resources.for_stage(stage)
    sources = [s for s in app_sources().event_sources if isinstance(s, SQSEventConfig)]
    assert len(sources) == 3
    for source in sources:
        event = only_event(functions(template)[cfn_name(source.name)])
        assert event["Type"] == "SQS"
        [field] = [name for name, value in imported.items() if value == source.queue]
        assert queue_name(template, event["Properties"]["Queue"]) == getattr(packaged_names, field)
        assert event["Properties"]["BatchSize"] == source.batch_size
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_stream_handler_reads_the_issues_table_s_stream_with_an_on_failure_queue(packaged):
    stage, template = packaged
    [source] = [s for s in app_sources().event_sources if isinstance(s, DynamoDBEventConfig)]
    event = only_event(functions(template)[cfn_name(source.name)])
    assert event["Type"] == "DynamoDB"
    assert event["Properties"]["Stream"] == {"Fn::GetAtt": ["IssuesTable", "StreamArn"]}
    resources = template["Resources"]
    assert resources["IssuesTable"]["Properties"]["TableName"] == Resources.for_stage(stage).issues_table
    # the app's stream names the issues table too (the test stage's, the stage this process imported it in)
    assert f":table/{Resources.for_stage('test').issues_table}/stream/" in source.stream_arn
    assert event["Properties"]["BatchSize"] == source.batch_size
    destination = event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert resources[destination]["Properties"]["QueueName"] == Resources.for_stage(stage).issues_stream_dlq


def test_each_schedule_fires_as_the_app_says_and_fails_into_the_schedule_queue(packaged):
    stage, template = packaged
    sources = [s for s in app_sources().event_sources if isinstance(s, ScheduledEventConfig)]
    assert sources
    for source in sources:
        function = functions(template)[cfn_name(source.name)]
        event = only_event(function)
        assert (event["Type"], event["Properties"]["Schedule"]) == ("Schedule", expression_of(source))
        assert event["Properties"]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}
        on_failure = function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Destination"]
        assert on_failure == {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}


def test_the_functions_environment_is_the_stage_s_config_plus_the_template_s_names(packaged):
    stage, template = packaged
    environment = template_function_environment(template)
    assert {k: v for k, v in environment.items() if isinstance(v, str)} == StageConfig.load(stage).environment
    assert environment["ISSUES_STREAM_ARN"] == {"Fn::GetAtt": ["IssuesTable", "StreamArn"]}


def test_what_moto_cannot_create_is_only_the_functions_their_events_alarms_and_policies(packaged):
    _, template = packaged
    stack, api, not_created = split_template(template)
    kinds = {template["Resources"][logical]["Type"] for logical in not_created}
    assert kinds <= {
        SAM_FUNCTION,
        "AWS::Serverless::Api",
        "AWS::Lambda::Permission",
        "AWS::CloudWatch::Alarm",
        "AWS::SQS::QueuePolicy",
        "AWS::S3::BucketPolicy",
        "AWS::ApiGateway::Account",
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
    }
    assert set(functions(template)) <= set(not_created)
    created = {template["Resources"][logical]["Type"] for logical in [*stack, *api]}
    assert {
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::S3::Bucket",
        "AWS::StepFunctions::StateMachine",
        "AWS::SES::ConfigurationSet",
    } <= created
