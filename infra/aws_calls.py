"""The AWS API calls the app's code makes, found by reading it, and the IAM actions they need.

``client("dynamodb").put_item(...)``, ``dynamodb = client("dynamodb"); dynamodb.put_item(...)``,
``self.sfn = client("stepfunctions")``, ``client("dynamodb").get_paginator("scan")``: every call on a client made
by ``chalicelib.adapters.aws.client`` is found, so a new call in an adapter without its permission in
``infra/policy.py`` fails a test instead of an AccessDenied in production. :func:`lambda_calls` says which Lambda
function makes each call (from its handler through the code): ``infra/policy.py`` grants each function its own.
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
    # S3 answers a HEAD of a missing key 403, not 404, to a role without ListBucket on the bucket; the code reads
    # 404 as "not stored" (report_store.exists), so a HEAD needs both.
    "s3:HeadObject": {"s3:GetObject", "s3:ListBucket"},
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


def _client_service(node: ast.AST, returning: dict[str, str] | None = None) -> str | None:
    """``client("svc")`` (or ``aws.client("svc")``) -> "svc"; also either branch of ``a if c else client("svc")``
    and a call of a function of the module that returns a client (``returning``: its name -> "svc")."""
    if isinstance(node, ast.IfExp):
        return _client_service(node.body, returning) or _client_service(node.orelse, returning)
    if isinstance(node, ast.Call):
        function = node.func
        name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
        if name == "client" and node.args and isinstance(node.args[0], ast.Constant):
            return node.args[0].value if isinstance(node.args[0].value, str) else None
        if returning and name in returning and not node.args:
            return returning[name]
    return None


def _returning_clients(tree: ast.AST) -> dict[str, str]:
    """Functions and methods of a module that return a client (``def _client(self): return ... client("svc")``)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Return)
                    and inner.value is not None
                    and (service := _client_service(inner.value))
                ):
                    found[node.name] = service
    return found


def _makes(node: ast.AST, name: str) -> bool:
    """``Name(...)`` or either branch of ``x if c else Name(...)``."""
    if isinstance(node, ast.IfExp):
        return _makes(node.body, name) or _makes(node.orelse, name)
    return isinstance(node, ast.Call) and _target_name(node.func) == name


def _target_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


# Calls made through a helper of ``chalicelib/adapters/aws.py`` are recorded where the helper is used (the table
# read is the caller's): ``batch_get(table, keys)`` and ``CombinedReads``' ``get``/``defer`` are a BatchGetItem there.
BATCH_GET_HELPERS = {"batch_get"}
COMBINED_READS = "CombinedReads"
COMBINED_READS_METHODS = {"get", "defer"}
# The helpers' own call sites: accounted at each caller (above), so not listed as calls of their own.
HELPER_SITES = {"chalicelib/adapters/aws.py::_Call.send"}
# Powertools' SSM parameters utility (``from aws_lambda_powertools.utilities import parameters``).
POWERTOOLS_SSM = {"get_parameter": "GetParameter", "get_parameters": "GetParametersByPath"}


