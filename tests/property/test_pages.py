"""The pages behind emailed approval links, and ``/health``: whatever arrives, a page answers 200 or a 4xx, as HTML
(the person behind the link sees a page, never JSON or a 5xx), and health answers 200 JSON.

There are no survey pages yet; when they come, their routes belong here too."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.api.approval_form import ActForm
from tests.property.strategies import (
    FORM_TYPES,
    assert_json_answer,
    assert_page_answer,
    headers,
    path_segment,
    query_string,
    schema_json,
    short_bytes,
    text,
)

LINK_PARAMETERS = ["exp", "sig"]


PEOPLE = 8
_pools: dict[str, list[str]] = {}


def pending_link(stack, action: str, person: int) -> str:
    """A valid signed link to a step of ``action`` asked of PEOPLE people (one step per action, made on first use:
    asking costs more than the examples). Once one person's answer is recorded, the others' forms are still
    checked, then refused with 410; the first valid answer of each action goes all the way to the protocol."""
    from chalicelib.bootstrap import approval_deps
    from chalicelib.services.approvals import StepRequest, request_step

    if action not in _pools:
        token = uuid.uuid4().hex
        outcomes = {
            "draft": ["submitted"],
            "review": ["approved", "edited", "rejected"],
            "approve": ["approved", "rejected"],
        }
        step = StepRequest(
            issue_id=stack.issue_ids[1],
            category="high_priority",
            protocol="high_priority",
            step=f"{action}-property",
            action=action,
            role="pr",
            people=[f"pr{n}@example.com" for n in range(PEOPLE)],
            attempt="initial",
            sla_minutes=60,
            outcomes=outcomes[action],
            task_token=token,
            execution=f"property-{token}",
        )
        links = request_step(step, approval_deps(), datetime.now(timezone.utc))
        _pools[action] = ["/" + link.split("://", 1)[1].split("/", 1)[1] for link in links]
    return _pools[action][person]


form_bodies = st.one_of(
    schema_json(ActForm).map(lambda form: urlencode(form, doseq=False).encode("utf-8", "surrogatepass")),
    st.dictionaries(st.sampled_from(["outcome", "draft", "comment", "channels"]) | text, text, max_size=4).map(
        lambda form: urlencode(form).encode("utf-8", "surrogatepass")
    ),
    short_bytes,
)
form_types = st.sampled_from(FORM_TYPES) | st.sampled_from(FORM_TYPES).map(lambda t: f"{t}; charset=utf-8") | text


@given(approval_id=path_segment(), query=query_string(LINK_PARAMETERS), request_headers=headers)
def test_any_approval_link_opens_a_page_or_a_refusal_page(stack, approval_id, query, request_headers):
    answer = stack.client.http.get(f"/approvals/{approval_id}?{query}", headers=request_headers)
    assert_page_answer(answer, (approval_id, query, request_headers))
    assert answer.status_code != 200  # a guessed link opens nothing


@given(link=st.integers(0, 2), extra=query_string(["utm_source", "fbclid"]), request_headers=headers)
def test_a_valid_link_opens_its_page_whatever_else_the_request_carries(stack, link, extra, request_headers):
    answer = stack.client.http.get(f"{stack.links[link]}&{extra}", headers=request_headers)
    page = assert_page_answer(answer, (extra, request_headers))
    if any(f"{name}=" in extra for name in LINK_PARAMETERS):  # a later exp= or sig= wins, and is then checked
        return
    assert answer.status_code == 200 and "<form method=post" in page, page[:300]


@given(approval_id=path_segment(), query=query_string(LINK_PARAMETERS), body=form_bodies, content_type=form_types)
def test_any_form_post_to_any_link_is_answered_with_a_page(stack, approval_id, query, body, content_type):
    answer = stack.client.http.post(
        f"/approvals/{approval_id}?{query}", body=body, headers={"Content-Type": content_type}
    )
    assert_page_answer(answer, (approval_id, query, body[:200], content_type))
    assert answer.status_code != 200


@given(
    action=st.sampled_from(["draft", "review", "approve"]),
    person=st.integers(0, PEOPLE - 1),
    body=form_bodies,
    content_type=form_types,
)
def test_any_form_posted_to_a_valid_link_is_recorded_or_refused_with_a_page(stack, action, person, body, content_type):
    answer = stack.client.http.post(
        pending_link(stack, action, person), body=body, headers={"Content-Type": content_type}
    )
    assert_page_answer(answer, (action, body[:300], content_type))


@settings(max_examples=max(5, settings().max_examples // 4))  # each check asks every table and queue
@given(query=query_string(["verbose", "check"]), request_headers=headers)
def test_health_answers_200_whatever_the_request_carries(stack, query, request_headers):
    body = assert_json_answer(
        stack.client.http.get(f"/health?{query}", headers=request_headers), {200}, (query, request_headers)
    )
    assert body["status"] == "ok"
