"""The offline commands on real exports (review E): ``classify`` classifies a line whatever the fields it does not
read hold, reads the times real datasets carry and names a platform it is given; ``detect-surges`` counts each
line under the keys the live processor gives it (one code path: the same classification, ``observation_of``)."""

from __future__ import annotations

import argparse
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from chalicelib.bootstrap import bundled_plan
from chalicelib.commands.common import offline_mention, platform_name
from chalicelib.commands.detect_surges import run as detect_surges
from chalicelib.commands.detect_surges import surge_keys
from chalicelib.domain.event_times import read_time
from chalicelib.domain.signals import TextSignals
from chalicelib.platforms import generic
from chalicelib.platforms.base import WebhookRequest
from chalicelib.services.processor import observation_of
from chalicelib.services.triage import classify_batch
from tests.offline_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_KEYS = {"id", "complaint", "complaint_score", "sentiment", "topic", "category", "severity"}
UTC = timezone.utc


def lines(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


# -- classify ---------------------------------------------------------------------------------------------------
def test_classify_answers_every_line_of_real_exports_whatever_their_times_and_platform_names():
    text = "@united my flight was cancelled and nobody answers the phone"
    rows: list[dict[str, Any]] = [
        {"id": "airline", "text": text, "created_at": "2015-02-24 11:35:52 -0800", "platform": "twitter"},
        {"id": "twcs", "text": text, "created_at": "Tue Oct 31 22:10:47 +0000 2017"},
        {"id": "old", "text": text, "created_at": "1999-01-01T00:00:00Z"},
        {"id": "garbled", "text": text, "created_at": "yesterday-ish"},
        {"id": "ms", "text": text, "created_at": 1424806552000},
        {"id": "shop", "text": text, "platform": "My Shop"},
        {"id": "url", "text": text, "url": "x" * 5000, "author": {"id": "u" * 999, "name": 7, "followers": 12}},
    ]
    done = run_cli(["classify"], lines(rows), timeout=60)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == [r["id"] for r in rows]
    assert all(set(o) == CONTRACT_KEYS for o in out), out
    # the fields classification does not read changed nothing: one text, one answer
    assert len({json.dumps({k: v for k, v in o.items() if k != "id"}) for o in out}) == 1


def test_classify_still_refuses_a_line_it_cannot_classify_and_keeps_its_place():
    rows: list[dict[str, Any]] = [
        {"id": "a", "text": "fine"},
        {"id": "b", "text": "five stars", "rating": 11},
        {"id": "c"},
    ]
    done = run_cli(["classify"], lines(rows) + "not json\n", timeout=60)
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and len(out) == 4
    assert "category" in out[0] and "rating" in out[1]["error"] and "text" in out[2]["error"] and "error" in out[3]


AUTHOR = {"id": "a", "handle": "a", "name": "A", "followers": 0, "verified": False}


@pytest.mark.parametrize(
    "given, name",
    [(None, "unknown"), ("", "unknown"), ("My Shop", "my-shop"), ("Trustpilot", "trustpilot"),
     ("  Café Reviews ", "cafe-reviews"), ("shop.example/reviews", "shop-example-reviews"), ("x", "x")],
)  # fmt: skip
def test_a_platform_is_named_as_a_platform_name(given, name):
    assert platform_name(given) == name
    assert offline_mention({"id": "1", "text": "t", "platform": given}).platform == name


@pytest.mark.parametrize("given", ["!!!", "😀", 5, ["x"]])
def test_a_platform_with_nothing_to_name_it_by_is_refused(given):
    with pytest.raises(ValueError, match="platform"):
        platform_name(given)


def test_the_fields_classification_reads_are_kept_and_an_unusable_one_it_does_not_read_is_dropped():
    mention = offline_mention(
        {
            "id": "1",
            "text": "t",
            "created_at": "2015-02-24 11:35:52 -0800",
            "url": 42,
            "in_reply_to": 99,
            "rating": "2",
            "product": "Nova Sneakers",
            "author": {"handle": "h", "followers": "1200", "verified": True, "name": ["?"]},
        }
    )
    assert mention.created_at == datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)
    assert mention.url is None and mention.parent_id == "99" and mention.kind.value == "review"
    assert mention.rating == 2 and mention.product == "Nova Sneakers"
    assert (mention.author.handle, mention.author.followers, mention.author.verified) == ("h", 1200, True)
    assert mention.author.name is None
    with pytest.raises(ValueError, match="followers"):
        offline_mention({"id": "1", "text": "t", "author": {"followers": -3}})


# -- times ------------------------------------------------------------------------------------------------------
AT = datetime(2015, 2, 24, 19, 35, 52, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2015-02-24T19:35:52Z", "2015-02-24T19:35:52", "2015-02-24 19:35:52", "2015-02-24 19:35:52+00:00",
        "2015-02-24T11:35:52-08:00", "2015-02-24 11:35:52 -0800", "2015-02-24 11:35:52-0800", "2015-02-24T11:35:52-08",
        "2015-02-24 19:35:52 UTC", "Tue Feb 24 19:35:52 +0000 2015", "Tue, 24 Feb 2015 11:35:52 -0800",
        1424806552, 1424806552.0, "1424806552", 1424806552000, "1424806552000", "20150224T193552Z",
    ],
)  # fmt: skip
def test_the_times_real_exports_carry_are_read(value):
    assert read_time(value) == AT


