"""End to end in a real browser: a PR lead opens the emailed approval link, drafts the reply, and the link dies.

A mention with a legal threat is delivered to the running stack; the High Priority protocol's first step emails
the PR team (SES in moto). Headless Chromium (Debian's ``chromium``, driven through ``chromedriver``'s W3C
WebDriver HTTP API with urllib, so no driver package) opens the link from that email, fills the form, submits
it, and opens the link again. ``tools/ensure_browser.sh`` installs the browser; without it this test skips.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from infra.local import deliveries
from infra.local.replay import http, keys_of, post_delivery
from infra.local.stack import LocalStack, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / ".run" / "browser-approval.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PR_LEAD = "pr-lead@aurelle.example"
# Each test's mention reads like no other mention sent to the session's stack (other e2e tests post Alba boots
# legal threats, and so does the demo stream): a near-duplicate joins that issue as a copy-paste campaign, and the
# email found is then the other issue's, its link perhaps used already ("Link no longer valid").
TEXT = "My daughter's Sol linen dress shrank to half its size in one gentle wash; our solicitor will hear about it."
VOICE_TEXT = (
    "Two evenings in the Lina trench coat and its lining left a red rash along both arms; my lawyer is writing to "
    "Aurelle."
)
REPLY = "We are so sorry. Please write to care@aurelle.example with your order number; we will call you today."
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver key of an element reference
LINK = re.compile(r'<a href="([^"]+/approvals/[^"]+)"')
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-proxy-server",
    "--window-size=1100,1300",
]

MISSING = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
NO_BROWSER = f"no headless browser: {', '.join(MISSING)} missing (install with: bash tools/ensure_browser.sh, as root)"

# Loopback only: never through a proxy from the environment.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class WebDriver:
    """The few W3C WebDriver commands this test needs, over chromedriver's HTTP API."""

    def __init__(self, url: str, session_id: str) -> None:
        self.url, self.session_id = url, session_id

    @staticmethod
    def call(method: str, url: str, payload: dict[str, Any] | None = None, timeout: float = 30) -> Any:
        body = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            url, data=body, method=method, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with _LOCAL.open(request, timeout=timeout) as answer:
                return json.load(answer)["value"]
        except urllib.error.HTTPError as error:
            raise AssertionError(f"WebDriver {method} {url}: {error.code} {error.read().decode()[:500]}") from None

    def do(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        return self.call(method, f"{self.url}/session/{self.session_id}{path}", payload)

    def open(self, url: str) -> None:
        self.do("POST", "/url", {"url": url})

    def title(self) -> str:
        return self.do("GET", "/title")

    def wait_for_title(self, expected: str, timeout: float = 20) -> str:
        """A click that submits a form may return before the next page loads: wait (bounded) for it."""
        deadline = time.monotonic() + timeout
        while (title := self.title()) != expected and time.monotonic() < deadline:
            time.sleep(0.1)
        return title

    def find(self, css: str) -> str:
        return self.do("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def text(self, css: str) -> str:
        return self.do("GET", f"/element/{self.find(css)}/text")

    def type_into(self, css: str, text: str) -> None:
        element = self.find(css)
        self.do("POST", f"/element/{element}/clear", {})
        self.do("POST", f"/element/{element}/value", {"text": text})

    def value(self, css: str) -> str:
        return self.do("GET", f"/element/{self.find(css)}/property/value")

    def click(self, css: str) -> None:
        self.do("POST", f"/element/{self.find(css)}/click", {})

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.do("GET", "/screenshot")))


