"""Refusals a hostile-input review found outside the contract, replayed through Chalice's test client on moto:

- an X reply X would refuse (150 emoji: X counts 300; forty ``a.co`` links: X counts 959) passed the approval page
  (200, ``step_submitted``, the run moved on) and X's publisher refused it for good after the approvals;
- a wrong method on ``/webhooks/{platform}`` answered Chalice's own ``{"Code", "Message"}``, not ``{"error"}``;
- approval links answered HTML even to ``Accept: application/json``, which the survey links honour.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from chalicelib.settings import resources
from tests.helpers import wait_for_queue
from tests.integration import test_approval_flow as flow
from tests.integration.test_approval_flow import audit_types, next_step, open_high_priority_issue, path

protocol_aws = flow.protocol_aws  # the fixtures: moto with the stage deployed, Step Functions executing
api = flow.api  # Chalice's test client on it

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def lead_link() -> tuple[str, str]:
    issue_id = open_high_priority_issue("Your Alba boots burned my skin, I will sue.")  # an X mention
    lead = next(m for m in next_step(0) if m["to"] == "pr-lead@aurelle.example")
    return issue_id, lead["link"]


def settle() -> None:
    """Wait for the run's next step request (moto runs it on a thread: left running, it would reach the next test's
    fresh queue)."""
    wait_for_queue(resources().approval_queue)


def answer(api, link: str, accept: str = "", **fields):
    headers = {"Content-Type": FORM, **({"Accept": accept} if accept else {})}
    return api.http.post(path(link), body=urlencode(fields).encode(), headers=headers)


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.body
    assert response.headers["Content-Type"] == JSON, response.headers
    return json.loads(response.body)["error"]


def test_an_x_reply_x_would_refuse_is_refused_on_the_page_before_anything_is_consumed(api):
    issue_id, link = lead_link()
    for draft, x_count in (("\U0001f600" * 150, 300), (" ".join(["a.co"] * 40), 959)):  # 150 and 199 code points
        refused = answer(api, link, outcome="submitted", channels="public_reply", draft=draft)
        assert refused.status_code == 400 and refused.headers["Content-Type"].startswith("text/html")
        assert f"{x_count} characters".encode() in refused.body and b"at most 280" in refused.body
        assert audit_types(issue_id) == ["opened", "step_initial"]  # nothing recorded, the link still usable
    # the same text as a private reply (an X DM takes 10,000) is taken by the same link
    taken = answer(api, link, outcome="submitted", channels="private_reply", draft=draft)
    assert taken.status_code == 200 and audit_types(issue_id) == ["opened", "step_initial", "step_submitted"]
    settle()


def test_approval_links_answer_json_refusals_to_a_client_that_asks_and_html_by_default(api):
    issue_id, link = lead_link()
    forged = "/approvals/not-a-real-id?exp=1&sig=00"
    assert "not valid" in error_of(api.http.get(forged, headers={"Accept": JSON}), 403).lower()
    page = api.http.get(forged)
    assert page.status_code == 403 and page.headers["Content-Type"].startswith("text/html")
    browser = api.http.get(forged, headers={"Accept": "text/html,application/xhtml+xml,application/json;q=0.9"})
    assert browser.headers["Content-Type"].startswith("text/html")

    not_a_form = api.http.post(path(link), body=b"{}", headers={"Content-Type": JSON, "Accept": JSON})
    assert "form" in error_of(not_a_form, 415)
    assert error_of(answer(api, link, JSON, outcome="approved", draft="hi"), 400)
    assert "280" in error_of(
        answer(api, link, JSON, outcome="submitted", channels="public_reply", draft="x" * 281), 400
    )
    assert answer(api, link, outcome="approved", draft="hi").headers["Content-Type"].startswith("text/html")
    assert audit_types(issue_id) == ["opened", "step_initial"]

    recorded = answer(api, link, JSON, outcome="submitted", channels="public_reply", draft="We are sorry, Ana.")
    assert recorded.status_code == 200 and json.loads(recorded.body)["recorded"] == "submitted"
    assert "already used" in error_of(
        answer(api, link, JSON, outcome="submitted", channels="public_reply", draft="a"), 410
    )


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
def test_a_wrong_method_on_a_webhook_is_a_405_with_an_error_and_allow(api, method):
    for platform in ("x", "generic", "meta", "nowhere"):
        response = api.http.request(method, f"/webhooks/{platform}", body=b"{}", headers={"Content-Type": JSON})
        assert response.status_code == 405, (platform, response.body)
        assert response.headers["Allow"] == "GET, POST"
        assert method in error_of(response, 405)  # (a server leaves out a HEAD answer's body, not its headers)


def test_the_webhooks_contracted_methods_answer_as_before(api, protocol_aws):
    crc = api.http.get("/webhooks/x?crc_token=abc")
    assert crc.status_code == 200 and json.loads(crc.body)["response_token"].startswith("sha256=")
    assert "signature" in error_of(api.http.post("/webhooks/x", body=b"{}", headers={"Content-Type": JSON}), 401)
    assert "unknown platform" in error_of(api.http.get("/webhooks/nowhere"), 404)
