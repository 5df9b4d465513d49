"""The logs of a real run carry ids, never secrets, signed links, task tokens or what authors wrote.

The sample stream (a slice with the demo's High Priority and Crisis scenarios) is replayed over HTTP to the
running stack, the approval emails arrive, one approval page is opened through its emailed link (as a person
would), and then every file under the stack's log directory, plus what the replay printed, is searched for:

* every contract secret's value;
* every emailed link's signature (``sig=...``) and every Step Functions task token the approvals recorded;
* every replayed author's handle and display name, and every replayed text (personal data: ids only).
"""

from __future__ import annotations

import html
import json
import re
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from infra.local.replay import http, load_rows, replay, shift_to_now
from infra.local.stack import LocalStack

pytestmark = pytest.mark.e2e

_ALL = load_rows()
ROWS = _ALL[:250:10] + _ALL[250:]
# Shorter than this, a handle or name could be an ordinary word of a log line ("ajay" is not, "anna" might be).
MIN_NAME = 5


def sent_emails(stack: LocalStack) -> list[dict]:
    """What moto's SES sent (``/moto-api/data.json``, the contract's place for it)."""
    data = stack.moto_state()
    return [node for node in _walk(data.get("ses", {})) if isinstance(node, dict) and "body" in node]


def _walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def approval_links(stack: LocalStack) -> list[str]:
    links = set()
    for message in sent_emails(stack):
        for href in re.findall(r'href="([^"]+/approvals/[^"]+)"', str(message.get("body", ""))):
            links.add(html.unescape(href))
    return sorted(links)


def wait_for_links(stack: LocalStack, at_least: int, timeout: float = 120.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        links = approval_links(stack)
        if len(links) >= at_least:
            return links
        time.sleep(1)
    raise AssertionError(f"fewer than {at_least} approval links were emailed within {timeout} s")


def forms_of(text: str) -> set[str]:
    """The ways a value can appear in a log line: as is, JSON-escaped, URL-encoded."""
    return {
        text,
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        urllib.parse.quote(text),
        urllib.parse.quote_plus(text),
    }


def sensitive_values(stack: LocalStack, links: list[str]) -> dict[str, str]:
    """value -> what it is, for everything that must not be in a log."""
    from chalicelib.settings import Resources

    values: dict[str, str] = {}
    for name, secret in stack.secrets.items():
        values[secret] = f"secret {name}"
    for link in links:
        signature = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["sig"][0]
        values[signature] = f"link signature of {link.split('?')[0].rsplit('/', 1)[-1][:6]}..."
    for item in stack.scan(Resources.for_stage("local").approvals_table):
        if item.get("task_token"):
            values[item["task_token"]] = "Step Functions task token"
    for row in ROWS:
        author = row["author"]
        for field in ("handle", "name"):
            if len(author.get(field) or "") >= MIN_NAME:
                values[author[field]] = f"author {field} of {row['route']} {row['id']}"
        values[row["text"]] = f"text of {row['route']} {row['id']}"
    return values


def leaks(logs: dict[str, str], values: dict[str, str]) -> list[str]:
    found = []
    for value, what in values.items():
        handle_like = what.startswith("author")
        for form in forms_of(value):
            pattern = re.compile(r"(?<![\w.@-])" + re.escape(form) + r"(?![\w-])" if handle_like else re.escape(form))
            for path, text in logs.items():
                match = pattern.search(text)
                if match:
                    line_start = text.rfind("\n", 0, match.start()) + 1
                    line = text[line_start : text.find("\n", match.end()) if "\n" in text[match.end() :] else None]
                    found.append(f"{what} in {path}: {line[:300]}")
                    break
    return sorted(set(found))


def test_the_logs_of_a_replay_hold_no_secret_link_token_or_author_data(stack: LocalStack):
    printed: list[str] = []
    report = replay(
        stack.api_url,
        stack.secrets,
        shift_to_now(ROWS, datetime.now(timezone.utc)),
        echo=lambda *parts: printed.append(" ".join(map(str, parts))),
    )
    assert set(report.statuses) == {200}, report.statuses
    stack.wait_until_stored(report.expected_keys)
    # The legal threat and the influencer open High Priority issues: PR's draft step is emailed to two people.
    links = wait_for_links(stack, at_least=2)
    page = http("GET", links[0].replace(stack.base_url, stack.api_url))
    # a person opened the emailed link, so the access log saw it with its signature; a 410 (the step moved on first:
    # the e2e stack runs protocol timers fast, and CI is loaded) is logged the same way, which is what is checked here
    assert page.status in (200, 410)
    time.sleep(2)  # the API's and worker's log lines are written by their pumps

    logs = {
        str(path.relative_to(stack.log_dir)): path.read_text(encoding="utf-8", errors="replace")
        for path in Path(stack.log_dir).rglob("*")
        if path.is_file()
    }
    logs["(replay output)"] = "\n".join(printed)
    assert logs and sum(len(text) for text in logs.values()) > 1000  # there was something to scan
    values = sensitive_values(stack, links)
    assert sum(what.startswith("Step Functions") for what in values.values()) >= 2
    assert leaks(logs, values) == []
