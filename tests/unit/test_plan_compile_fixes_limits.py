"""Review D1, D10: a plan that validates compiles to state machines Step Functions accepts.

Before: a 60-character step name with ``on_timeout: [escalate, remind, remind]`` gave an 81-character state name,
a protocol name of 51+ characters an 81+-character state machine name on prod, and a step whose only outcome is
``rejected`` left Publish and ResolveIssue unreachable; all validated, AWS refused them at deploy. Now plan
validation bounds the names and the timeout list and asks every step for an outcome that moves on, and the
compiler checks each definition it makes against the same limits (``definition_problems``): the tests below
compile plans at the bounds, so the rule and the compiler cannot drift apart.
"""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.adapters.state_machines import (
    STATE_MACHINE_NAME_MAX,
    STATE_NAME_MAX,
    ProtocolResources,
    UndeployableProtocol,
    compile_protocol,
    definition_problems,
)
from chalicelib.domain.plan import (
    ON_TIMEOUT_MAX,
    PROTOCOL_NAME_MAX,
    STEP_NAME_MAX,
    PlanError,
    ResponsePlan,
    parse_plan,
)
from chalicelib.settings import Resources

DOCUMENT = yaml.safe_load((Path(__file__).resolve().parents[2] / "chalicelib" / "plans" / "default.yaml").read_text())
RESOURCES = ProtocolResources("q1", "q2", "arn:aws:sns:us-east-1:123456789012:t", "issues", "audit")
# The longest stage name the bounds leave room for (social-response-<stage>-protocol-<protocol>).
STAGE_NAME_MAX = STATE_MACHINE_NAME_MAX - len(Resources.for_stage("").state_machine("")) - PROTOCOL_NAME_MAX


def _step(**fields: Any) -> dict[str, Any]:
    return {
        "name": "a",
        "role": "r",
        "action": "respond",
        "team": "customer_service",
        "sla_minutes": 5,
        "outcomes": ["submitted"],
        **fields,
    }


def _document(name: str, *steps: dict[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    document["protocols"][name] = {"label": "x", "steps": list(steps)}
    return document


def _refused(document: dict[str, Any]) -> str:
    with pytest.raises(PlanError) as refused:
        parse_plan(document)
    return str(refused.value)


def _assert_deployable(plan: ResponsePlan, protocol: str) -> dict[str, Any]:
    definition = compile_protocol(plan, protocol, RESOURCES)  # raises UndeployableProtocol otherwise
    assert all(len(state) <= STATE_NAME_MAX for state in definition["States"])
    for stage in ("prod", "s" * STAGE_NAME_MAX):
        assert len(Resources.for_stage(stage).state_machine(protocol)) <= STATE_MACHINE_NAME_MAX
    return definition


# -- refused, with a message naming the place -----------------------------------------------------------------
def test_a_step_name_whose_states_pass_80_characters_is_refused() -> None:
    step = "s" * 60
    message = _refused(_document("custom", _step(name=step, on_timeout=["escalate", "remind", "remind"])))
    assert f"protocols.custom.{step}: a step's name is at most {STEP_NAME_MAX} characters, not 60" in message


def test_a_protocol_name_whose_state_machine_passes_80_characters_is_refused() -> None:
    protocol = "p" * 51
    message = _refused(_document(protocol, _step()))
    assert f"protocols.{protocol}: a protocol's name is at most {PROTOCOL_NAME_MAX} characters, not 51" in message
    assert "social-response-<stage>-protocol-<name>" in message


def test_a_longer_timeout_list_than_the_names_leave_room_for_is_refused() -> None:
    message = _refused(_document("custom", _step(on_timeout=["remind"] * (ON_TIMEOUT_MAX + 1))))
    assert f"protocols.custom.a: on_timeout lists at most {ON_TIMEOUT_MAX} actions" in message


def test_a_protocol_whose_steps_cannot_reach_publish_is_refused() -> None:
    document = _document(
        "custom", _step(action="draft"), _step(name="b", action="approve", outcomes=["rejected"], on_reject="a")
    )
    message = _refused(document)
    assert "protocols.custom.b: no outcome moves on (submitted, approved or edited)" in message
    assert "the reply is never published" in message


def test_a_stored_version_is_read_as_it_is_and_the_compiler_still_refuses_it() -> None:
    document = _document(
        "custom", _step(action="draft"), _step(name="b", action="approve", outcomes=["rejected"], on_reject="a")
    )
    plan = parse_plan(document, stored=True)  # triage keeps reading an older active version
    with pytest.raises(UndeployableProtocol, match="protocols.custom: no run reaches Publish"):
        compile_protocol(plan, "custom", RESOURCES)


def test_the_compilers_check_finds_long_and_unreachable_states() -> None:
    definition = compile_protocol(parse_plan(DOCUMENT), "routine", RESOURCES)
    assert definition_problems("routine", definition) == []
    definition["States"]["x" * 81] = {"Type": "Succeed"}
    assert definition_problems("routine", definition) == [
        f"protocols.routine.{'x' * 81}: the state '{'x' * 81}' has 81 characters, Step Functions allows 80",
        f"protocols.routine: no run reaches the states {'x' * 81}",
    ]


# -- accepted at the bounds: every compiled name fits ------------------------------------------------------------
@pytest.mark.parametrize(
    "on_timeout",
    [
        ["escalate"] + ["remind"] * (ON_TIMEOUT_MAX - 2) + ["alert"],  # the most escalated reminders
        ["remind"] * (ON_TIMEOUT_MAX - 1) + ["alert"],
        ["alert"] * ON_TIMEOUT_MAX,
        ["escalate", "alert"] * (ON_TIMEOUT_MAX // 2),
    ],
)
def test_names_at_the_bounds_compile_to_names_step_functions_accepts(on_timeout: list[str]) -> None:
    protocol, step = "p" * PROTOCOL_NAME_MAX, "s" * STEP_NAME_MAX
    plan = parse_plan(_document(protocol, _step(name=step, on_timeout=on_timeout)))
    _assert_deployable(plan, protocol)


def test_every_plan_that_validates_compiles_to_valid_asl() -> None:
    """The review's fuzz (D10): every timeout list up to three actions, outcome set and action of a second step;
    each plan is either refused by validation or compiles to a definition statelint finds nothing in."""
    linter = pytest.importorskip("statelint.linter", reason="statelint is not installed")
    combos = [list(c) for n in range(4) for c in itertools.product(["remind", "escalate", "alert"], repeat=n)]
    outcome_sets = [["submitted"], ["approved", "rejected"], ["approved", "edited", "rejected"], ["rejected"]]
    compiled = refused = 0
    for on_timeout, outcomes, action in itertools.product(combos, outcome_sets, ["draft", "approve", "respond"]):
        second = _step(name="b", action=action, on_timeout=on_timeout, outcomes=outcomes)
        if "rejected" in outcomes:
            second["on_reject"] = "a"
        try:
            plan = parse_plan(_document("p", _step(action="draft"), second))
        except PlanError:
            refused += 1
            continue
        definition = _assert_deployable(plan, "p")
        assert linter.Linter.validate(json.loads(json.dumps(definition))) == [], (on_timeout, outcomes, action)
        compiled += 1
    assert refused == len(combos) * 3  # exactly the rejected-only steps
    assert compiled == len(combos) * 3 * 3


def test_the_bundled_plan_compiles() -> None:
    plan = parse_plan(DOCUMENT)
    for protocol in plan.protocols:
        _assert_deployable(plan, protocol)
