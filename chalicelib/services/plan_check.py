"""Every problem of a response plan in one pass, each with its place and line: what ``plan validate`` prints and
``POST /plans/validate`` answers.

pydantic checks a plan's fields first and its cross-references (a rule's category, a category's team ...) only
once the fields are valid, so fixing one kind used to reveal the other. Here each round sets aside the parts with
field problems (an entry of ``rules`` or ``categories``; a broken top-level field takes the bundled plan's value,
whose own references are then not reported) and checks the rest again, until the rest is valid.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from chalicelib.domain.plan import Protocol, ResponsePlan

BUNDLED = Path(__file__).resolve().parents[1] / "plans" / "default.yaml"
PLACE = re.compile(r"^(?P<place>[A-Za-z0-9_.\[\]-]+)(?: \([^)]*\))?: (?P<problem>.*)$")


class PlanProblem(BaseModel):
    line: int
    place: str
    problem: str


def plan_problems(text: str) -> list[PlanProblem]:
    """Every problem of a plan's YAML (empty: the plan is valid), and for a valid plan, every protocol it runs that
    differs from the deployed state machines (:func:`undeployed_protocols`)."""
    import yaml

    from chalicelib.domain.plan import load_plan_yaml, plan_loader

    found = _problems(text) or undeployed_protocols(load_plan_yaml(text), deployed_plan())
    try:  # read_yaml's loader: what it refuses (an alias, too deep) is a problem with the line where it is
        root = yaml.compose(text, Loader=plan_loader()) if found else None
    except (yaml.YAMLError, RecursionError, ValueError) as error:  # what read_yaml refuses
        mark = getattr(error, "problem_mark", None)
        return [
            PlanProblem(line=(mark.line + 1) if mark else 1, place=place, problem=problem) for place, problem in found
        ]
    return [PlanProblem(line=_node_line(root, place) or 1, place=place, problem=problem) for place, problem in found]


def deployed_plan() -> ResponsePlan:
    """The plan the state machines were compiled from: the bundled one (``make package`` and the local stack
    compile it)."""
    from chalicelib.domain.plan import load_plan_yaml

    return load_plan_yaml(BUNDLED.read_text(encoding="utf-8"))


def _compiled(protocol: Protocol) -> list[dict[str, Any]]:
    """What a protocol's state machine holds: its steps' order, wording, actions, timers and branches, and where the
    reply goes. Not who is asked: the approval handler reads the teams, people and backups from the active plan."""
    shape = [step.model_dump(mode="json", exclude={"team", "people", "backup"}) for step in protocol.steps]
    return [*shape, {"publish": protocol.publish}]


def undeployed_protocols(plan: ResponsePlan, deployed: ResponsePlan) -> list[tuple[str, str]]:
    """A protocol a category runs must be one a state machine was deployed for, with the same steps: a new or
    changed protocol needs a deploy (the state machines are compiled then), or its issues would fail to start."""
    problems = []
    for category_name, category in plan.categories.items():
        name = category.protocol
        if name is None or name not in plan.protocols:
            continue
        if name not in deployed.protocols:
            problems.append(
                (
                    f"categories.{category_name}.protocol",
                    f"protocol {name!r} has no deployed state machine: add it to chalicelib/plans/default.yaml and "
                    "deploy (make deploy), then upload",
                )
            )
        elif _compiled(plan.protocols[name]) != _compiled(deployed.protocols[name]):
            problems.append(
                (
                    f"protocols.{name}",
                    "its steps, timers or publish channels differ from the deployed state machine: put this plan in "
                    "chalicelib/plans/default.yaml and deploy (make deploy), then upload (teams, people and backups "
                    "apply at once without a deploy)",
                )
            )
    return list(dict.fromkeys(problems))


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


def _problems(text: str) -> list[tuple[str, str]]:
    from pydantic import ValidationError

    from chalicelib.domain.plan import PlanError, ResponsePlan, load_plan_yaml, read_yaml

    try:
        document = read_yaml(text)
    except PlanError as error:
        return [("plan", str(error))]
    if not isinstance(document, dict):
        return [("plan", "a plan is a YAML mapping (brand, teams, categories, rules ...)")]
    problems: list[tuple[str, str]] = []
    fallback = load_plan_yaml(BUNDLED.read_text(encoding="utf-8")).model_dump(mode="json")
    substituted: set[str] = set()  # fields that hold the bundled plan's value: their references are not the file's
    for _ in range(5):  # each round sets aside the parts with problems; references are checked on the rest
        try:
            ResponsePlan.model_validate(document)
            break
        except ValidationError as invalid:
            errors = invalid.errors(include_url=False, include_input=False)
        progressed = False
        for found_error in errors:
            loc, message = found_error["loc"], found_error["msg"].removeprefix("Value error, ")
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
    return list(dict.fromkeys(problems))  # each once, in the order found


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
