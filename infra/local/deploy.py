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


def deploy_stack(stage: str, client_for=_default_client) -> dict[str, str]:
    """Create the stage's stack and return its outputs. ``client_for(service)`` picks the endpoint."""
    cloudformation = client_for("cloudformation")
    cloudformation.create_stack(StackName=stack_name(stage), TemplateBody=json.dumps(build_template(stage)),
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
    stack = cloudformation.describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {stack_name(stage)} is {stack['StackStatus']}")
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


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