def calls_in(path: Path) -> list[AwsCall]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative = path.relative_to(ROOT)
    returning = _returning_clients(tree)
    # Names bound to a client anywhere in the module (locals, attributes, assignment expressions), and to a
    # CombinedReads.
    bound: dict[str, str] = {}
    combined: set[str] = set()
    powertools = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "aws_lambda_powertools.utilities"
        and any(alias.name == "parameters" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
            service = _client_service(node.value, returning) if node.value is not None else None
            reads = node.value is not None and _makes(node.value, COMBINED_READS)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (name := _target_name(target)) is not None:
                    if service:
                        bound[name] = service
                    if reads:
                        combined.add(name)
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
        if (
            str(relative) != "chalicelib/adapters/aws.py"
            and isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in BATCH_GET_HELPERS
        ):
            found.append(
                AwsCall(
                    "dynamodb", "BatchGetItem", f"{relative}:{node.lineno}", f"{relative}::{enclosing.get(node, '')}"
                )
            )
            continue
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        function = f"{relative}::{enclosing.get(node, '')}"
        owner, method = node.func.value, node.func.attr
        where = f"{relative}:{node.lineno}"
        if function in HELPER_SITES:
            continue
        if (
            str(relative) != "chalicelib/adapters/aws.py"
            and method in COMBINED_READS_METHODS
            and (_makes(owner, COMBINED_READS) or _target_name(owner) in combined)
        ):
            found.append(AwsCall("dynamodb", "BatchGetItem", where, function))
            continue
        if powertools and isinstance(owner, ast.Name) and owner.id == "parameters" and method in POWERTOOLS_SSM:
            found.append(AwsCall("ssm", POWERTOOLS_SSM[method], where, function))
            continue
        service = _client_service(owner, returning) or bound.get(_target_name(owner) or "")
        if service is None or method in NOT_CALLS and method != "get_paginator":
            continue
        if method == "get_paginator":
            if node.args and isinstance(node.args[0], ast.Constant):
                found.append(AwsCall(service, _operation(node.args[0].value), f"{relative}:{node.lineno}", function))
            continue
        if re.fullmatch(r"[a-z][a-z0-9_]*", method):
            found.append(AwsCall(service, _operation(method), f"{relative}:{node.lineno}", function))
    return found


def code_files(paths: Iterable[Path] = CODE) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def code_calls(paths: Iterable[Path] = CODE) -> list[AwsCall]:
    return [call for file in code_files(paths) for call in calls_in(file)]


def allowed_actions(policy: dict) -> set[str]:
    allowed: set[str] = set()
    for statement in policy["Statement"]:
        if statement["Effect"] == "Allow":
            actions = statement["Action"]
            allowed.update([actions] if isinstance(actions, str) else actions)
    return allowed


# -- which Lambda function makes which calls -----------------------------------------------------------------------
# Each Lambda function runs its handler (an event source's function, or every route for ``api_handler``) after
# ``import app``. What it can reach is read from the code, and each call is granted to the functions that reach it:
#
# * a name, resolved through the imports of its module and of the function it is used in, to a function, a class or
#   a module-level variable of ``chalicelib``/``app.py`` is reached (names in annotations are not uses);
# * a reached class's method is reached when its name is used as an attribute (``x.name``) in the reached code
#   (the adapters come from ``chalicelib.bootstrap`` behind the services' ports: dispatch is by method name), or is
#   a dunder; ``self.name`` reaches only the methods of the class's own hierarchy;
# * a module's top level runs on import: what it calls is reached, and the modules it imports (their top level).

Key = str  # "path::Name" (a function, class or variable), "path::Class.method", or "path::" (a module's top level)
_DEF = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCTION = (ast.FunctionDef, ast.AsyncFunctionDef)


def _module_file(dotted: str) -> Path | None:
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file() and (candidate == ROOT / "app.py" or ROOT / "chalicelib" in candidate.parents):
            return candidate
    return None


def _dotted(relative: str) -> str:
    return relative.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _annotations(tree: ast.AST) -> set[int]:
    """ids of every node inside an annotation."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        roots: list[ast.AST | None] = []
        if isinstance(node, _FUNCTION):
            arguments = node.args
            every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
            every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
            roots += [a.annotation for a in every] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
        for root in roots:
            if root is not None:
                inside.update(id(n) for n in ast.walk(root))
    return inside


def _imports_of(nodes: Iterable[ast.AST], package: str) -> dict[str, tuple[str, str | None]]:
    """local name -> (module, name), or (module, None) when the name is a module."""
    found: dict[str, tuple[str, str | None]] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0],
                    None,
                )
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            for alias in node.names:
                inner = None if _module_file(f"{module}.{alias.name}") is not None else alias.name
                found[alias.asname or alias.name] = (
                    (f"{module}.{alias.name}", None) if inner is None else (module, inner)
                )
    return found


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """Module-level statements, those under ``if`` (``TYPE_CHECKING``) and ``try`` included."""
    found: list[ast.stmt] = []
    stack: list[ast.AST] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.If, ast.Try)):
            stack += reversed([*node.body, *node.orelse, *getattr(node, "finalbody", [])])
            for handler in getattr(node, "handlers", []):
                stack += reversed(handler.body)
        elif isinstance(node, ast.stmt):
            found.append(node)
    return found


@dataclass(eq=False)
class _Module:
    dotted: str
    relative: str
    tree: ast.Module
    defs: dict[str, ast.AST]  # top-level functions and classes by name
    variables: dict[str, list[ast.stmt]]  # top-level assignments by the name they bind
    imports: dict[str, tuple[str, str | None]]  # module-level imports
    annotation_nodes: set[int]

    @property
    def package(self) -> str:
        return self.dotted if self.relative.endswith("__init__.py") else self.dotted.rpartition(".")[0]


class _Graph:
    def __init__(self) -> None:
        self.modules: dict[str, _Module | None] = {}

    def module(self, dotted: str) -> _Module | None:
        if dotted not in self.modules:
            path = _module_file(dotted)
            if path is None:
                self.modules[dotted] = None
                return None
            tree = ast.parse(path.read_text(encoding="utf-8"))
            statements = _top_level(tree)
            defs = {n.name: n for n in statements if isinstance(n, _DEF)}
            variables: dict[str, list[ast.stmt]] = {}
            for node in statements:
                targets = (
                    node.targets
                    if isinstance(node, ast.Assign)
                    else [node.target]
                    if isinstance(node, ast.AnnAssign)
                    else []
                )
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name) and name.id not in defs:
                            variables.setdefault(name.id, []).append(node)
            module = _Module(dotted, str(path.relative_to(ROOT)), tree, defs, variables, {}, _annotations(tree))
            imports = (n for n in statements if isinstance(n, (ast.Import, ast.ImportFrom)))
            module.imports = _imports_of(imports, module.package)
            self.modules[dotted] = module
        return self.modules[dotted]

    def resolve(self, dotted: str, name: str | None, seen: frozenset[str] = frozenset()) -> Key | None:
        """The key of ``name`` in module ``dotted`` (a re-export followed), or the module's top level."""
        module = self.module(dotted)
        if module is None:
            return None
        if name is None:
            return f"{module.relative}::"
        if name in module.defs or name in module.variables:
            return f"{module.relative}::{name}"
        if name in module.imports and dotted not in seen:
            target, inner = module.imports[name]
            return self.resolve(target, inner, seen | {dotted})
        return f"{module.relative}::"

    def _class(self, key: Key) -> ast.ClassDef | None:
        relative, _, name = key.partition("::")
        module = self.module(_dotted(relative))
        node = module.defs.get(name) if module is not None else None
        return node if isinstance(node, ast.ClassDef) else None

    def methods(self, key: Key) -> dict[str, Key]:
        node = self._class(key)
        return {n.name: f"{key}.{n.name}" for n in node.body if isinstance(n, _FUNCTION)} if node else {}

    def bases(self, key: Key) -> set[Key]:
        node = self._class(key)
        if node is None:
            return set()
        module = self.module(_dotted(key.partition("::")[0]))
        assert module is not None
        found = set()
        for base in node.bases:
            if isinstance(base, ast.Name):
                if base.id in module.defs:
                    found.add(f"{module.relative}::{base.id}")
                elif base.id in module.imports:
                    target, name = module.imports[base.id]
                    if (k := self.resolve(target, name)) is not None:
                        found.add(k)
        return {k for k in found if self._class(k) is not None}

    def uses(self, key: Key) -> tuple[set[Key], set[str], set[str]]:
        """What the code of ``key`` refers to: keys, attribute names used (``x.name``), and names used on ``self``."""
        relative, _, qualified = key.partition("::")
        module = self.module(_dotted(relative))
        assert module is not None, key
        head, _, method = qualified.partition(".")
        calls_only = False
        refs: set[Key] = set()
        if not qualified:  # the top level: what it calls, and the modules it imports
            nodes: list[ast.AST] = [n for n in _top_level(module.tree) if not isinstance(n, _DEF)]
            calls_only = True
            for target, _ in module.imports.values():
                if (k := self.resolve(target, None)) is not None:
                    refs.add(k)
        elif head in module.variables and not method:
            nodes = list(module.variables[head])
        elif method:
            node = module.defs[head]
            assert isinstance(node, ast.ClassDef)
            nodes = [next(n for n in node.body if isinstance(n, _FUNCTION) and n.name == method)]
        elif isinstance(module.defs[head], ast.ClassDef):  # the class without its methods' bodies
            node = module.defs[head]
            assert isinstance(node, ast.ClassDef)
            nodes = [n for n in node.body if not isinstance(n, _FUNCTION)]
            nodes += [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]
            nodes += [d for n in node.body if isinstance(n, _FUNCTION) for d in n.decorator_list]
        else:
            nodes = [module.defs[head]]
        local = dict(module.imports)
        for node in nodes:
            local.update(
                _imports_of((n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))), module.package)
            )
        if calls_only:
            executed: set[int] = set()
            for node in nodes:
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Call):
                        executed.update(id(n) for n in ast.walk(inner.func))
        attributes: set[str] = set()
        on_self: set[str] = set()
        parents: dict[int, ast.AST] = {}
        for node in nodes:
            for inner in ast.walk(node):
                for child in ast.iter_child_nodes(inner):
                    parents[id(child)] = inner
        clients = self.client_names(module)
        for node in nodes:
            for inner in ast.walk(node):
                if id(inner) in module.annotation_nodes or (calls_only and id(inner) not in executed):
                    continue
                if isinstance(inner, ast.Name) and isinstance(inner.ctx, ast.Load):
                    if inner.id in module.defs or inner.id in module.variables:
                        refs.add(f"{module.relative}::{inner.id}")
                    elif inner.id in local:
                        target, name = local[inner.id]
                        if (k := self.resolve(target, name)) is not None:
                            refs.add(k)
                elif isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Load):
                    owner = inner.value
                    parent = parents.get(id(inner))
                    if _client_service(owner, clients[1]) or _target_name(owner) in clients[0]:
                        pass  # an AWS call (``dynamodb.query``): recorded by calls_in, not a method of the code
                    else:
                        mine = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
                        (on_self if mine else attributes).add(self._use(inner, parent, parents, mine, local, module))
                    if (
                        isinstance(owner, ast.Name)
                        and owner.id in local
                        and local[owner.id][1] is None
                        and (k := self.resolve(local[owner.id][0], inner.attr)) is not None
                    ):
                        refs.add(k)
        return refs, attributes, on_self

    def _use(
        self,
        node: ast.Attribute,
        parent: ast.AST | None,
        parents: dict[int, ast.AST],
        mine: bool,
        local: dict[str, tuple[str, str | None]],
        module: _Module,
    ) -> str:
        """How ``x.name`` is used: ``name`` (called, or a method handed on), ``name@`` (read: a property runs, a
        method does not), ``name>Key`` (``self.name`` handed to the constructor of class ``Key``: it runs once that
        class's methods do)."""
        if isinstance(parent, ast.Call) and parent.func is node:
            return node.attr
        if not _escapes(node, parent):
            return f"{node.attr}@"
        if not mine:  # another object's: a method, unless the name is one of the code's data attributes
            return f"{node.attr}@" if node.attr in _data_names() else node.attr
        call = parents.get(id(parent)) if isinstance(parent, ast.keyword) else parent
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
            name = call.func.id
            target = (
                f"{module.relative}::{name}"
                if name in module.defs
                else self.resolve(*local[name])
                if name in local
                else None
            )
            if target is not None and self._class(target) is not None:
                return f"{node.attr}>{target}"
        return node.attr

    @functools.cache  # noqa: B019 (one graph per call of lambda_calls)
    def client_names(self, module: _Module) -> tuple[frozenset[str], dict[str, str]]:
        """Names bound to a boto3 client in ``module``, and its functions that return one."""
        returning = _returning_clients(module.tree)
        bound = set()
        for node in ast.walk(module.tree):
            if (
                isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr))
                and node.value is not None
                and _client_service(node.value, returning)
            ):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                bound.update(n for t in targets if (n := _target_name(t)) is not None)
        return frozenset(bound), returning

    def properties(self, key: Key) -> set[str]:
        node = self._class(key)
        return {
            n.name
            for n in (node.body if node else [])
            if isinstance(n, _FUNCTION)
            and any(_target_name(d) in ("property", "cached_property") for d in n.decorator_list)
        }

    def reach(self, roots: Iterable[Key], why: dict[Key, str] | None = None, blocked: Iterable[Key] = ()) -> set[Key]:
        """Every key reachable from ``roots`` (not through ``blocked``); ``why`` (if given) gets, for each, what it
        was reached from."""
        why = {} if why is None else why
        blocked = set(blocked)
        reached: set[Key] = set()
        attributes: set[str] = set()
        on_self: dict[Key, set[str]] = {}  # class -> names used on self in its methods
        classes: set[Key] = set()
        pending = list(roots)
        while True:
            while pending:
                key = pending.pop()
                if key in reached or key in blocked:
                    continue
                reached.add(key)
                refs, names, own = self.uses(key)
                attributes |= names
                relative, _, qualified = key.partition("::")
                if "." in qualified:
                    on_self.setdefault(key.rpartition(".")[0], set()).update(own)
                if self.methods(key):
                    classes.add(key)
                    refs |= self.bases(key)
                for ref in [*refs, f"{relative}::"]:  # reaching a definition ran its module's top level
                    if ref not in reached:
                        why.setdefault(ref, key)
                        pending.append(ref)
            family = {c: self._family(c, classes) for c in classes}
            working = {c for c in classes if any(m in reached and not _dunder(n) for n, m in self.methods(c).items())}
            more = []
            for cls in classes:
                used_on_self = set().union(*(on_self.get(c, set()) for c in family[cls]))
                properties = self.properties(cls)
                for name, method in self.methods(cls).items():
                    if method in reached or method in blocked:
                        continue
                    used = {name, f"{name}@"} if name in properties else {name}
                    used |= {f"{name}>{c}" for c in working}
                    if used & attributes or used & used_on_self or _dunder(name):
                        why.setdefault(method, f"{cls}: .{name} is used")
                        more.append(method)
            if not more:
                return reached
            pending += more

    def _family(self, cls: Key, classes: set[Key]) -> set[Key]:
        """``cls``, its bases and the reached classes derived from it."""
        return set(self._family_up(cls)) | {c for c in classes if cls in self._family_up(c)}

    @functools.cache  # noqa: B019 (one graph per call of lambda_calls)
    def _family_up(self, cls: Key) -> frozenset[Key]:
        """``cls`` and its bases, theirs, and so on."""
        found: set[Key] = set()
        stack = [cls]
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack += self.bases(current)
        return frozenset(found)


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


