"""The satisfaction survey pages: whatever arrives, ``/surveys/{id}`` answers 200 or a 4xx, as an HTML page (or,
to a client that asks only for JSON, ``{"error": ...}``), never a 5xx; a guessed or forged link opens nothing,
and however many forms reach a valid link, at most one answer is recorded."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from tests.property.strategies import FORM_TYPES, headers, path_segment, query_string, short_bytes, text

LINK_PARAMETERS = ["exp", "sig"]
_links: list[str] = []


def survey_link(stack) -> str:
    """A valid survey link (path and query) for an issue of its own, made once: resolved with a reply, surveyed."""
    if _links:
        return _links[0]
    from boto3.dynamodb.types import TypeSerializer

    from chalicelib.adapters.plans import DynamoPlanStore
    from chalicelib.adapters.triage_table import DynamoTriageStore
    from chalicelib.bootstrap import survey_deps
    from chalicelib.services.surveys import schedule_surveys
    from chalicelib.services.triage import triage_mention
    from chalicelib.settings import resources
    from tests.triage_fixtures import fixed_analyzer, mention

    names = resources()
    plans = DynamoPlanStore(names.plans_table)
    issue = triage_mention(
        mention(f"ps-{uuid.uuid4().hex[:8]}", "Parcel never arrived, refund please", author=f"p{uuid.uuid4().hex[:6]}"),
        DynamoTriageStore(names),
        plans,
        fixed_analyzer,
    )
    before = {
        "issue_id": issue.issue_id,
        "category": "routine_response",
        "status": "in_progress",
        "first_response_at": datetime.now(timezone.utc).isoformat(),
    }
    serialize = TypeSerializer().serialize
    record = {
        "eventName": "MODIFY",
        "dynamodb": {
            "OldImage": {k: serialize(v) for k, v in before.items()},
            "NewImage": {k: serialize(v) for k, v in {**before, "status": "resolved"}.items()},
        },
    }
    deps = survey_deps()
    assert schedule_surveys([record], plans.active()[0], deps, datetime.now(timezone.utc))["sent"] == 1
    survey = deps.surveys.for_issue(issue.issue_id)  # type: ignore[attr-defined]
    from chalicelib.domain.survey import link_path

    _links.append(link_path(deps.link_key, survey.survey_id, survey.author, survey.expires_at))
    return _links[0]


def answers_recorded(stack) -> int:
    from chalicelib.adapters.aws import client
    from chalicelib.settings import resources

    items = client("dynamodb").scan(TableName=resources().audit_table)["Items"]
    return sum(item["type"]["S"] == "survey_answered" for item in items)


def assert_refusal_or_page(answer, request_headers: dict[str, str], request: object) -> None:
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, (
        answer.status_code,
        answer.body[:300],
        request,
    )
    content_type = answer.headers.get("Content-Type", "")
    if content_type == "application/json":
        assert answer.status_code >= 400 and isinstance(json.loads(answer.body)["error"], str), request
    else:
        assert content_type == "text/html; charset=utf-8", (answer.headers, request)
        assert answer.headers.get("Referrer-Policy") == "no-referrer"


form_bodies = st.one_of(
    st.fixed_dictionaries({"rating": st.integers(-2, 8).map(str) | text}, optional={"comment": text}).map(
        lambda form: urlencode(form).encode("utf-8", "surrogatepass")
    ),
    st.dictionaries(st.sampled_from(["rating", "comment", "send"]) | text, text, max_size=4).map(
        lambda form: urlencode(form).encode("utf-8", "surrogatepass")
    ),
    short_bytes,
)
form_types = st.sampled_from(FORM_TYPES) | st.sampled_from(FORM_TYPES).map(lambda t: f"{t}; charset=utf-8") | text


@given(survey_id=path_segment(), query=query_string(LINK_PARAMETERS), request_headers=headers)
def test_any_survey_link_opens_a_refusal(stack, survey_id, query, request_headers):
    answer = stack.client.http.get(f"/surveys/{survey_id}?{query}", headers=request_headers)
    assert_refusal_or_page(answer, request_headers, (survey_id, query, request_headers))
    assert answer.status_code != 200  # a guessed link opens nothing


@given(survey_id=path_segment(), query=query_string(LINK_PARAMETERS), body=form_bodies, content_type=form_types)
def test_any_form_post_to_any_survey_link_is_refused(stack, survey_id, query, body, content_type):
    answer = stack.client.http.post(f"/surveys/{survey_id}?{query}", body=body, headers={"Content-Type": content_type})
    assert_refusal_or_page(answer, {}, (survey_id, query, body[:200], content_type))
    assert answer.status_code != 200


@given(body=form_bodies, content_type=form_types, request_headers=headers)
def test_any_form_posted_to_a_valid_survey_link_is_recorded_at_most_once(stack, body, content_type, request_headers):
    link = survey_link(stack)
    answer = stack.client.http.post(link, body=body, headers={**request_headers, "Content-Type": content_type})
    assert_refusal_or_page(answer, request_headers, (body[:300], content_type, request_headers))
    assert answers_recorded(stack) <= 1
