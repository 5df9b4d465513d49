"""What a Lambda function really asks of AWS, checked against the IAM policy generated for it.

:func:`recording` records every AWS call the app's own code makes while it runs (botocore's
``BaseClient._make_api_call``, restored on exit); :func:`needs` says what IAM authorises each call against
(action, resource ARN, condition keys) the way IAM does it, not the way ``infra/aws_calls.py`` reads the code;
:func:`denied` evaluates the Allow (and Deny) statements of ``.chalice/policy-dev-<function>.json`` with their
wildcards and conditions. The test stage's names are mapped to dev's (the files are generated for the deployed
stages only; the names differ by the stage alone).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import botocore.client
import moto

from chalicelib.settings import APP_NAME, LOCAL_ACCOUNT

ROOT = Path(__file__).resolve().parents[1]  # the repository the test runs from
POLICY_STAGE = "dev"  # the deployed stage whose generated policy files are read
REGION = "us-east-1"

_APP_CODE = (str(ROOT / "chalicelib") + os.sep, str(ROOT / "app.py"))
_MOTO = str(Path(moto.__file__).resolve().parent) + os.sep
# Operations that report on a callback task: checked here against the state machine whose execution handed out
# the token. The Service Authorization Reference lists no resource type for them (which would mean Resource "*"),
# but AWS's AccessDenied for them names "on resource: arn:aws:states:...:stateMachine:<name>" and a grant on the
# state machine was found to work (aws-cdk pull request 8486's review); the generated policies rely on that.
_TASK_TOKEN_CALLS = {"SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"}


@dataclass(frozen=True)
class Call:
    service: str  # botocore's service name: dynamodb, s3, stepfunctions, ...
    operation: str  # PutItem, HeadObject, ...
    params: dict[str, Any]
    token_owner: str | None = None  # the state machine that handed out a SendTask*'s token


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)  # request condition keys (ses:FromAddress)


def _made_by_the_app(frame: Any) -> bool:
    """A call is the function's when the app's code (chalicelib/, app.py) made it, on whatever thread (the ops API
    reads shards from a thread pool), and moto did not: calls made by moto itself (a Step Functions execution's
    SQS send or Lambda invoke, run in moto's threads or while moto serves the app's StartExecution) are AWS acting
    with another role (the state machine's), and calls made by the test's own setup name no app code."""
    by_app = False
    while frame is not None:
        name = frame.f_code.co_filename
        if not os.path.isabs(name):
            name = os.path.abspath(name)
        if name.startswith(_MOTO):
            return False
        if name.startswith(_APP_CODE[0]) or name == _APP_CODE[1]:
            by_app = True
        frame = frame.f_back
    return by_app


def _token_owner(token: str) -> str | None:
    """The state machine whose running execution waits on ``token`` (moto's Step Functions backend)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends  # execute_state_machine's

    for machine in stepfunctions_parser_backends[LOCAL_ACCOUNT][REGION].state_machines:
        for execution in getattr(machine, "executions", []):
            worker = getattr(execution, "exec_worker", None)
            env = getattr(worker, "env", None)
            if env is not None and env.callback_pool_manager.get(token) is not None:
                return machine.arn
    return None


@contextlib.contextmanager
def recording() -> Iterator[list[Call]]:
    """The AWS calls the app's code makes inside the block (the call is recorded, then made as before)."""
    calls: list[Call] = []
    original = botocore.client.BaseClient._make_api_call

    def record(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if _made_by_the_app(sys._getframe(1)):
            service = client.meta.service_model.service_name
            owner = None
            if service == "stepfunctions" and operation_name in _TASK_TOKEN_CALLS:
                owner = _token_owner(api_params.get("taskToken", ""))  # before the call uses the token up
            calls.append(Call(service, operation_name, dict(api_params), owner))
        return original(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = record
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original


def to_policy_stage(name: str) -> str:
    """A test stage name (table, queue, bucket, topic, state machine, parameter path) as the policy's stage has it."""
    from chalicelib.settings import stage

    test = stage()
    return name.replace(f"{APP_NAME}-{test}-", f"{APP_NAME}-{POLICY_STAGE}-").replace(
        f"/{APP_NAME}/{test}/", f"/{APP_NAME}/{POLICY_STAGE}/"
    )


def _sender(address: str) -> str:
    """The test stage's sender is the policy stage's configured sender (the condition names that one)."""
    from chalicelib.settings import sender_email
    from infra.stage_config import StageConfig

    return StageConfig.load(POLICY_STAGE).sender_email if address == sender_email() else address


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{LOCAL_ACCOUNT}:{to_policy_stage(resource)}"


def _table(name: str, index: str | None = None) -> str:
    return _arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))


def _queue(params: dict[str, Any]) -> str:
    return _arn("sqs", (params.get("QueueUrl") or params.get("QueueName", "")).rstrip("/").rsplit("/", 1)[-1])


def _parameter(name: str) -> str:
    return _arn("ssm", "parameter/" + name.lstrip("/"))


TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
IAM_PREFIX = {"stepfunctions": "states", "sesv2": "ses", "dynamodbstreams": "dynamodb"}


def needs(call: Call) -> list[Need]:
    """What IAM checks for ``call``: each (action, resource, condition keys) must be allowed."""
    service, op, p = call.service, call.operation, call.params
    if service == "dynamodb":
        if op in ("TransactWriteItems", "TransactGetItems"):  # authorised item by item, on each item's table
            out = []
            for item in p["TransactItems"]:
                ((kind, body),) = item.items()
                out.append(Need("dynamodb:" + TRANSACT_ITEM_ACTIONS[kind], _table(body["TableName"])))
            return out
        if op in ("BatchGetItem", "BatchWriteItem"):  # the batch action, on every table of the batch
            return [Need("dynamodb:" + op, _table(name)) for name in p["RequestItems"]]
        if "TableName" in p:
            return [Need("dynamodb:" + op, _table(p["TableName"], p.get("IndexName")))]
    if service == "s3":
        bucket = to_policy_stage(p.get("Bucket", ""))
        if op in ("HeadObject", "GetObject"):
            # A missing key is a 404 only with s3:ListBucket on the bucket; without it S3 answers 403 AccessDenied.
            return [
                Need("s3:GetObject", f"arn:aws:s3:::{bucket}/{p['Key']}"),
                Need("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
            ]
        if op in ("ListObjectsV2", "ListObjects"):
            return [Need("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
        if "Key" in p:
            return [Need("s3:" + op, f"arn:aws:s3:::{bucket}/{p['Key']}")]
        return [Need("s3:" + op, f"arn:aws:s3:::{bucket}")]
    if service == "sqs" and ("QueueUrl" in p or "QueueName" in p):
        return [Need("sqs:" + SQS_BATCH_ACTIONS.get(op, op), _queue(p))]
    if service == "ssm":
        names = p.get("Names") or [p.get("Name") or p.get("Path", "")]
        return [Need("ssm:" + op, _parameter(name)) for name in names]
    if service == "sns" and (p.get("TopicArn") or p.get("TargetArn")):
        return [Need("sns:" + op, to_policy_stage(p.get("TopicArn") or p["TargetArn"]))]
    if service == "stepfunctions":
        if op in _TASK_TOKEN_CALLS:
            return [Need("states:" + op, to_policy_stage(call.token_owner or "*"))]
        arn = p.get("stateMachineArn") or p.get("executionArn")
        return [Need("states:" + op, to_policy_stage(arn) if arn else "*")]
    if service in ("ses", "sesv2") and op in ("SendEmail", "SendRawEmail"):
        source = p.get("Source") or p.get("FromEmailAddress") or ""
        address = _sender(parseaddr(source)[1] or source)
        context = {"ses:FromAddress": address}
        out = [Need("ses:" + op, _arn("ses", f"identity/{address}"), context)]
        configuration_set = p.get("ConfigurationSetName")
        if configuration_set:
            out.append(Need("ses:" + op, _arn("ses", f"configuration-set/{configuration_set}"), context))
        return out
    if service == "sts" and op == "GetCallerIdentity":
        return []  # needs no permission
    return [Need(f"{IAM_PREFIX.get(service, service)}:{op}", "*")]  # unknown here: only Resource "*" allows it


def _glob(pattern: str, value: str, case: bool = True) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character, nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _conditions_hold(condition: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    """Every operator's every key holds; a key the request does not carry, or an operator not known here, fails."""
    tests = {
        "StringEquals": lambda want, have: have == want,
        "StringEqualsIgnoreCase": lambda want, have: have.lower() == want.lower(),
        "StringLike": lambda want, have: _glob(want, have),
    }
    for operator, keys in condition.items():
        if operator not in tests:
            return False
        for key, wanted in keys.items():
            have = context.get(key)
            if have is None or not any(tests[operator](w, have) for w in _listed(wanted)):
                return False
    return True


def _matches(statement: dict[str, Any], need: Need) -> bool:
    if "NotAction" in statement or "NotResource" in statement:
        return False  # the generator writes none; not evaluated here
    return (
        any(_glob(a, need.action, case=False) for a in _listed(statement["Action"]))
        and any(_glob(r, need.resource) for r in _listed(statement["Resource"]))
        and _conditions_hold(statement.get("Condition", {}), need.context)
    )


def allows(policy: dict[str, Any], need: Need) -> bool:
    """An Allow statement matches the action, the resource and the conditions, and no Deny statement does."""
    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and _matches(s, need) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and _matches(s, need) for s in statements)


def policy_path(function: str) -> Path:
    return ROOT / ".chalice" / f"policy-{POLICY_STAGE}-{function}.json"


def denied(function: str, calls: list[Call]) -> list[str]:
    """Each call of ``calls`` the function's generated policy does not allow, as ``Operation: action on resource``."""
    policy = json.loads(policy_path(function).read_text(encoding="utf-8"))
    out = {
        f"{call.service}.{call.operation}: {need.action} on {need.resource}"
        + (f" with {need.context}" if need.context else "")
        for call in calls
        for need in needs(call)
        if not allows(policy, need)
    }
    return sorted(out)


def operations(calls: list[Call]) -> set[str]:
    """``service.Operation`` of each call (what a test says a handler's main path reaches)."""
    return {f"{c.service}.{c.operation}" for c in calls}