@functools.cache
def _data_names() -> frozenset[str]:
    """Attribute names the code's classes hold data under: class-level fields and ``self.name = ...``."""
    names: set[str] = set()
    for file in code_files():
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        names.add(item.target.id)
                    elif isinstance(item, ast.Assign):
                        names.update(t.id for t in item.targets if isinstance(t, ast.Name))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                    ):
                        names.add(target.attr)
    return frozenset(names)


def _escapes(node: ast.AST, parent: ast.AST | None) -> bool:
    """``node`` (``x.name``) is handed on as a value (a bound method may run later): an argument, an assigned,
    returned or yielded value, an element of a container, a lambda's body."""
    if isinstance(parent, ast.Call):
        return node in parent.args
    if isinstance(parent, ast.keyword | ast.Return | ast.Yield | ast.Lambda | ast.Starred):
        return True
    if isinstance(parent, ast.Assign | ast.AnnAssign | ast.NamedExpr):
        return parent.value is node
    if isinstance(parent, ast.IfExp | ast.BoolOp):
        return True  # ``a or b.method``: the value may be handed on
    return isinstance(parent, ast.List | ast.Tuple | ast.Set | ast.Dict)


def _method_key(function: str) -> Key:
    """A call's ``function`` (``path::Class.method.inner``) -> the key of the definition that holds it."""
    relative, _, qualified = function.partition("::")
    return f"{relative}::{'.'.join(qualified.split('.')[:2])}" if qualified else f"{relative}::"


