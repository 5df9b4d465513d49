"""Deploy a stage's template (``infra.template``) to a CloudFormation endpoint: moto's, in-process or server.

The same call serves ``make run``, the integration tests (in-process ``mock_aws``) and the end-to-end tests.
"""

from __future__ import annotations

import json
import secrets as random_secrets
from collections.abc import Mapping

from chalicelib.adapters.secrets import SECRET_NAMES
from chalicelib.settings import APP_NAME, secret_parameter_name
from infra.template import build_template


def stack_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-data"


def _default_client(service: str):
    import boto3

    return boto3.client(service)


STATE_MACHINE = "AWS::StepFunctions::StateMachine"


def deploy_stack(stage: str, client_for=_default_client, time_scale: float | None = None) -> dict[str, str]:
    """Create the stage's stack and return its outputs. ``client_for(service)`` picks the endpoint.

    Everything goes through moto's CloudFormation except the state machines: with Step Functions execution
    switched on, moto runs state machines in a backend its CloudFormation does not write to. They are created
    from the same template resources through the Step Functions API, their ``Fn::Sub`` references resolved here.
    """
    template = build_template(stage, time_scale)
    machines = {k: v for k, v in template["Resources"].items() if v["Type"] == STATE_MACHINE}
    template["Resources"] = {k: v for k, v in template["Resources"].items() if k not in machines}
    cloudformation = client_for("cloudformation")
    cloudformation.create_stack(StackName=stack_name(stage), TemplateBody=json.dumps(template),
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    stack = cloudformation.describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name(stage)} is {stack['StackStatus']}")
    references = _references(template["Resources"], client_for)
    for properties in (machine["Properties"] for machine in machines.values()):
        definition = properties["DefinitionString"]["Fn::Sub"]
        for logical, value in references.items():
            definition = definition.replace("${" + logical + "}", value)
        client_for("stepfunctions").create_state_machine(
            name=properties["StateMachineName"], definition=definition,
            roleArn=f"arn:aws:iam::123456789012:role/{stack_name(stage)}-protocol")
    # SES sends only from verified identities; a deployment verifies its sender once (here: moto).
    from chalicelib.settings import sender_email

    client_for("ses").verify_email_identity(EmailAddress=sender_email())
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _references(resources: dict, client_for) -> dict[str, str]:
    """What ``Ref`` gives for each resource the state machines name: queue URL, topic ARN, table name."""
    values = {}
    for logical, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::SQS::Queue":
            values[logical] = client_for("sqs").get_queue_url(QueueName=properties["QueueName"])["QueueUrl"]
        elif resource["Type"] == "AWS::SNS::Topic":
            values[logical] = client_for("sns").create_topic(Name=properties["TopicName"])["TopicArn"]  # idempotent
        elif resource["Type"] == "AWS::DynamoDB::Table":
            values[logical] = properties["TableName"]
    return values


def seed_secrets(stage: str, environment: Mapping[str, str], client_for=_default_client) -> dict[str, str]:
    """Put every contract secret into Parameter Store as a SecureString.

    A secret set in the environment wins; the others get a fresh random value, so no default secret lives in the
    repository. Returns the values (the caller keeps them out of logs).
    """
    ssm = client_for("ssm")
    values = {name: environment.get(name) or random_secrets.token_urlsafe(32) for name in SECRET_NAMES}
    for name, value in values.items():
        ssm.put_parameter(Name=secret_parameter_name(name, stage), Value=value, Type="SecureString", Overwrite=True)
    return values
