"""``social-response metrics [--since DAY] [--until DAY]``: the ops figures of the issues first seen in the period
(GET /metrics/summary): volume, response and resolution times (median, p90), SLA hit rate, CSAT, recurrence.
A figure without data is shown as ``-`` (``null`` with --json)."""

from __future__ import annotations

import argparse
from typing import TextIO
from urllib.parse import urlencode

from chalicelib.commands.common import api, api_options, emit, json_option


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="a day or a time, UTC (default: 7 days before until)")
    parser.add_argument("--until", help="a day or a time, UTC, excluded (default: now)")
    api_options(parser)
    json_option(parser)
    parser.set_defaults(run=run)


def _value(value, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


def run(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> int:
    params = {name: getattr(args, name) for name in ("since", "until") if getattr(args, name)}
    summary, _ = api(args, "GET", "/metrics/summary" + (f"?{urlencode(params)}" if params else ""))
    if args.json:
        emit(stdout, summary)
        return 0
    volume = summary["volume"]
    lines = [
        f"period            {summary['since']} .. {summary['until']}",
        f"issues            {volume['issues']} ({volume['mentions']} mentions)",
        *(
            f"  by {name:<14} {', '.join(f'{k} {v}' for k, v in sorted(volume[f'by_{name}'].items())) or '-'}"
            for name in ("category", "severity", "platform", "status")
        ),
    ]
    for name in ("response_time", "resolution_time"):
        figure = summary[name]
        lines.append(
            f"{name.replace('_', ' '):<17} median {_value(figure['median_seconds'], ' s')}, "
            f"p90 {_value(figure['p90_seconds'], ' s')} (n={figure['count']})"
        )
    for name, figure in summary["sla"].items():
        lines.append(f"SLA {name.replace('_', ' '):<13} {_value(figure['rate'])} (n={figure['count']})")
    csat = summary["csat"]
    lines.append(
        f"CSAT              {_value(csat['satisfied_share'])}, mean {_value(csat['mean_score'])} (n={csat['count']})"
    )
    # the API's "recurrence" is issues reopened after their resolution; recurrence by kind is a later issue's
    lines.append(f"reopened          {_value(summary['recurrence']['rate'])} (n={summary['recurrence']['count']})")
    kinds = summary["recurrence_by_kind"]
    lines.append(f"recurred (any)    {_value(kinds['any_rule']['rate'])} (of {kinds['resolved']} resolved)")
    stdout.write("\n".join(lines) + "\n")
    return 0