def lambda_roots() -> dict[str, list[Key]]:
    """Each Lambda function of the app (Chalice's name) -> the code it starts from: its handler (every route for
    ``api_handler``) and ``app.py``'s top level (every function imports the app)."""
    import inspect

    import app as application

    def key(dotted: str) -> Key:
        module, _, name = dotted.rpartition(".")
        path = _module_file(module)
        if path is None:
            raise ValueError(f"{dotted}: not in chalicelib/ or app.py")
        return f"{path.relative_to(ROOT)}::{name}"

    def view(function: object) -> str:
        function = inspect.unwrap(function)  # type: ignore[arg-type]
        return f"{function.__module__}.{function.__qualname__}"  # type: ignore[attr-defined]

    chalice = application.app
    roots: dict[str, list[Key]] = {}
    for source in chalice.event_sources:
        roots[source.name] = ["app.py::", key(source.handler_string)]
    for function in chalice.pure_lambda_functions:
        roots[function.name] = ["app.py::", key(function.handler_string)]
    if chalice.routes:
        views = {key(view(entry.view_function)) for methods in chalice.routes.values() for entry in methods.values()}
        roots["api_handler"] = ["app.py::", *sorted(views)]
    return roots


# Methods a function reaches only by their name, never running them: each with why (a test checks each is still
# reached without the block). Blocked, what only they lead to is not granted.
_TOKEN = "chalicelib/adapters/publishers/http.py::AccessToken"
NOT_REACHED: dict[str, dict[Key, str]] = {
    "api_handler": {
        f"{_TOKEN}.{method}": "the API publishes no reply and reads no platform (no OAuth token: publish_replies "
        "and the survey sender do); reached by the name .get of every dict, and so the X publisher's token "
        "refresh, which writes the rotated token to SSM"
        for method in ("get", "renew")
    },
    "process_mentions": {
        f"{_TOKEN}.{method}": "the Instagram mention reader reads with the page token from SSM, no OAuth token; "
        "reached by the name .get of every dict"
        for method in ("get", "renew")
    },
}


@functools.cache
def lambda_calls() -> dict[str, tuple[AwsCall, ...]]:
    """Each Lambda function of the app (Chalice's name) -> the AWS calls its code can make."""
    graph = _Graph()
    calls = code_calls()
    return {
        function: tuple(call for call in calls if _method_key(call.function) in reached)
        for function, roots in lambda_roots().items()
        for reached in [graph.reach(roots, blocked=NOT_REACHED.get(function, {}))]
    }


def reached(function: str, blocked: Iterable[Key] | None = None) -> set[Key]:
    """What Lambda function ``function`` reaches (past :data:`NOT_REACHED`'s blocks when ``blocked`` is ``()``)."""
    block = NOT_REACHED.get(function, {}) if blocked is None else blocked
    return _Graph().reach(lambda_roots()[function], blocked=block)


def explain(function: str, key: Key) -> list[str]:
    """How Lambda function ``function`` reaches ``key`` (a call's definition), from ``key`` back to a root."""
    why: dict[Key, str] = {}
    _Graph().reach(lambda_roots()[function], why, blocked=NOT_REACHED.get(function, {}))
    chain = [key]
    while chain[-1] in why and len(chain) < 50:
        chain.append(why[chain[-1]].split(": .")[0])
    return chain
