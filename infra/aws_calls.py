"""The AWS API calls the app's code makes, found by reading it, and the IAM actions they need.

``client("dynamodb").put_item(...)``, ``dynamodb = client("dynamodb"); dynamodb.put_item(...)``,
``self.sfn = client("stepfunctions")``, ``client("dynamodb").get_paginator("scan")``: every call on a client made
by ``chalicelib.adapters.aws.client`` is found, so a new call in an adapter without its permission in
``infra/policy.py`` fails a test instead of an AccessDenied in production.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = (ROOT / "chalicelib", ROOT / "app.py")

# boto3 client name -> IAM service prefix.
IAM_PREFIX = {
    "dynamodb": "dynamodb",
    "dynamodbstreams": "dynamodb",
    "sqs": "sqs",
    "sns": "sns",
    "ses": "ses",
    "sesv2": "ses",
    "stepfunctions": "states",
    "ssm": "ssm",
    "s3": "s3",
    "sts": "sts",
}
# API operations whose IAM action has another name, or needs several.
ACTIONS_OF = {
    # TransactWriteItems is authorized item by item: see TRANSACT_ITEM_ACTIONS (only the kinds the code writes).
    "dynamodb:TransactGetItems": {"dynamodb:GetItem"},
    "sqs:SendMessageBatch": {"sqs:SendMessage"},
    "sqs:DeleteMessageBatch": {"sqs:DeleteMessage"},
    "sqs:ChangeMessageVisibilityBatch": {"sqs:ChangeMessageVisibility"},
    "sts:GetCallerIdentity": set(),  # needs no permission
    "s3:HeadObject": {"s3:GetObject"},
    "s3:ListObjectsV2": {"s3:ListBucket"},
}
# A transaction's item kinds and the action each needs. The code's transactions are read for the kinds they use
# (dict keys "Put", "Update", ... anywhere in chalicelib: items are often built apart from the call), so no function
# is granted DeleteItem for a Delete no transaction makes.
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# Client methods that are not API calls.
NOT_CALLS = {"get_paginator", "get_waiter", "can_paginate", "close", "generate_presigned_url", "meta", "exceptions"}


@dataclass(frozen=True)
class AwsCall:
    service: str  # boto3 client name
    operation: str  # API operation, e.g. PutItem
    where: str  # path:line
    function: str = ""  # path::Class.method that makes the call

    @property
    def actions(self) -> set[str]:
        action = f"{IAM_PREFIX[self.service]}:{self.operation}"
        if action == "dynamodb:TransactWriteItems":
            return {TRANSACT_ITEM_ACTIONS[kind] for kind in transaction_item_kinds()}
        return ACTIONS_OF.get(action, {action})


@functools.cache
def transaction_item_kinds(paths: tuple[Path, ...] = CODE) -> frozenset[str]:
    """The transaction item kinds the code writes: dict keys ``"Put"``, ``"Update"``, ``"Delete"`` and
    ``"ConditionCheck"`` whose value is a dict literal naming a ``TableName`` (a transaction item), anywhere in it."""
    kinds: set[str] = set()
    for path in paths:
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Dict):
                    continue
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value in TRANSACT_ITEM_ACTIONS
                        and isinstance(value, ast.Dict)
                        and any(isinstance(k, ast.Constant) and k.value == "TableName" for k in value.keys)
                    ):
                        kinds.add(key.value)
    return frozenset(kinds)


def _operation(method: str) -> str:
    return "".join(part.title() for part in method.split("_"))


def _client_service(node: ast.AST) -> str | None:
    """``client("svc")`` (or ``aws.client("svc")``) -> "svc"."""
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        function = node.func
        name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
        if name == "client" and isinstance(node.args[0].value, str):
            return node.args[0].value
    return None


def _target_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def calls_in(path: Path) -> list[AwsCall]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative = path.relative_to(ROOT)
    # Names bound to a client anywhere in the module (locals, attributes, assignment expressions).
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
            service = _client_service(node.value) if node.value is not None else None
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets if service else []:
                if (name := _target_name(target)) is not None:
                    bound[name] = service
    found = []
    enclosing: dict[ast.AST, str] = {}

    def name_scopes(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = (
                f"{scope}.{child.name}".lstrip(".")
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                else scope
            )
            enclosing[child] = inner
            name_scopes(child, inner)

    name_scopes(tree, "")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        function = f"{relative}::{enclosing.get(node, '')}"
        owner, method = node.func.value, node.func.attr
        service = _client_service(owner) or bound.get(_target_name(owner) or "")
        if service is None or method in NOT_CALLS and method != "get_paginator":
            continue
        if method == "get_paginator":
            if node.args and isinstance(node.args[0], ast.Constant):
                found.append(AwsCall(service, _operation(node.args[0].value), f"{relative}:{node.lineno}", function))
            continue
        if re.fullmatch(r"[a-z][a-z0-9_]*", method):
            found.append(AwsCall(service, _operation(method), f"{relative}:{node.lineno}", function))
    return found


def code_calls(paths: Iterable[Path] = CODE) -> list[AwsCall]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return [call for file in files for call in calls_in(file)]


def allowed_actions(policy: dict) -> set[str]:
    allowed: set[str] = set()
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            actions = statement["Action"]
            allowed.update([actions] if isinstance(actions, str) else actions)
    return allowed
