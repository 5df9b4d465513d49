"""``python -m chalicelib.cli detect-surges``: replay mentions in event time, print surge alerts.

stdin: JSONL mentions sorted by ``created_at`` (``{"id", "created_at", "text", "platform"?, "product"?}``);
a mention earlier than the one before it is refused with its line number (exit 1, nothing replayed), unless
``--sort`` (then all of stdin is read and replayed in time order). A summary (lines read, skipped, alerts) goes to
stderr.
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
    @property
    def topic(self) -> str: ...

    @property
    def complaint(self) -> bool: ...


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
    return analyze_one


# Twitter's classic ``created_at`` ("Tue Oct 31 22:10:47 +0000 2017"), as exports of real streams carry it.
TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"
LATEST_EPOCH = 253402300800.0  # 10000-01-01T00:00:00Z


def parse_time(value: Any) -> float:
    """ISO-8601 (``Z`` or offset; naive means UTC), Twitter's classic format, or epoch seconds (a number or a
    string of digits) → epoch seconds, from 1970 to the year 9999 (JSON's ``1e400`` and ``NaN`` are no time)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _in_range(float(value))
    if not isinstance(value, str) or not value.strip():
        raise ValueError("created_at missing")
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return _in_range(float(text))
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        dt = datetime.strptime(text, TWITTER_TIME)  # raises ValueError naming the value if it is not that either
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _in_range(epoch: float) -> float:
    if not 0 <= epoch < LATEST_EPOCH:  # also False for NaN
        raise ValueError(f"created_at: {epoch!r} is not a time from 1970 to 9999")
    return epoch


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sort", action="store_true", help="sort the input by created_at first (default: refuse out-of-order input)"
    )
    parser.set_defaults(run=run)


def main(stdin: TextIO, stdout: TextIO, argv: list[str], analyze: Analyzer | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="social-response detect-surges", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    configure(parser)
    return run(parser.parse_args(argv), stdin, stdout, analyze)


def read_mentions(stdin: TextIO) -> tuple[list[tuple[int, float, str, str | None]], int, int]:
    """(line number, time, text, product) of each readable line; how many lines were read and skipped."""
    rows, read, bad = [], 0, 0
    for lineno, line in enumerate(stdin, 1):
        if not line.strip():
            continue
        read += 1
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
            ts = parse_time(item.get("created_at"))
            text = item.get("text") or ""
            if not isinstance(text, str):
                raise ValueError("text is not a string")
            product = item.get("product")
            rows.append((lineno, ts, text, product if isinstance(product, str) else None))
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            bad += 1
            print(f"detect-surges: line {lineno} skipped: {exc}", file=sys.stderr)
    return rows, read, bad


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, analyze: Analyzer | None = None) -> int:
    if analyze is None:
        try:
            analyze = default_analyzer()
        except SignalsUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    rows, read, bad = read_mentions(stdin)
    if getattr(args, "sort", False):
        rows.sort(key=lambda row: row[1])
    else:
        for (_, before, _, _), (lineno, ts, _, _) in zip(rows, rows[1:], strict=False):
            if ts < before:
                print(
                    f"detect-surges: line {lineno}: created_at is earlier than the mention before it; the input "
                    "must be sorted by created_at (or pass --sort)",
                    file=sys.stderr,
                )
                print(
                    f"detect-surges: {read} lines read, {bad} skipped, 0 alerts (refused: out of order)",
                    file=sys.stderr,
                )
                return 1
    detector = SurgeDetector()
    alerts = 0
    for _, ts, text, product in rows:
        signals = analyze(text)
        keys = keys_for(product=product, topic=signals.topic, complaint=bool(signals.complaint))
        for alert in detector.observe(ts, keys):
            alerts += 1
            stdout.write(json.dumps(alert.to_json()) + "\n")
    stdout.flush()
    print(f"detect-surges: {read} lines read, {bad} skipped, {alerts} alerts", file=sys.stderr)
    return 1 if bad else 0
