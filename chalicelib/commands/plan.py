"""``social-response plan``: check, upload and list response plan versions.

  plan validate FILE            every problem in one pass, each as FILE:LINE: place: problem; exit 1 if any. Offline.
  plan upload FILE --by EMAIL   validate, store as the next version, make it active, retire the previous one
  plan list [--json]            the versions and their status

A field's problems and the plan's cross-references (a rule's unknown category ...) are reported together: the
parts with field problems are set aside and the rest is checked again, so fixing one kind never reveals the other.
"""

from __future__ import annotations

import argparse
import re
from datetime import date
from typing import Any, TextIO

from chalicelib.cli import CliError
from chalicelib.commands.common import aws_options, emit, json_option, table, use_stage

PLACE = re.compile(r"^(?P<place>[A-Za-z0-9_.\[\]-]+)(?: \([^)]*\))?: (?P<problem>.*)$")


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=type(parser))
    validate = actions.add_parser("validate", help="list every problem of a plan file, offline",
                                  description="Every problem of a plan file, with its line. Offline.")
    validate.add_argument("file")
    upload = actions.add_parser("upload", help="validate, store and activate a plan file",
                                description="Validate, store as the next version, activate.")
    upload.add_argument("file")
    upload.add_argument("--by", required=True, help="who uploads (kept with the version)")
    listing = actions.add_parser("list", help="the stored versions and their status", description="Plan versions.")
    json_option(listing)
    for sub in (upload, listing):
        aws_options(sub)
    for sub in (validate, upload, listing):
        sub.set_defaults(run=run)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{path}: cannot read: {error}") from None


def _node_line(root: Any, place: str) -> int | None:
    """The line of the YAML node at ``place`` (``rules[3].category``), or of the deepest node on the way."""
    import yaml

    node, line = root, getattr(getattr(root, "start_mark", None), "line", None)
    for part in re.findall(r"[^.\[\]]+", place.removeprefix("plan.").removeprefix("plan")):
        if isinstance(node, yaml.MappingNode):
            found = next((value for key, value in node.value if str(key.value) == part), None)
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            found = node.value[int(part)]
        else:
            found = None
        if found is None:
            break
        node, line = found, found.start_mark.line
    return None if line is None else line + 1


def plan_problems(text: str) -> list[tuple[str, str]]:
    """Every problem of a plan, as (place, problem): field problems and cross-references, in one pass."""
    import yaml
    from pydantic import ValidationError

    from chalicelib.adapters.plans import bundled_plan
    from chalicelib.domain.plan import ResponsePlan

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return [("plan", f"not valid YAML: {' '.join(str(error).split())}")]
    if not isinstance(document, dict):
        return [("plan", "a plan is a YAML mapping (brand, teams, categories, rules ...)")]
    problems: list[tuple[str, str]] = []
    fallback = bundled_plan().model_dump(mode="json")
    substituted: set[str] = set()  # fields that hold the bundled plan's value: their references are not the file's
    for _ in range(5):  # each round sets aside the parts with problems; references are checked on the rest
        try:
            ResponsePlan.model_validate(document)
            break
        except ValidationError as invalid:
            errors = invalid.errors(include_url=False, include_input=False)
        progressed = False
        for error in errors:
            loc, message = error["loc"], error["msg"].removeprefix("Value error, ")
            if not loc:  # the plan's own check: "; "-joined problems that each start with their place
                for part in message.split("; "):
                    found = PLACE.match(part)
                    place, problem = (found["place"], found["problem"]) if found else ("plan", part)
                    if re.split(r"[.\[]", place)[0] not in substituted:
                        problems.append((place, problem))
                continue
            place = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
            problems.append((place, message))
            progressed |= _set_aside(document, loc, fallback)
            if loc[0] in fallback and document.get(loc[0]) == fallback[loc[0]]:
                substituted.add(str(loc[0]))
        for field, value in document.items():
            if isinstance(value, list):
                document[field] = [entry for entry in value if entry is not None]
        if not progressed:
            break
    seen: set[tuple[str, str]] = set()
    return [p for p in problems if not (p in seen or seen.add(p))]


def _set_aside(document: dict[str, Any], loc: tuple, fallback: dict[str, Any]) -> bool:
    """Drop the entry holding a problem (a rule, a category ...); a broken top-level field gets the bundled
    plan's value, only so the rest can be checked."""
    if len(loc) == 1 or not isinstance(document.get(loc[0]), (dict, list)):
        if document.get(loc[0]) == fallback.get(loc[0]):
            return False
        if loc[0] in fallback:
            document[loc[0]] = fallback[loc[0]]
        else:
            document.pop(loc[0], None)
        return True
    container, key = document[loc[0]], loc[1]
    if isinstance(container, dict) and key in container:
        del container[key]
        return True
    if isinstance(container, list) and isinstance(key, int) and key < len(container) and container[key] is not None:
        container[key] = None  # keeps the other entries' indexes this round; dropped after it
        return True
    return False


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    if args.action == "list":
        use_stage(args)
        from chalicelib.api.dependencies import plan_store

        versions = sorted(plan_store().versions(), key=lambda v: v["version"])
        if args.json:
            emit(stdout, versions)
        else:
            table(stdout, versions, [k for k in ("version", "status", "uploaded_by", "uploaded_at")
                                     if any(k in v for v in versions)] or ["version"])
        return 0
    text = _read(args.file)
    problems = plan_problems(text)
    if problems:
        import yaml

        try:
            root = yaml.compose(text)
        except yaml.YAMLError:
            root = None
        for place, problem in problems:
            line = _node_line(root, place) if root is not None else None
            stdout.write(f"{args.file}:{line or 1}: {place}: {problem}\n")
        stdout.write(f"invalid plan: {len(problems)} problem(s)\n")
        return 1
    from chalicelib.domain.plan import load_plan_yaml

    plan = load_plan_yaml(text)
    if plan.review.overdue(date.today()):
        stdout.write(f"warning: the plan's review is overdue (last reviewed {plan.review.reviewed_on})\n")
    if args.action == "validate":
        stdout.write(f"valid: {plan.brand}, {len(plan.categories)} categories, {len(plan.rules)} rules, "
                     f"{len(plan.protocols)} protocols\n")
        return 0
    use_stage(args)
    from chalicelib.api.dependencies import plan_store

    version = plan_store().upload(text, args.by)
    stdout.write(f"uploaded version {version}; it is now active\n")
    return 0


def main(stdin: TextIO, stdout: TextIO, argv: list[str]) -> int:
    from chalicelib.cli import main as cli

    return cli(["plan", *argv], stdin, stdout)