def test_a_date_alone_and_a_fraction_are_read():
    assert read_time("2015-02-24") == datetime(2015, 2, 24, tzinfo=UTC)
    assert read_time("2015-02-24T19:35:52.123456789Z") == AT.replace(microsecond=123456)


@pytest.mark.parametrize(
    "value", ["yesterday", "2015-02-30 10:00:00", "", None, True, -1, float("nan"), 1e300, "1969-12-31T23:59:59Z"]
)
def test_what_is_no_time_is_refused_naming_it(value):
    with pytest.raises(ValueError):
        read_time(value)


# -- detect-surges ----------------------------------------------------------------------------------------------
def complaint_signals(text: str) -> TextSignals:
    complaint = "broke" in text.lower()
    return TextSignals(
        complaint=complaint,
        complaint_score=0.9 if complaint else 0.1,
        sentiment=-0.8 if complaint else 0.5,
        topic="product_quality" if complaint else "other",
        risk_flags=frozenset(),
    )


class OnePlan:
    def __init__(self):
        self.plan = bundled_plan()

    def active(self):
        return self.plan, 1


@pytest.mark.parametrize(
    "body, product",
    [
        ({"text": "my Nova sneakers broke after a week"}, "nova sneakers"),  # the catalogue product, in the text
        ({"text": "the sole broke after a week", "product": "Nova Sneakers"}, "nova sneakers"),  # the field
        ({"text": "the sole broke after a week", "product": "nova trainers"}, "nova sneakers"),  # an alias
        ({"text": "it broke", "product": "Something Else"}, "something else"),  # not in the catalogue
        ({"text": "my Nova sneakers broke", "product": "Luna Tote"}, "luna tote"),  # the field first, as live
        ({"text": "my Nova sneakers are great"}, None),  # no complaint: the brand only
        ({"text": "it broke", "in_reply_to": "p1", "rating": 1}, None),
    ],
)
def test_detect_surges_counts_a_line_under_the_keys_the_live_processor_gives_the_same_mention(body, product):
    body = {"platform": "shop", "id": "m1", "created_at": "2026-11-24T10:00:00Z", "author": AUTHOR, **body}
    at = datetime(2026, 11, 24, 10, tzinfo=UTC)
    live_mention = generic.parse(WebhookRequest.build("POST", raw_body=json.dumps(body).encode()), at).mentions[0]
    [(_, classification)] = classify_batch([live_mention], OnePlan(), complaint_signals)
    live = observation_of(live_mention, classification).keys
    keys = surge_keys(body, at.timestamp(), bundled_plan(), complaint_signals)
    assert keys == live
    assert [k for k in keys if k.startswith("product:")] == ([f"product:{product}"] if product else [])


def test_detect_surges_keys_a_line_with_a_time_outside_the_domains_window_all_the_same():
    row = {"id": "1", "text": "my Nova sneakers broke"}
    early = datetime(1990, 1, 1, tzinfo=UTC).timestamp()
    assert "product:nova sneakers" in surge_keys(row, early, bundled_plan(), complaint_signals)


def test_detect_surges_reads_the_time_formats_of_real_exports(capsys):
    rows: list[dict[str, Any]] = [
        {"id": "1", "created_at": "Tue Oct 31 22:10:47 +0000 2017", "text": "ok"},
        {"id": "2", "created_at": "2017-10-31 15:11:45 -0700", "text": "ok"},
        {"id": "3", "created_at": 1509487905000, "text": "ok"},
    ]
    status = detect_surges(argparse.Namespace(sort=False, plan=None), io.StringIO(lines(rows)), io.StringIO())
    assert status == 0 and "3 lines read, 0 skipped" in capsys.readouterr().err


def test_detect_surges_on_the_sample_stream_fires_the_product_surge_the_demo_opens_as_a_crisis():
    """The demo's Crisis (README: "a surge of complaints about nova sneakers: 3 since ...") comes from copies of
    one complaint naming the Nova sneakers in their text, with no ``product`` field: the CLI fires it too."""
    done = run_cli(["detect-surges"], (ROOT / "demo/sample_stream.jsonl").read_text(), timeout=60)
    assert done.returncode == 0, done.stderr
    alerts = [json.loads(line) for line in done.stdout.splitlines()]
    product = [a for a in alerts if a["key"] == "product:nova sneakers"]
    assert len(product) == 1 and product[0]["count"] >= 3, alerts
    first_copy = "2015-02-25T03:46:40Z"  # the first of the copies of walker_0's complaint
    assert product[0]["window_start"] <= first_copy <= product[0]["detected_at"]


@pytest.mark.parametrize("given", [None, "", True, 1.5, ["1"]])
def test_a_line_without_a_usable_id_is_refused_naming_id(given):
    with pytest.raises(ValueError, match='"id"'):
        offline_mention({"id": given, "text": "my order never came"})
