"""End to end: the weekly report from the running local stack, and seen in a real browser.

A complaint is delivered to the stack; ``social-response report --week <this week> --out DIR --deliver`` (the
command as an operator runs it after ``make run``) writes the HTML, its PNG charts, the JSON and the CSV, stores
them in the report bucket and emails them (moto's SES holds the raw message with its charts inline by Content-ID).
Headless Chromium then opens the HTML from disk: every chart image loads, and the screenshot holds the chart bars'
colour, counted pixel by pixel. The worker fires the ``weekly_report`` schedule on demand, as EventBridge would.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from infra.local import deliveries
from infra.local.replay import keys_of, post_delivery
from infra.local.stack import LocalStack
from tests.e2e.test_browser import MISSING, NO_BROWSER, WebDriver, browser  # noqa: F401 (the browser fixture)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / ".run" / "browser-report.png"
THIS_WEEK_BLUE = (0x1F, 0x6F, 0xEB)  # chalicelib.adapters.report_render.THIS: this week's bars
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def this_week() -> str:
    year, week, _ = datetime.now(timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def report_cli(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "report", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=stack.environment(),
        timeout=180,
    )


def deliver_a_complaint(stack: LocalStack) -> None:
    stamp = f"{time.time_ns()}"
    body = json.dumps(
        {
            "platform": "reviews",
            "id": f"report-{stamp}",
            "created_at": datetime.now(timezone.utc).isoformat(),
            "text": "My Nova sneakers fell apart after two days and nobody answers my emails. Refund me <now>!",
            "author": {
                "id": f"u-{stamp}",
                "handle": f"reporter{stamp[-6:]}",
                "name": "Rae Porter",
                "followers": 80,
                "verified": False,
            },
        }
    ).encode()
    delivery = deliveries.Delivery("generic", body)
    assert post_delivery(stack.api_url, delivery, stack.secrets).status == 200
    (key,) = keys_of(delivery)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        item = next((i for i in stack.stored_mentions() if i["pk"] == key), None)
        if item and item.get("issue_id"):
            return
        time.sleep(0.5)
    raise AssertionError("the complaint did not become an issue within 90 s")


def blue_pixels(png: bytes) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(
        1 for pixel in image.getdata() if all(abs(a - b) <= 12 for a, b in zip(pixel, THIS_WEEK_BLUE, strict=True))
    )


@pytest.mark.skipif(bool(MISSING), reason=NO_BROWSER)  # checked before the stack starts
def test_the_report_command_writes_stores_emails_and_its_charts_show_in_a_browser(
    stack: LocalStack,
    browser: WebDriver,  # noqa: F811
    tmp_path: Path,
):
    deliver_a_complaint(stack)
    week = this_week()
    done = report_cli(stack, "--week", week, "--out", str(tmp_path), "--deliver")
    assert done.returncode == 0, done.stderr
    prefix = f"report-{week}"
    written = sorted(p.name for p in tmp_path.iterdir())
    assert f"{prefix}.html" in written and f"{prefix}.json" in written and f"{prefix}.csv" in written
    assert len([n for n in written if n.endswith(".png")]) == 5
    figures = json.loads((tmp_path / f"{prefix}.json").read_text())
    assert figures["week"] == week and figures["volume"]["issues"]["this_week"] >= 1
    rows = (tmp_path / f"{prefix}.csv").read_text().splitlines()
    assert rows[0].startswith("issue_id,") and len(rows) == 1 + figures["volume"]["issues"]["this_week"]

    s3 = stack.client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "-local-reports-" in b["Name"])
    assert s3.head_object(Bucket=bucket, Key=f"reports/{week}/report.html")["ContentLength"] > 0
    raw = [m.get("raw_data", "") for m in stack.moto_state().get("ses", {}).get("RawMessage", [])]
    mails = [m for m in raw if f"weekly report {week}" in m]
    assert mails, "the report email is in moto's SES"
    assert mails[0].count("Content-ID: <chart-") == 5 and "Content-Disposition: inline" in mails[0]

    browser.open((tmp_path / f"{prefix}.html").as_uri())
    assert week in browser.title()
    loaded = browser.do(
        "POST",
        "/execute/sync",
        {
            "script": ("return Array.from(document.images).map(i => [i.id, i.complete && i.naturalWidth > 0]);"),
            "args": [],
        },
    )
    assert len(loaded) == 5 and all(ok for _, ok in loaded), loaded
    browser.screenshot(SCREENSHOT)
    shot = SCREENSHOT.read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert blue_pixels(shot) > 500, "the volume chart's bars are on screen"

    # The schedule, fired now as EventBridge would: it delivers the last full week if its slot has passed.
    request = urllib.request.Request(f"{stack.worker_url}/schedules/weekly_report", data=b"", method="POST")
    with _LOCAL.open(request, timeout=180) as answer:
        assert answer.status == 200
