"""Compile a plan's approval protocol into an AWS Step Functions state machine (Amazon States Language).

Step Functions specific, so it sits with the Step Functions adapter (``workflows.py``), yet pure: takes the plan,
the protocol's name and the names of the resources the machine talks to, returns the definition as a dict. No
boto3, no I/O. Every message body a state sends is checked against its model in ``domain/protocol_messages.py``
(the one the services parse it with), so the two sides cannot drift apart. JSONPath only (no JSONata), no Lambda
tasks, no nested executions: only the optimised SQS, SNS and DynamoDB integrations.

Execution input: ``{"issue_id": str, "category": str, "protocol": str, "plan_version": int}``.

Shape, for each step in order (``S`` is the step's name)::

    Start, Start.channels, Start.draft
                      (Pass: $.last = an empty result, $.channels = the protocol's ``publish`` list, $.draft = "")
    S                 sqs:sendMessage.waitForTaskToken -> approval queue, attempt "initial", TimeoutSeconds = SLA
      Catch States.Timeout -> the step's on_timeout chain (below)
    S.outcome         Choice: callback output lacks outcome/comment/draft -> S.unexpected_outcome (Fail)
                              draft == "" -> S.route (S.channels); otherwise -> S.keep_draft
    S.keep_draft      Pass: $.draft = $.last.draft (the newest text travels; an empty draft keeps the old one)
    S.channels        (draft and respond steps only: they choose where the reply goes)
                      Choice: $.last.channels[0] is present -> S.keep_channels; otherwise -> S.route
    S.keep_channels   Pass: $.channels = $.last.channels (an empty or missing list keeps the previous choice)
    S.route           Choice: submitted/approved/edited (those the step declares) -> next step (or Publish)
                              rejected (when declared) -> the on_reject step; anything else -> S.unexpected_outcome
    Publish           sqs:sendMessage.waitForTaskToken -> publish queue ($.channels, approved draft)
    ResolveIssue.shard
                      Pass: $.index_shard.digest = States.Hash($.issue_id, 'SHA-256')
    ResolveIssue.shard_choice
                      Choice on the digest's last hex digit (StringMatches "*<digit>") -> ResolveIssue.shard_<s>
    ResolveIssue.shard_<s>
                      Pass: $.index_shard.suffix = "" (shard 0) or "#<s>": the issue's write shard of the
                      by_status_category index, as :func:`chalicelib.domain.index_shards.index_shard` names it
    ResolveIssue      dynamodb:updateItem issues table: status = resolved, resolved_at = $$.State.EnteredTime,
                      status_category = "resolved#<category><suffix>" (the by_status_category index follows)
    AuditResolved     dynamodb:putItem audit table: sk = "<EnteredTime>#resolved", type resolved
    Resolved          Succeed

The on_timeout chain, read left to right; every waiting attempt catches States.Timeout (which heartbeat
timeouts report too) and falls through to the next action:

* ``remind``   -> ``S.reminder`` (``S.escalated_reminder`` once escalated): the current people again,
  ``"attempt": "reminder"``, same TimeoutSeconds.
* ``escalate`` -> ``S.escalated``: the step's ``backup`` people (its own people when it has none),
  ``"attempt": "escalated"``; later reminders go to the backup too.
* ``alert``    -> ``S.alert_stuck``: SNS ``kind=approval_stuck``, then straight on to the next action. An alert
  that ends the list "keeps waiting" (see :class:`~chalicelib.domain.plan.TimeoutAction`): one more reminder
  to the current people (``S.reminder`` / ``S.escalated_reminder``).
* when the last waiting attempt times out: ``S.alert_timed_out`` (``kind=approval_timed_out``) -> ``TimedOut``.

Alerts never stop the protocol: a publish that still fails after its retries is caught and the chain goes on.
``Publish`` waits ``PUBLISH_TIMEOUT_MINUTES`` (scaled) for the publisher, then ``Publish.alert_timed_out``
(``kind=publish_timed_out``) -> ``TimedOut``; a publisher that could publish no channel fails the task with
``Publish.Refused`` -> ``NotPublished`` (it audited and alerted why). Service tasks retry ``States.TaskFailed``
(which never matches ``States.Timeout``); the waiting tasks retry only SQS send errors, so a ``send_task_failure``
is not re-mailed.

Timeouts: ``sla_minutes * time_scale`` seconds (``time_scale`` = seconds per plan minute, 60 in production),
at least 1. The callback (``send_task_success``) output is ``{"outcome", "actor", "comment", "draft"}`` plus an
optional ``"channels"`` (``public_reply`` / ``private_reply``; callbacks without it still work) and lands in
``$.last``; ``$.draft`` is the current text and ``$.channels`` where it will be published; timeouts land in
``$.timeout``, so ``issue_id`` and friends stay in the state throughout. An unexpected outcome fails the execution
(``Protocol.UnexpectedOutcome``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from chalicelib.domain.alerts import SUBJECT_MAX
from chalicelib.domain.index_shards import SHARD_DIGITS, STATUS_CATEGORY_SHARDS, shard_suffix
from chalicelib.domain.plan import (
    PROCEEDING_OUTCOMES,
    Outcome,
    ProtocolStep,
    ResponsePlan,
    StepAction,
    TimeoutAction,
)
from chalicelib.domain.protocol_messages import (
    ESCALATED,
    ESCALATED_REMINDER,
    PUBLISH_REFUSED_ERROR,
    SYSTEM_PROTOCOL,
    PublishRequest,
    StepCallback,
    StepRequest,
)

SQS_WAIT = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
DDB_UPDATE = "arn:aws:states:::dynamodb:updateItem"
DDB_PUT = "arn:aws:states:::dynamodb:putItem"

# How long the publisher has to call back once a reply is approved, in plan minutes.
PUBLISH_TIMEOUT_MINUTES = 60
# Step Functions' ceiling for TimeoutSeconds.
MAX_TIMEOUT_SECONDS = 99_999_999

PROCEED = PROCEEDING_OUTCOMES
# The steps whose people choose the channels the reply goes out on (the others cannot change them).
CHOOSES_CHANNELS = (StepAction.DRAFT, StepAction.RESPOND)
ALERT_SEVERITY = {"approval_stuck": "high", "approval_timed_out": "critical", "publish_timed_out": "critical"}

# Fixed state names; upper-case, so they can never clash with a step (identifiers are lower-case).
START, PUBLISH, RESOLVE, AUDIT, RESOLVED, TIMED_OUT, NOT_PUBLISHED = (
    "Start",
    "Publish",
    "ResolveIssue",
    "AuditResolved",
    "Resolved",
    "TimedOut",
    "NotPublished",
)

# Retry transient failures of the service calls; never States.Timeout (TaskFailed does not match it).
_RETRY_SERVICE = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}]
# A callback task is retried only when *sending* failed: a TaskFailed wildcard would also match a
# send_task_failure from the person's side and mail them again.
_RETRY_SEND = [
    {
        "ErrorEquals": ["SQS.AmazonSQSException", "SQS.SdkClientException"],
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    }
]


@dataclass(frozen=True)
class ProtocolResources:
    """What the machine talks to, passed in so the compiler stays pure."""

    approval_queue_url: str
    publish_queue_url: str
    alerts_topic_arn: str
    issues_table: str
    audit_table: str


def _cut(name: str, room: int) -> str:
    return name if len(name) <= room else name[: max(room - 3, 1)] + "..."


def alert_subject(kind: str, protocol: str, step: str) -> str:
    """The SNS ``Subject`` of a protocol's alert, chosen when the plan is compiled: ``"<kind>: <protocol>.<step>"``
    in printable ASCII on one line, at most ``SUBJECT_MAX`` (100) characters, as SNS requires (it refuses a longer
    one, and an alert the run cannot send is lost). Long names are cut, each keeping at least half the room; the
    message and its attributes carry them whole."""
    head = f"{kind.replace('_', ' ')}: "
    protocol, step = (re.sub(r"[^\x20-\x7e]+", " ", name).strip() or "-" for name in (protocol, step))
    room = SUBJECT_MAX - len(head) - 1  # the dot between the names
    if len(protocol) + len(step) > room:
        protocol_room = max(room // 2, room - len(step))
        protocol = _cut(protocol, protocol_room)
        step = _cut(step, room - len(protocol))
    return f"{head}{protocol}.{step}"[:SUBJECT_MAX]


def message_body(model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    """``body`` (keys ending ``.$`` take a JSONPath), after checking that it is a ``model`` message: every key
    one of its fields, every required field there."""
    names = {key.removesuffix(".$") for key in body}
    unknown = sorted(names - set(model.model_fields))
    missing = sorted(name for name, spec in model.model_fields.items() if spec.is_required() and name not in names)
    if unknown or missing:
        raise ValueError(f"{model.__name__} message: unknown fields {unknown}, missing fields {missing}")
    return body


def timeout_seconds(minutes: float, time_scale: float) -> int:
    return min(MAX_TIMEOUT_SECONDS, max(1, math.ceil(round(minutes * time_scale, 6))))


def index_shard_states(prefix: str, next_state: str, shards: int = STATUS_CATEGORY_SHARDS) -> dict[str, dict[str, Any]]:
    """States that put the execution's issue's index shard suffix (``""`` or ``"#<s>"``) in
    ``$.index_shard.suffix``, then go on to ``next_state``; entered at ``<prefix>.shard``. Step Functions has no
    modulo, so a Choice maps each last hex digit of ``States.Hash($.issue_id, 'SHA-256')`` to its shard, the
    mapping :func:`chalicelib.domain.index_shards.index_shard` computes in Python."""
    digits_of: dict[int, list[str]] = {shard: [] for shard in range(shards)}
    for position, digit in enumerate(SHARD_DIGITS):
        digits_of[position % shards].append(digit)

    def matches(digits: list[str]) -> dict[str, Any]:
        rules = [{"Variable": "$.index_shard.digest", "StringMatches": f"*{digit}"} for digit in digits]
        return rules[0] if len(rules) == 1 else {"Or": rules}

    states: dict[str, dict[str, Any]] = {
        f"{prefix}.shard": {
            "Type": "Pass",
            "Parameters": {"digest.$": "States.Hash($.issue_id, 'SHA-256')"},
            "ResultPath": "$.index_shard",
            "Next": f"{prefix}.shard_choice",
        },
        f"{prefix}.shard_choice": {
            "Type": "Choice",
            "Choices": [{**matches(digits), "Next": f"{prefix}.shard_{shard}"} for shard, digits in digits_of.items()],
            "Default": f"{prefix}.shard_0",  # a SHA-256 always ends in a hex digit: never taken
        },
    }
    for shard in range(shards):
        states[f"{prefix}.shard_{shard}"] = {
            "Type": "Pass",
            "Result": shard_suffix(shard),
            "ResultPath": "$.index_shard.suffix",
            "Next": next_state,
        }
    return states


# Step Functions' limits on names: a state's and a state machine's are at most 80 characters.
STATE_NAME_MAX = 80
STATE_MACHINE_NAME_MAX = 80


class UndeployableProtocol(ValueError):
    """A compiled definition Step Functions would refuse; plan validation refuses the plans that make one."""


def reachable_states(definition: dict[str, Any]) -> set[str]:
    """The states a run of ``definition`` can enter: from ``StartAt`` along every Next, Choice and Catch."""
    states = definition["States"]
    seen: set[str] = set()
    todo = [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [choice.get("Next") for choice in state.get("Choices", [])]
        targets += [catcher.get("Next") for catcher in state.get("Catch", [])]
        todo.extend(target for target in targets if target)
    return seen


def definition_problems(protocol: str, definition: dict[str, Any]) -> list[str]:
    """What Step Functions would refuse in ``protocol``'s compiled ``definition``, each as ``<place>: <why>``: a
    state name over 80 characters, a state no run reaches (Step Functions refuses unreachable states; an
    unreachable Publish would mean no reply is ever published)."""
    problems = [
        f"protocols.{protocol}.{state.split('.')[0]}: the state '{state}' has {len(state)} characters, "
        f"Step Functions allows {STATE_NAME_MAX}"
        for state in definition["States"]
        if len(state) > STATE_NAME_MAX
    ]
    reached = reachable_states(definition)
    unreachable = [state for state in definition["States"] if state not in reached]
    if PUBLISH in unreachable:
        problems.append(f"protocols.{protocol}: no run reaches Publish, so the reply is never published")
    elif unreachable:
        problems.append(f"protocols.{protocol}: no run reaches the states {', '.join(unreachable)}")
    return problems


def compile_protocol(
    plan: ResponsePlan, protocol_name: str, resources: ProtocolResources, time_scale: float = 60.0
) -> dict[str, Any]:
    """The ASL definition (a dict; ``json.dumps`` it for ``create_state_machine``) of one protocol.

    Raises :class:`UndeployableProtocol` for a definition Step Functions would refuse (a state name over 80
    characters, an unreachable state): plan validation refuses the plans that would make one, so only a stored
    version read as it is can get here."""
    if protocol_name not in plan.protocols:
        raise ValueError(f"unknown protocol '{protocol_name}' (the plan has: {', '.join(plan.protocols) or 'none'})")
    if not time_scale > 0:
        raise ValueError(f"time_scale must be positive, not {time_scale}")
    definition = _Compiler(plan, protocol_name, resources, time_scale).compile()
    # Plan validation refuses what would fail here (domain/plan.py, _protocols_fit_step_functions): a definition
    # Step Functions would refuse is never handed on.
    problems = definition_problems(protocol_name, definition)
    if problems:
        raise UndeployableProtocol("; ".join(problems))
    return definition


class _Compiler:
    def __init__(self, plan: ResponsePlan, protocol_name: str, resources: ProtocolResources, time_scale: float):
        self.plan = plan
        self.name = protocol_name
        self.protocol = plan.protocols[protocol_name]
        self.resources = resources
        self.time_scale = time_scale
        self.states: dict[str, dict[str, Any]] = {}

    # -- the whole machine ----------------------------------------------------------------------------------
    def compile(self) -> dict[str, Any]:
        steps = self.protocol.steps
        self.states[START] = {
            "Type": "Pass",
            "Comment": "Nothing said yet: every message reads the previous result ($.last) and the text ($.draft).",
            "Result": StepCallback(outcome="started", actor=SYSTEM_PROTOCOL).model_dump(exclude={"channels"}),
            "ResultPath": "$.last",
            "Next": "Start.channels",
        }
        self.states["Start.channels"] = {
            "Type": "Pass",
            "Comment": "The protocol's default channels, until a drafting step chooses others.",
            "Result": list(self.protocol.publish),
            "ResultPath": "$.channels",
            "Next": "Start.draft",
        }
        self.states["Start.draft"] = {"Type": "Pass", "Result": "", "ResultPath": "$.draft", "Next": steps[0].name}
        for index, step in enumerate(steps):
            following = steps[index + 1].name if index + 1 < len(steps) else PUBLISH
            self._step(step, following)
        self._finish()
        return {
            "Comment": f"{self.plan.brand}: {self.name} protocol ({self.protocol.label}); "
            f"compiled with {self.time_scale:g} s per plan minute",
            "StartAt": START,
            "States": self.states,
        }

    # -- one step -------------------------------------------------------------------------------------------
    def _step(self, step: ProtocolStep, following: str) -> None:
        people = self.plan.step_people(step)
        backup = list(step.backup) or people
        seconds = timeout_seconds(step.sla_minutes, self.time_scale)
        outcome_state, unexpected = f"{step.name}.outcome", f"{step.name}.unexpected_outcome"
        used: set[str] = set()

        def unique(name: str) -> str:
            candidate, n = name, 2
            while candidate in used:
                candidate, n = f"{name}_{n}", n + 1
            used.add(candidate)
            return candidate

        def attempt(state: str, audience: list[str], label: str) -> str:
            self.states[state] = self._wait_task(
                step, audience, label, seconds, next_state=outcome_state, backup=escalated
            )
            return state

        def reminder_name() -> str:
            return f"{step.name}.escalated_reminder" if escalated else f"{step.name}.reminder"

        # The chain of timeout actions; `pending` is the state whose timeout (Catch) or end (Next) leads on.
        audience, escalated = people, False
        pending = attempt(unique(step.name), people, "initial")
        pending_kind = "catch"
        actions = list(step.on_timeout)
        for position, action in enumerate(actions):
            if action is TimeoutAction.ALERT:
                state = unique(f"{step.name}.alert_stuck")
                self.states[state] = self._alert(step, "approval_stuck", next_state="")
            else:
                if action is TimeoutAction.ESCALATE:
                    audience, escalated = backup, True
                    state = attempt(unique(f"{step.name}.escalated"), audience, "escalated")
                else:
                    state = attempt(unique(reminder_name()), audience, "reminder")
            self._link(pending, pending_kind, state)
            pending, pending_kind = state, ("next" if action is TimeoutAction.ALERT else "catch")
            if action is TimeoutAction.ALERT and position == len(actions) - 1:
                # An alert keeps waiting on the current people: one more reminder.
                state = attempt(unique(reminder_name()), audience, "reminder")
                self._link(pending, pending_kind, state)
                pending, pending_kind = state, "catch"
        given_up = f"{step.name}.alert_timed_out"
        self.states[given_up] = self._alert(step, "approval_timed_out", next_state=TIMED_OUT)
        self._link(pending, pending_kind, given_up)

        # What came back.
        last = "$.last"
        route = f"{step.name}.route"
        after_draft = f"{step.name}.channels" if step.action in CHOOSES_CHANNELS else route
        self.states[outcome_state] = {
            "Type": "Choice",
            "Choices": [
                {
                    "Or": [
                        {"Variable": f"{last}.{field}", "IsPresent": False} for field in ("outcome", "comment", "draft")
                    ],
                    "Next": unexpected,
                },
                {"Variable": f"{last}.draft", "StringEquals": "", "Next": after_draft},
            ],
            "Default": f"{step.name}.keep_draft",
        }
        self.states[f"{step.name}.keep_draft"] = {
            "Type": "Pass",
            "InputPath": f"{last}.draft",
            "ResultPath": "$.draft",
            "Next": after_draft,
        }
        if after_draft != route:
            # A non-empty list replaces the channels; a missing or empty one keeps the previous choice.
            self.states[after_draft] = {
                "Type": "Choice",
                "Choices": [
                    {"Variable": f"{last}.channels[0]", "IsPresent": True, "Next": f"{step.name}.keep_channels"}
                ],
                "Default": route,
            }
            self.states[f"{step.name}.keep_channels"] = {
                "Type": "Pass",
                "InputPath": f"{last}.channels",
                "ResultPath": "$.channels",
                "Next": route,
            }
        choices = [
            {"Variable": f"{last}.outcome", "StringEquals": outcome.value, "Next": following}
            for outcome in step.outcomes
            if outcome in PROCEED
        ]
        if Outcome.REJECTED in step.outcomes and step.on_reject:
            choices.append(
                {"Variable": f"{last}.outcome", "StringEquals": Outcome.REJECTED.value, "Next": step.on_reject}
            )
        self.states[route] = {"Type": "Choice", "Choices": choices, "Default": unexpected}
        self.states[unexpected] = {
            "Type": "Fail",
            "Error": "Protocol.UnexpectedOutcome",
            "Cause": f"step {step.name} expects one of: {', '.join(o.value for o in step.outcomes)}",
        }

    def _link(self, state: str, kind: str, target: str) -> None:
        if kind == "catch":
            self.states[state]["Catch"] = [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": target}
            ]
        else:
            self.states[state]["Next"] = target
            for catcher in self.states[state].get("Catch", []):
                catcher["Next"] = catcher["Next"] or target

    def _wait_task(
        self, step: ProtocolStep, people: list[str], attempt: str, seconds: int, next_state: str, backup: bool
    ) -> dict[str, Any]:
        """``people``: this plan's (the deployed one's) audience of the attempt; ``backup``: whether that is the
        step's backup (an escalated attempt), so the handler can ask the active plan's current people instead."""
        escalates = TimeoutAction.ESCALATE in step.on_timeout and attempt not in (ESCALATED, ESCALATED_REMINDER)
        body = {
            "issue_id.$": "$.issue_id",
            "category.$": "$.category",
            "plan_version.$": "$.plan_version",
            "protocol": self.name,
            "step": step.name,
            "action": step.action.value,
            "role": step.role,
            "people": people,
            "audience": "backup" if backup else "people",
            "attempt": attempt,
            "sla_minutes": step.sla_minutes,
            "timeout_seconds": seconds,
            "escalates_to": (list(step.backup) or people) if escalates else [],
            "outcomes": [outcome.value for outcome in step.outcomes],
            "comment.$": "$.last.comment",
            "commented_by.$": "$.last.actor",
            "draft.$": "$.draft",
            "task_token.$": "$$.Task.Token",
            "execution.$": "$$.Execution.Id",
        }
        if step.action in CHOOSES_CHANNELS:
            body["channels.$"] = "$.channels"  # the page preselects the current choice (a redraft keeps it)
        return {
            "Type": "Task",
            "Comment": f"{step.role} ({attempt}); waits {step.sla_minutes} plan minutes for the callback",
            "Resource": SQS_WAIT,
            "Parameters": {
                "QueueUrl": self.resources.approval_queue_url,
                "MessageBody": message_body(StepRequest, body),
            },
            "TimeoutSeconds": seconds,
            "ResultPath": "$.last",
            "Retry": _RETRY_SEND,
            "Next": next_state,
        }

    def _alert(self, step: ProtocolStep | None, kind: str, next_state: str) -> dict[str, Any]:
        step_name = step.name if step else PUBLISH
        severity = ALERT_SEVERITY[kind]
        message: dict[str, Any] = {
            "kind": kind,
            "severity": severity,
            "issue_id.$": "$.issue_id",
            "category.$": "$.category",
            "protocol": self.name,
            "step": step_name,
            "execution.$": "$$.Execution.Id",
            "at.$": "$$.State.EnteredTime",
        }
        if step:
            message.update(
                {
                    "role": step.role,
                    "sla_minutes": step.sla_minutes,
                    "people": self.plan.step_people(step),
                    "backup": list(step.backup),
                }
            )

        def attribute(value: str) -> dict[str, str]:
            return {"DataType": "String", "StringValue": value}

        state: dict[str, Any] = {
            "Type": "Task",
            "Resource": SNS_PUBLISH,
            "Parameters": {
                "TopicArn": self.resources.alerts_topic_arn,
                "Subject": alert_subject(kind, self.name, step_name),
                "Message": message,
                "MessageAttributes": {
                    "kind": attribute(kind),
                    "severity": attribute(severity),
                    "category": {"DataType": "String", "StringValue.$": "$.category"},
                    "step": attribute(step_name),
                    "protocol": attribute(self.name),
                },
            },
            "ResultPath": None,
            "Retry": _RETRY_SERVICE,
            # An alert that cannot be sent must not stop the protocol.
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.alert_error", "Next": next_state}],
        }
        if next_state:
            state["Next"] = next_state
        return state

    # -- publish and resolve --------------------------------------------------------------------------------
    def _finish(self) -> None:
        self.states[PUBLISH] = {
            "Type": "Task",
            "Comment": "The publisher posts the approved reply and calls back when it is out.",
            "Resource": SQS_WAIT,
            "Parameters": {
                "QueueUrl": self.resources.publish_queue_url,
                "MessageBody": message_body(
                    PublishRequest,
                    {
                        "issue_id.$": "$.issue_id",
                        "category.$": "$.category",
                        "plan_version.$": "$.plan_version",
                        "protocol": self.name,
                        "channels.$": "$.channels",
                        "draft.$": "$.draft",
                        "approved_by.$": "$.last.actor",
                        "task_token.$": "$$.Task.Token",
                        "execution.$": "$$.Execution.Id",
                    },
                ),
            },
            "TimeoutSeconds": timeout_seconds(PUBLISH_TIMEOUT_MINUTES, self.time_scale),
            "ResultPath": "$.published",
            "Retry": _RETRY_SEND,
            "Catch": [
                {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "Publish.alert_timed_out"},
                # No channel went out (a platform rule, a revoked token): the publisher has audited and
                # alerted it; the issue stays open for people to answer another way.
                {"ErrorEquals": [PUBLISH_REFUSED_ERROR], "ResultPath": "$.publish_error", "Next": NOT_PUBLISHED},
            ],
            "Next": f"{RESOLVE}.shard",
        }
        self.states.update(index_shard_states(RESOLVE, RESOLVE))
        self.states["Publish.alert_timed_out"] = self._alert(None, "publish_timed_out", next_state=TIMED_OUT)
        self.states[RESOLVE] = {
            "Type": "Task",
            "Resource": DDB_UPDATE,
            "Parameters": {
                "TableName": self.resources.issues_table,
                "Key": {"issue_id": {"S.$": "$.issue_id"}},
                # status_category feeds the issues table's by_status_category index: it moves with the status,
                # in the issue's write shard (the suffix the states before this one chose from the issue id).
                "UpdateExpression": "SET #status = :resolved, resolved_at = :at, status_category = :status_category",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":resolved": {"S": "resolved"},
                    ":at": {"S.$": "$$.State.EnteredTime"},
                    ":status_category": {"S.$": "States.Format('resolved#{}{}', $.category, $.index_shard.suffix)"},
                },
            },
            "ResultPath": None,
            "Retry": _RETRY_SERVICE,
            "Next": AUDIT,
        }
        self.states[AUDIT] = {
            "Type": "Task",
            "Resource": DDB_PUT,
            "Parameters": {
                "TableName": self.resources.audit_table,
                "Item": {
                    "issue_id": {"S.$": "$.issue_id"},
                    "sk": {"S.$": "States.Format('{}#resolved', $$.State.EnteredTime)"},
                    "type": {"S": "resolved"},
                    "actor": {"S": SYSTEM_PROTOCOL},
                    "at": {"S.$": "$$.State.EnteredTime"},
                    "protocol": {"S": self.name},
                    "approved_by": {"S.$": "$.last.actor"},
                    "execution": {"S.$": "$$.Execution.Id"},
                },
            },
            "ResultPath": None,
            "Retry": _RETRY_SERVICE,
            "Next": RESOLVED,
        }
        self.states[RESOLVED] = {"Type": "Succeed"}
        self.states[TIMED_OUT] = {
            "Type": "Fail",
            "Error": "Protocol.TimedOut",
            "Cause": "nobody answered a step, its reminders or its backup in time",
        }
        self.states[NOT_PUBLISHED] = {
            "Type": "Fail",
            "Error": "Protocol.NotPublished",
            "Cause": "the platform refused every channel of the approved reply",
        }
