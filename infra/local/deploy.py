"""Deploy a stage's packaged template (``make package``'s SAM output) to moto: in-process or its server.

The same call serves ``make run``, the integration tests (in-process ``mock_aws``) and the end-to-end tests. What
runs locally is the template AWS gets, not a copy of it:

* every resource moto's CloudFormation can create is created by it, from the packaged template;
* the state machines and the SES configuration set are created from their template resources through their
  service's API (moto's CloudFormation does not create the second, and with Step Functions execution on, runs
  state machines in a backend its CloudFormation does not write to);
* what moto cannot create at all (the SAM functions and API, their event sources, the alarms, the queue and
  bucket policies, API Gateway's account settings) is listed by :func:`deploy_stack` with the reason; the
  functions run in ``chalice local`` and the worker, with the environment the template gives them
  (:func:`function_environment`), and ``tests/unit/test_template_functions.py`` compares the rest to app.py.
"""

from __future__ import annotations

import json
import re
import secrets as random_secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.secrets import SECRET_NAMES
from chalicelib.settings import APP_NAME, secret_parameter_name

STATE_MACHINE = "AWS::StepFunctions::StateMachine"
SES_CONFIGURATION_SET = "AWS::SES::ConfigurationSet"
SAM_FUNCTION = "AWS::Serverless::Function"
# Created through their service's API, from the template's properties (see the module's docstring).
THROUGH_THE_API = (STATE_MACHINE, SES_CONFIGURATION_SET)
ENVIRONMENT_OUTPUT = "FunctionEnvironment"


def stack_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-data"


def _default_client(service: str):
    import boto3

    return boto3.client(service)


def moto_can_create(resource_type: str) -> bool:
    """Whether moto's CloudFormation creates ``resource_type`` (it skips, with a warning, what it cannot)."""
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    return resource_type not in NULL_MODELS and resource_type in get_model_map()


def references(value: Any) -> set[str]:
    """The logical ids ``value`` refers to (``Ref``, ``Fn::GetAtt``, ``${X}``/``${X.Attr}`` in ``Fn::Sub``)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".", 1)[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(inner, list):
                    found |= references(inner[1])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return {name for name in found if not name.startswith("AWS::")}


def _depends_on(resource: dict[str, Any]) -> set[str]:
    depends = resource.get("DependsOn", [])
    return set([depends] if isinstance(depends, str) else depends) | references(resource.get("Properties", {}))


@dataclass
class LocalDeployment:
    """What :func:`deploy_stack` made of the packaged template."""

    outputs: dict[str, str]
    created_by_cloudformation: list[str]
    created_through_the_api: list[str]
    not_created: dict[str, str]  # logical id -> why moto cannot create it
    environment: dict[str, str] = field(default_factory=dict)  # the functions' environment, resolved
    template: dict[str, Any] = field(default_factory=dict)  # the packaged template it came from


def split_template(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(what moto's CloudFormation creates, what goes through the API, what is not created and why)."""
    resources = template["Resources"]
    not_created = {
        logical: f"moto's CloudFormation has no {resource['Type']}"
        for logical, resource in resources.items()
        if resource["Type"] not in THROUGH_THE_API and not moto_can_create(resource["Type"])
    }
    changed = True
    while changed:  # a resource that refers to one not created cannot be created either
        changed = False
        for logical, resource in resources.items():
            if logical in not_created:
                continue
            missing = sorted(_depends_on(resource) & set(not_created))
            if missing:
                not_created[logical] = f"refers to {', '.join(missing)} (not created)"
                changed = True
    api = {k: v for k, v in resources.items() if v["Type"] in THROUGH_THE_API and k not in not_created}
    stack = {k: v for k, v in resources.items() if k not in not_created and k not in api}
    return stack, api, not_created


def template_function_environment(template: dict[str, Any]) -> dict[str, Any]:
    """The environment the template gives its functions (one for all: the local stack runs them in two processes
    that share it, so functions that differ are refused here rather than run with the wrong one)."""
    functions = {
        k: v["Properties"].get("Environment", {}).get("Variables", {})
        for k, v in template["Resources"].items()
        if v["Type"] == SAM_FUNCTION
    }
    if not functions:
        raise ValueError("the packaged template has no functions")
    first_name, first = next(iter(functions.items()))
    for name, variables in functions.items():
        if variables != first:
            raise ValueError(f"{name}'s environment differs from {first_name}'s: the local stack cannot run both")
    return dict(first)


def deploy_stack(stage: str, client_for=_default_client, time_scale: float | None = None) -> LocalDeployment:
    """Create the stage's stack from its packaged template. ``client_for(service)`` picks the endpoint."""
    from infra.package import sam_template

    template = sam_template(stage, time_scale)
    stack_resources, api_resources, not_created = split_template(template)
    variables = template_function_environment(template)
    api_refs = {
        logical: resource["Properties"]["Name"]
        for logical, resource in api_resources.items()
        if resource["Type"] == SES_CONFIGURATION_SET
    }
    # Each variable that names a resource is resolved by moto's CloudFormation itself, as an output.
    outputs = {
        name: output
        for name, output in template.get("Outputs", {}).items()
        if not references(output) & (set(not_created) | set(api_resources))
    }
    environment = {name: value for name, value in variables.items() if isinstance(value, str)}
    for name, value in variables.items():
        if name in environment:
            continue
        refs = references(value)
        if len(refs) == 1 and value == {"Ref": next(iter(refs))} and next(iter(refs)) in api_refs:
            environment[name] = api_refs[next(iter(refs))]
        elif not refs & (set(not_created) | set(api_resources)):
            outputs[f"{ENVIRONMENT_OUTPUT}{name.replace('_', '')}"] = {"Value": value}
    body = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": template.get("Description", ""),
        "Resources": stack_resources,
        "Outputs": outputs,
    }
    cloudformation = client_for("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name(stage),
        TemplateBody=json.dumps(body),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name(stage)} is {stack['StackStatus']}")
    values = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    for name in variables:
        key = f"{ENVIRONMENT_OUTPUT}{name.replace('_', '')}"
        if key in values:
            environment[name] = values.pop(key)
    _create_through_the_api(stage, api_resources, stack_resources, client_for)
    # SES sends only from verified identities; a deployment verifies its sender once (here: moto).
    from chalicelib.settings import sender_email

    client_for("ses").verify_email_identity(EmailAddress=environment.get("APPROVALS_FROM_EMAIL") or sender_email())
    return LocalDeployment(
        outputs=values,
        created_by_cloudformation=sorted(stack_resources),
        created_through_the_api=sorted(api_resources),
        not_created=not_created,
        environment=environment,
        template=template,
    )


def _create_through_the_api(stage: str, api_resources: dict, stack_resources: dict, client_for) -> None:
    references_by_id = _references(stack_resources, client_for)
    for resource in api_resources.values():
        properties = resource["Properties"]
        if resource["Type"] == SES_CONFIGURATION_SET:
            client_for("ses").create_configuration_set(ConfigurationSet={"Name": properties["Name"]})
            continue
        definition = properties["DefinitionString"]["Fn::Sub"]
        for logical, value in references_by_id.items():
            definition = definition.replace("${" + logical + "}", value)
        client_for("stepfunctions").create_state_machine(
            name=properties["StateMachineName"],
            definition=definition,
            roleArn=f"arn:aws:iam::123456789012:role/{stack_name(stage)}-protocol",
        )


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
