"""Which stream records end an issue's protocol: a close (a person's, or a merge's), or a person resolving it; never
the protocol resolving the issue itself when it publishes."""

from boto3.dynamodb.types import TypeSerializer

from chalicelib.adapters.plans import bundled_plan
from chalicelib.services.protocols import ProtocolStop, starts_for, stops_for

ISSUE = {"issue_id": "iss-1", "category": "high_priority", "status": "in_progress"}


def modified(before: dict, after: dict) -> dict:
    image = TypeSerializer().serialize
    return {
        "eventName": "MODIFY",
        "dynamodb": {
            "OldImage": {k: image(v) for k, v in before.items()},
            "NewImage": {k: image(v) for k, v in after.items()},
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/issues/stream/1",
    }


def test_a_close_or_a_persons_resolve_stops_the_protocol():
    plan = bundled_plan()
    closed = modified(ISSUE, {**ISSUE, "status": "closed", "ops_version": 1})
    merged = modified(ISSUE, {**ISSUE, "status": "closed", "merged_into": "iss-2"})  # a merge closes it too
    resolved_by_ops = modified({**ISSUE, "ops_version": 2}, {**ISSUE, "status": "resolved", "ops_version": 3})
    assert stops_for([closed, merged, resolved_by_ops], plan) == [
        ProtocolStop("iss-1", "high_priority", "issue closed"),
        ProtocolStop("iss-1", "high_priority", "issue closed"),
        ProtocolStop("iss-1", "high_priority", "issue resolved"),
    ]
    assert starts_for([closed, merged, resolved_by_ops], plan) == []


def test_the_protocol_resolving_its_issue_or_a_reopen_or_no_protocol_stops_nothing():
    plan = bundled_plan()
    by_the_protocol = modified(ISSUE, {**ISSUE, "status": "resolved"})  # the state machine's ResolveIssue
    reopened = modified({**ISSUE, "status": "closed"}, {**ISSUE, "status": "in_progress", "ops_version": 1})
    routine = {**ISSUE, "category": "no_action"}
    no_protocol = modified(routine, {**routine, "status": "closed", "ops_version": 1})
    assert stops_for([by_the_protocol, reopened, no_protocol], plan) == []