@pytest.fixture
def browser(tmp_path) -> Iterator[WebDriver]:
    port = free_port()
    log = tmp_path / "chromedriver.log"
    driver = subprocess.Popen(
        [str(CHROMEDRIVER), f"--port={port}", f"--log-path={log}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    session_id = None
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if WebDriver.call("GET", f"{url}/status", timeout=2).get("ready"):
                    break
            except (OSError, ValueError):
                pass
            if driver.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromedriver did not start (exit {driver.poll()}); log: {log}")
            time.sleep(0.1)
        session = WebDriver.call(
            "POST",
            f"{url}/session",
            {
                "capabilities": {
                    "alwaysMatch": {
                        "browserName": "chrome",
                        "pageLoadStrategy": "normal",
                        "goog:chromeOptions": {
                            "binary": str(CHROMIUM),
                            "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"],
                        },
                    }
                }
            },
            timeout=60,
        )
        session_id = session["sessionId"]
        web = WebDriver(url, session_id)
        web.do("POST", "/timeouts", {"pageLoad": 20_000, "script": 5_000, "implicit": 2_000})
        yield web
    finally:
        if session_id:
            try:
                WebDriver.call("DELETE", f"{url}/session/{session_id}", timeout=15)
            except (OSError, AssertionError):
                pass
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()


def _emails(stack: LocalStack) -> list[dict[str, Any]]:
    return stack.moto_state().get("ses", {}).get("Message", [])


def _approval_link(stack: LocalStack, mention_key: str, to: str, timeout: float = 60) -> tuple[str, str]:
    """Wait for the issue the mention opened (alone) and for that issue's first email to ``to``: (issue id, link)."""
    deadline = time.monotonic() + timeout
    issue_id = None
    while time.monotonic() < deadline:
        if issue_id is None:
            item = next((i for i in stack.stored_mentions() if i["pk"] == mention_key), None)
            issue_id = (item or {}).get("issue_id") or None
        if issue_id is not None:
            for message in _emails(stack):
                if (
                    to in message.get("destinations", {}).get("ToAddresses", [])
                    and message.get("subject", "").endswith(issue_id)
                    and (found := LINK.search(message.get("body", "")))
                ):
                    folded = {i["pk"] for i in stack.stored_mentions() if i.get("issue_id") == issue_id}
                    assert folded == {mention_key}, f"{mention_key} joined the issue of {sorted(folded)}"
                    return issue_id, html.unescape(found.group(1))
        time.sleep(0.5)
    raise AssertionError(
        f"no approval email to {to} within {timeout:.0f} s (issue {issue_id}; "
        f"{len(_emails(stack))} emails in moto's SES)"
    )


@pytest.mark.skipif(bool(MISSING), reason=NO_BROWSER)  # checked before the stack starts
def test_pr_lead_drafts_the_reply_in_a_browser_and_the_link_then_dies(stack: LocalStack, browser: WebDriver):
    author = uuid.uuid4().hex[:10]
    body = json.dumps(
        {
            "platform": "reviews",
            "id": f"browser-{author}",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "text": TEXT,
            "author": {
                "id": f"u-{author}",
                "handle": f"walker{author}",
                "name": "Ana Walker",
                "followers": 120,
                "verified": False,
            },
        }
    ).encode()
    delivery = deliveries.Delivery("generic", body)
    assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200
    (key,) = keys_of(delivery)
    issue_id, link = _approval_link(stack, key, PR_LEAD)
    assert link.startswith(f"{stack.api_url}/approvals/")

    browser.open(link)
    assert browser.title() == f"Draft the reply: {issue_id}"
    page = browser.text("body")
    assert TEXT in page and PR_LEAD in page and "Submit the reply" in page
    browser.type_into("textarea[name=draft]", REPLY)
    assert browser.value("textarea[name=draft]") == REPLY
    browser.screenshot(SCREENSHOT)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    browser.click("button[name=outcome][value=submitted]")
    assert browser.wait_for_title("Recorded") == "Recorded"
    assert browser.text("h1") == "Recorded: submitted"

    browser.open(link)
    assert browser.title() == "Link no longer valid"
    assert browser.text("h1") == "Link no longer valid"
    assert http("GET", link).status == 410  # what the browser was served (GET changes nothing)


# -- a satisfaction survey answered in the browser (surveys engineer) -------------------------------------------
SURVEY_LINK = re.compile(r"(https?://\S+/surveys/[\w-]+\?exp=\d+&sig=[0-9a-f]{64})")
SURVEY_SCREENSHOT = ROOT / ".run" / "browser-survey.png"


def _emails_retrying(stack: LocalStack) -> list[dict[str, Any]]:
    """moto's sent emails (``stack.moto_state`` asks again when data.json answers 500)."""
    return _emails(stack)


def _step_link(stack: LocalStack, mention_key: str, to: str, timeout: float = 90) -> tuple[str, str]:
    """(issue id, link) of the first step email to ``to`` about the mention's issue."""
    deadline = time.monotonic() + timeout
    issue_id = None
    while time.monotonic() < deadline:
        if issue_id is None:
            item = next((i for i in stack.stored_mentions() if i["pk"] == mention_key), None)
            issue_id = (item or {}).get("issue_id") or None
        if issue_id is not None:
            for message in _emails_retrying(stack):
                if (
                    to in message.get("destinations", {}).get("ToAddresses", [])
                    and message.get("subject", "").endswith(issue_id)
                    and (found := LINK.search(message.get("body", "")))
                ):
                    return issue_id, html.unescape(found.group(1))
        time.sleep(0.5)
    raise AssertionError(f"no step email to {to} within {timeout:.0f} s (issue {issue_id})")


def _survey_link(stack: LocalStack, issue_id: str, timeout: float = 120) -> str:
    """The survey the author was sent once the issue's reply went out and it resolved (the outbox locally)."""
    from chalicelib.settings import Resources

    outbox = Resources.for_stage("local").outbox_table
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in stack.scan(outbox):
            if row["issue_id"] == issue_id and row.get("approved_by") == "system:surveys":
                return SURVEY_LINK.search(row["text"]).group(1)
        time.sleep(0.5)
    raise AssertionError(f"no survey for {issue_id} within {timeout:.0f} s")


@pytest.mark.skipif(bool(MISSING), reason=NO_BROWSER)
def test_the_author_answers_the_satisfaction_survey_in_a_browser_and_it_lands_on_the_issue(
    stack: LocalStack, browser: WebDriver
):
    author = uuid.uuid4().hex[:10]
    text = (
        f"The zip of my Cortez denim jacket broke after two days. Two emails and no answer, I want a refund now "
        f"({author})"
    )
    body = json.dumps(
        {
            "platform": "reviews",
            "id": f"survey-{author}",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "text": text,
            "author": {
                "id": f"u-{author}",
                "handle": f"shopper{author}",
                "name": "Sam Shopper",
                "followers": 40,
                "verified": False,
            },
        }
    ).encode()
    delivery = deliveries.Delivery("generic", body)
    assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200
    (key,) = keys_of(delivery)
    # Customer service answers over the emailed link (a routine issue); the reply goes out and the issue resolves.
    issue_id, respond = _step_link(stack, key, "cs-lead@aurelle.example")
    from urllib.parse import urlencode

    answer = http(
        "POST",
        respond,
        urlencode(
            {
                "outcome": "submitted",
                "channels": "public_reply",
                "draft": f"Sorry about the strap; a refund is on its way ({author}).",
            }
        ).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 200
    link = _survey_link(stack, issue_id)
    assert issue_id not in link

    browser.open(link)
    assert browser.title() == "How did we do? Aurelle"
    assert "from 1 to 5" in browser.text("legend")
    browser.click("input[name=rating][value='4']")
    comment = "Quick & kind <b>thanks</b>"
    browser.type_into("textarea[name=comment]", comment)
    browser.screenshot(SURVEY_SCREENSHOT)
    browser.click("button[type=submit]")
    assert browser.wait_for_title("Thank you") == "Thank you"

    issue = next(i for i in stack.issues() if i["issue_id"] == issue_id)
    assert (issue["satisfaction"], int(issue["satisfaction_rating"]), issue["satisfaction_comment"]) == (
        "satisfied",
        4,
        comment,
    )
    from chalicelib.settings import Resources

    trail = [a["type"] for a in stack.scan(Resources.for_stage("local").audit_table) if a["issue_id"] == issue_id]
    assert "survey_sent" in trail and trail.count("survey_answered") == 1

    browser.open(link)  # reused: refused, and nothing changes
    assert browser.title() == "Survey closed"
    assert http("GET", link).status == 410
    assert int(next(i for i in stack.issues() if i["issue_id"] == issue_id)["satisfaction_rating"]) == 4


# -- what a responder sees on the page (approvals engineer) ------------------------------------------------------
@pytest.mark.skipif(bool(MISSING), reason=NO_BROWSER)
def test_the_responder_sees_deadline_escalation_voice_and_the_original_post(stack: LocalStack, browser: WebDriver):
    author = uuid.uuid4().hex[:10]
    post_url = f"https://reviews.example/aurelle/{author}"
    body = json.dumps(
        {
            "platform": "reviews",
            "id": f"voice-{author}",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "text": f"{VOICE_TEXT} <b>{author}</b>",
            "url": post_url,
            "author": {
                "id": f"u-{author}",
                "handle": f"ana{author}",
                "name": "Ana",
                "followers": 80,
                "verified": False,
            },
        }
    ).encode()
    delivery = deliveries.Delivery("generic", body)
    assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200
    (key,) = keys_of(delivery)
    issue_id, link = _approval_link(stack, key, PR_LEAD)

    browser.open(link)
    assert browser.title() == f"Draft the reply: {issue_id}"
    deadline = browser.text("p.deadline")
    assert re.fullmatch(
        r"Due \d{4}-\d\d-\d\d \d\d:\d\d UTC \((\d+ h )?\d+ min left\)\. If nobody answers by then, "
        r"the step goes to social-lead@aurelle\.example\.",
        deadline,
    ), deadline
    assert browser.do("GET", f"/element/{browser.find('a.original')}/property/href") == post_url
    voice = browser.text("ul.voice")
    assert voice.startswith("Calm and human") and "Avoid: Blaming the customer" in voice
    assert f"<b>{author}</b>" in browser.text("body")  # the author's markup shown as text, not rendered
