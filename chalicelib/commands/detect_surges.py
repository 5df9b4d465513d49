"""``python -m chalicelib.cli detect-surges``: replay mentions in event time, print surge alerts.

stdin: JSONL mentions sorted by ``created_at`` (``{"id", "created_at", "text", "platform"?, "product"?}``).
stdout: one JSONL alert per surge, as it would fire in event time:
``{"key", "detected_at", "window_start", "count", "baseline"}``. Offline: no AWS calls.

Each mention counts under ``brand`` (all mentions) and, when the text model calls it a complaint, under
``product:<name>`` (the ``product`` field, lower-cased and stripped) and ``topic:<topic>``; see
:mod:`chalicelib.domain.surge` for why and for the maths.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Protocol, TextIO

from chalicelib.domain.surge import SurgeDetector, keys_for


class Signals(Protocol):
    topic: str
    complaint: bool


Analyzer = Callable[[str], Signals]


class SignalsUnavailable(RuntimeError):
    pass


def default_analyzer() -> Analyzer:
    """The project's text model, imported lazily (it is heavier and built separately)."""
    try:
        from chalicelib.domain.signals import analyze_one  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:  # pragma: no cover - depends on the other module being present
        raise SignalsUnavailable(
            "detect-surges needs the text model chalicelib.domain.signals.analyze_one "
            f"(topic and complaint per mention), which could not be imported: {exc}"
        ) from exc
    return analyze_one  # type: ignore[no-any-return]


# Twitter's classic ``created_at`` ("Tue Oct 31 22:10:47 +0000 2017"), as exports of real streams carry it.
TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"


def parse_time(value: Any) -> float:
    """ISO-8601 (``Z`` or offset; naive means UTC), Twitter's classic format, or epoch seconds (a number or a
    string of digits) → epoch seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("created_at missing")
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        dt = datetime.strptime(text, TWITTER_TIME)  # raises ValueError naming the value if it is not that either
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def main(stdin: TextIO, stdout: TextIO, argv: list[str], analyze: Analyzer | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="detect-surges",
        description="JSONL mentions (sorted by created_at) on stdin -> JSONL surge alerts on stdout.",
    )
    parser.parse_args(argv)
    if analyze is None:
        try:
            analyze = default_analyzer()
        except SignalsUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    detector = SurgeDetector()
    bad = 0
    for lineno, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
            ts = parse_time(item.get("created_at"))
            text = item.get("text") or ""
            if not isinstance(text, str):
                raise ValueError("text is not a string")
            product = item.get("product")
            product = product if isinstance(product, str) else None
        except (ValueError, TypeError) as exc:
            bad += 1
            print(f"detect-surges: line {lineno} skipped: {exc}", file=sys.stderr)
            continue
        signals = analyze(text)
        keys = keys_for(product=product, topic=signals.topic, complaint=bool(signals.complaint))
        for alert in detector.observe(ts, keys):
            stdout.write(json.dumps(alert.to_json()) + "\n")
    stdout.flush()
    return 1 if bad else 0
