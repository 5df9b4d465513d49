"""``python -m chalicelib.cli detect-surges``: replay mentions in event time, print surge alerts.

stdin: JSONL mentions sorted by ``created_at`` (``{"id", "created_at", "text", "platform"?, "product"?}``; any
generic-webhook field may be present, read as ``classify`` reads it); ``created_at`` in the forms
:mod:`chalicelib.domain.event_times` reads (ISO-8601 with or without ``T`` and zone, ``2015-02-24 11:35:52 -0800``,
Twitter's ``Tue Oct 31 22:10:47 +0000 2017``, RFC 2822, epoch seconds or milliseconds).
A mention earlier than the one before it is refused with its line number (exit 1, nothing replayed), unless
``--sort`` (then all of stdin is read and replayed in time order). A summary (lines read, skipped, alerts) goes to
stderr; a line without a readable ``created_at``, or one classification cannot read, is skipped (exit 1).
stdout: one JSONL alert per surge, as it would fire in event time:
``{"key", "detected_at", "window_start", "count", "baseline"}``. Offline: no AWS calls.

Each mention counts under the keys the live processor gives it (one code path:
:func:`chalicelib.commands.common.classified`, then :func:`chalicelib.services.processor.observation_of`):
``brand`` (all mentions) and, when the text model calls it a complaint, ``product:<name>`` (the plan's catalogue
product the ``product`` field names, else the first one the title or text names, else the field as given;
lower-cased) and ``topic:<topic>``; see
:mod:`chalicelib.domain.surge` for why and for the maths. ``--plan`` names the plan whose catalogue and rules
apply (default: the bundled plan, as the local stack seeds it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from chalicelib.commands.common import classified, load_plan
from chalicelib.domain.event_times import epoch_seconds
from chalicelib.domain.limits import EARLIEST, LATEST
from chalicelib.domain.surge import SurgeDetector
from chalicelib.domain.validation import describe_validation_error

if TYPE_CHECKING:
    from chalicelib.domain.plan import ResponsePlan
    from chalicelib.domain.signals import TextSignals

Analyzer = Callable[[str], "TextSignals"]


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


def parse_time(value: Any) -> float:
    """A line's ``created_at`` as epoch seconds, in the forms :mod:`chalicelib.domain.event_times` reads (ISO-8601
    with or without ``T`` and zone, ``2015-02-24 11:35:52 -0800``, Twitter's classic format, RFC 2822, epoch
    seconds or milliseconds), from 1970 to the year 9999 (JSON's ``1e400`` and ``NaN`` are no time)."""
    if value is None or value == "":
        raise ValueError("created_at missing")
    try:
        return epoch_seconds(value)
    except ValueError as bad:
        raise ValueError(f"created_at: {bad}") from None


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", help="a response plan YAML file (default: the bundled plan)")
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


def read_mentions(stdin: TextIO) -> tuple[list[tuple[int, float, dict[str, Any]]], int, int]:
    """(line number, time, line) of each line with a readable time; how many lines were read and skipped."""
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
            text = item.get("text")
            if text is not None and not isinstance(text, str):
                raise ValueError("text is not a string")
            # id and text may be left out here (the brand still counts the mention); classify needs both
            rows.append((lineno, ts, {"id": f"line-{lineno}", **item, "text": text or ""}))
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            bad += 1
            print(f"detect-surges: line {lineno} skipped: {exc}", file=sys.stderr)
    return rows, read, bad


def surge_keys(row: dict[str, Any], ts: float, plan: ResponsePlan, analyze: Analyzer) -> tuple[str, ...]:
    """The keys a line counts under, as the live processor derives them: the same classification (the plan's
    catalogue matched in the title and text, the ``product`` field as it declares one) and the same
    :func:`~chalicelib.services.processor.observation_of`."""
    from chalicelib.services.processor import observation_of

    at = datetime.fromtimestamp(ts, tz=timezone.utc)
    mention, classification = classified(row, plan, analyze, at if EARLIEST <= at < LATEST else None)
    return observation_of(mention, classification).keys


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, analyze: Analyzer | None = None) -> int:
    if analyze is None:
        try:
            analyze = default_analyzer()
        except SignalsUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    plan = load_plan(getattr(args, "plan", None))
    rows, read, bad = read_mentions(stdin)
    if getattr(args, "sort", False):
        rows.sort(key=lambda row: row[1])
    else:
        for (_, before, _), (lineno, ts, _) in zip(rows, rows[1:], strict=False):
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
    for lineno, ts, row in rows:
        try:
            keys = surge_keys(row, ts, plan, analyze)
        except (ValueError, ValidationError, TypeError, RecursionError) as exc:
            bad += 1
            message = describe_validation_error(exc, limit=None) if isinstance(exc, ValidationError) else exc
            print(f"detect-surges: line {lineno} skipped: {message}", file=sys.stderr)
            continue
        for alert in detector.observe(ts, list(keys)):
            alerts += 1
            stdout.write(json.dumps(alert.to_json()) + "\n")
    stdout.flush()
    print(f"detect-surges: {read} lines read, {bad} skipped, {alerts} alerts", file=sys.stderr)
    return 1 if bad else 0
