"""Replay the bundled sample stream against a running stack, as the platforms would deliver it.

Each row of ``demo/sample_stream.jsonl`` becomes its platform's native delivery (``deliveries.py``), signed with
the stack's secrets by the platform module's own ``sign`` and POSTed over HTTP. The replay also does what real
platforms do: the subscription handshakes first, some re-deliveries (retries), an edit and a removal of a comment,
a reaction (not a mention), and one forged delivery that must be refused.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infra.local import deliveries

SAMPLE = Path(__file__).resolve().parents[2] / "demo" / "sample_stream.jsonl"
RETRY_SHARE = 0.1


@dataclass
class HttpAnswer:
    status: int
    body: str


@dataclass
class ReplayReport:
    handshakes: dict[str, HttpAnswer] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    sent_by_endpoint: Counter = field(default_factory=Counter)
    retries: int = 0
    forged_status: int | None = None
    expected_keys: set[str] = field(default_factory=set)


def load_rows(path: Path = SAMPLE) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def shift_to_now(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Move the stream in time so that it ends now, keeping its gaps (SLA clocks then mean something)."""
    latest = max(datetime.fromisoformat(r["created_at"]) for r in rows)
    offset = now - latest
    return [{**r, "created_at": (datetime.fromisoformat(r["created_at"]) + offset).isoformat()} for r in rows]


def http(method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None) -> HttpAnswer:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
            return HttpAnswer(answer.status, answer.read().decode())
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, error.read().decode())


def post_delivery(
    base_url: str, delivery: deliveries.Delivery, secrets: Mapping[str, str], now: datetime | None = None
) -> HttpAnswer:
    from chalicelib.platforms import PLATFORMS

    now = now or datetime.now(timezone.utc)
    headers = PLATFORMS[delivery.endpoint].sign(delivery.body, secrets.__getitem__, now)
    return http(
        "POST",
        f"{base_url}/webhooks/{delivery.endpoint}",
        delivery.body,
        {"Content-Type": delivery.content_type, **headers},
    )


def forger_secrets(secrets: Mapping[str, str]) -> dict[str, str]:
    """What someone without our secrets signs with: a guess for every one of them."""
    return {name: "guessed-" + name.lower() for name in secrets}


def handshakes(base_url: str, secrets: Mapping[str, str]) -> dict[str, HttpAnswer]:
    query = urllib.parse.urlencode
    return {
        "meta": http(
            "GET",
            f"{base_url}/webhooks/meta?"
            + query(
                {
                    "hub.mode": "subscribe",
                    "hub.verify_token": secrets["META_VERIFY_TOKEN"],
                    "hub.challenge": "1158201444",
                }
            ),
        ),
        "x": http("GET", f"{base_url}/webhooks/x?" + query({"crc_token": "challenge-from-x"})),
        "youtube": http(
            "GET",
            f"{base_url}/webhooks/youtube?"
            + query(
                {
                    "hub.mode": "subscribe",
                    "hub.topic": "https://www.youtube.com/xml/feeds/videos.xml?channel_id=UC1",
                    "hub.challenge": "websub-challenge-42",
                    "hub.lease_seconds": "432000",
                }
            ),
        ),
    }


def keys_of(delivery: deliveries.Delivery) -> set[str]:
    """The identities a delivery carries, as its platform module parses them (the pipeline's own rule)."""
    from chalicelib.platforms import PLATFORMS
    from chalicelib.platforms.base import WebhookRequest

    request = WebhookRequest("POST", {"content-type": delivery.content_type}, {}, delivery.body)
    return {m.key for m in PLATFORMS[delivery.endpoint].parse(request, datetime.now(timezone.utc)).mentions}


def stream(rows: list[dict[str, Any]], seed: int = 7) -> Iterator[tuple[dict[str, Any], bool]]:
    """Rows in order, some followed by a re-delivery of the same row (``True``), as platforms retry."""
    rng = random.Random(seed)
    for row in rows:
        yield row, False
        if rng.random() < RETRY_SHARE:
            yield row, True


def replay(
    base_url: str, secrets: Mapping[str, str], rows: list[dict[str, Any]] | None = None, echo=print
) -> ReplayReport:
    report = ReplayReport()
    rows = shift_to_now(rows or load_rows(), datetime.now(timezone.utc))
    report.handshakes = handshakes(base_url, secrets)
    for name, answer in report.handshakes.items():
        echo(f"  handshake {name:<8} -> {answer.status} {answer.body[:70]}")
    for row, is_retry in stream(rows):
        delivery = deliveries.build(row)
        answer = post_delivery(base_url, delivery, secrets)
        report.statuses[answer.status] += 1
        report.sent_by_endpoint[row["route"]] += 1
        report.retries += is_retry
        if answer.status == 200:
            report.expected_keys |= keys_of(delivery)
        else:
            echo(f"  ! {row['route']} {row['id']} -> {answer.status} {answer.body[:120]}")
    # A comment edited then removed by its author, and a reaction: the platform's other events.
    comment = next(r for r in rows if r["route"] == "meta-facebook")
    edited = {**comment, "text": comment["text"] + " [edited]"}
    for delivery in (deliveries.facebook_comment_delivery(edited, verb="edited"),):
        report.statuses[post_delivery(base_url, delivery, secrets).status] += 1
    reaction = json.dumps(
        {
            "object": "page",
            "entry": [
                {
                    "id": deliveries.PAGE_ID,
                    "time": 1,
                    "changes": [
                        {
                            "field": "feed",
                            "value": {
                                "item": "reaction",
                                "verb": "add",
                                "reaction_type": "love",
                                "post_id": f"{deliveries.PAGE_ID}_1",
                                "from": {"id": "1", "name": "Fan"},
                            },
                        }
                    ],
                }
            ],
        }
    )
    report.statuses[post_delivery(base_url, deliveries.Delivery("meta", reaction.encode()), secrets).status] += 1
    removable = next(r for r in rows if r["route"] == "meta-facebook" and r is not comment)
    report.statuses[
        post_delivery(base_url, deliveries.facebook_comment_delivery(removable, verb="remove"), secrets).status
    ] += 1
    # A forged delivery: well-formed, signed the platform's way, but with a guessed secret.
    report.forged_status = post_delivery(base_url, deliveries.build(rows[0]), forger_secrets(secrets)).status
    return report
