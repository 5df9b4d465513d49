"""What one million mentions a month cost on AWS, from counts per mention, at dated us-east-1 prices.

``monthly_cost(counts, mentions)`` prices a :class:`MentionCounts` (what one mention costs in each billed unit)
with ``bench/prices-us-east-1.json`` (each price with its source page and the month it was read). Everything scales
linearly with the volume except the fixed part: Lambda's SQS pollers' empty receives, which cost the same at any
volume. ``counts_from_bench(results)`` takes the counts ``make bench`` measured (``bench/results/bench.json``)
and names every count it could not measure as an assumption, with its reason, in the result.

``measure_aws_calls()`` counts the app's AWS requests over an in-process replay of the sample stream
(``bench.faults.run_stream`` with counting botocore hooks): reads, SQS sends, executions, SNS publishes and SES
emails per stored mention. ``make bench`` runs it and prices the result (``bench/bench.py``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.settings import MENTION_BATCH_SIZE

PRICES = Path(__file__).with_name("prices-us-east-1.json")
MILLION = 1_000_000
SCALES = (1, 10, 100)
SECONDS_PER_MONTH = 30 * 24 * 3600
# Lambda's SQS event source polls each queue with at least 5 long-poll (20 s) receives in flight, message or not.
SQS_POLLERS_PER_QUEUE = 5
LONG_POLL_SECONDS = 20


@dataclass
class FunctionUse:
    """A function's share of one mention: invocations per mention, and the billed duration of each."""

    name: str
    invocations: float
    duration_ms: float
    memory_mb: int

    @property
    def gb_seconds(self) -> float:
        billed_ms = math.ceil(self.duration_ms)  # Lambda bills by the millisecond
        return self.invocations * billed_ms / 1000 * self.memory_mb / 1024


@dataclass
class MentionCounts:
    """Billed units per mention."""

    functions: list[FunctionUse]
    api_requests: float
    dynamodb_write_units: float
    dynamodb_read_units: float
    sqs_requests: float
    sfn_transitions: float
    sns_publishes: float
    ses_emails: float
    consumed_queues: int = 3  # each has Lambda's pollers on it
    assumptions: dict[str, str] = field(default_factory=dict)  # count -> why it is assumed, not measured


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def monthly_cost(counts: MentionCounts, mentions: int, prices: dict[str, Any] | None = None) -> dict[str, float]:
    """USD per month by service for ``mentions`` mentions a month."""
    price = {name: entry["usd"] for name, entry in (prices or load_prices())["prices"].items()}
    invocations = sum(f.invocations for f in counts.functions)
    gb_seconds = sum(f.gb_seconds for f in counts.functions)
    idle_polls = counts.consumed_queues * SQS_POLLERS_PER_QUEUE * SECONDS_PER_MONTH / LONG_POLL_SECONDS
    cost = {
        "lambda": mentions * (gb_seconds * price["lambda_gb_second"] + invocations * price["lambda_request"]),
        "api_gateway": mentions * counts.api_requests * price["api_gateway_rest_request"],
        "dynamodb": mentions
        * (
            counts.dynamodb_write_units * price["dynamodb_write_request_unit"]
            + counts.dynamodb_read_units * price["dynamodb_read_request_unit"]
        ),
        "sqs": (mentions * counts.sqs_requests + idle_polls) * price["sqs_request"],
        "step_functions": mentions * counts.sfn_transitions * price["sfn_state_transition"],
        "sns": mentions * counts.sns_publishes * price["sns_publish"],
        "ses": mentions * counts.ses_emails * price["ses_email"],
    }
    cost["total"] = sum(cost.values())
    return {k: round(v, 2) for k, v in cost.items()}


def scaled(counts: MentionCounts, base: int = MILLION, prices: dict[str, Any] | None = None) -> dict[str, Any]:
    """The monthly cost at ``base`` mentions and at 10x and 100x."""
    prices = prices or load_prices()
    return {f"{scale}x": {"mentions": base * scale, **monthly_cost(counts, base * scale, prices)} for scale in SCALES}


# What make bench does not measure yet, with the figure used and why (replace each with a measurement).
ASSUMED = {
    "api_requests": (
        1.0,
        "one webhook delivery per mention (platforms batch some; X and Meta may send several "
        "mentions per delivery, which only lowers this)",
    ),
    "sqs_requests": (
        1.3,
        "1 SendMessage per delivery, plus Lambda's receive and delete per 10 messages "
        "(SQS's most a call: 0.1 + 0.1) and the approval/publish messages of escalated issues (~0.1)",
    ),
    "dynamodb_read_units": (
        2.0,
        "one strongly consistent BatchGetItem of the mention's dedup keys (~1 RU per "
        "item under 4 KB), plus the issue read on a stream start",
    ),
    "sfn_transitions": (
        0.15,
        "about 1% of mentions open a High Priority or Crisis issue (2 of ~270 in the demo "
        "stream), ~15 transitions per protocol run",
    ),
    "sns_publishes": (0.02, "new High Priority/Crisis and surge alerts, hourly-capped: ~2 per 100 mentions"),
    "ses_emails": (0.04, "~4 approval emails (draft, legal, management, reminder) per escalated issue"),
    "start_protocols_invocations": (
        0.1,
        "the issues stream batches up to 25 records; ~1 change in 10 mentions opens or escalates an issue",
    ),
}


class CallCounter:
    """Counts the app's AWS calls in :func:`bench.faults.run_stream` (it takes this in place of a fault injector):
    requests per service and operation, the keys a ``BatchGetItem`` reads (each key is a read) and the messages
    the app puts on queues (a ``SendMessageBatch`` is one request of up to 10)."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.batch_get_keys = 0
        self.messages_sent = 0
        self._installed: list[tuple[Any, str, Any]] = []

    def _before_call(self, model, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def _parameters(self, params, model, **_: Any) -> None:  # the API's parameters, before serialization
        if model.name == "BatchGetItem":
            self.batch_get_keys += sum(len(table.get("Keys", [])) for table in params.get("RequestItems", {}).values())
        elif model.name == "SendMessageBatch":
            self.messages_sent += len(params.get("Entries", []))
        elif model.name == "SendMessage":
            self.messages_sent += 1

    def install(self, clients: dict[str, Any]) -> CallCounter:
        for aws_client in clients.values():
            service_id = aws_client.meta.service_model.service_id.hyphenize()
            for event, handler in (
                (f"before-call.{service_id}", self._before_call),
                (f"before-parameter-build.{service_id}", self._parameters),
            ):
                aws_client.meta.events.register(event, handler, unique_id=f"count-{event}")
                self._installed.append((aws_client, event, handler))
        return self

    def uninstall(self) -> None:
        for aws_client, event, _handler in self._installed:
            aws_client.meta.events.unregister(event, unique_id=f"count-{event}")
        self._installed.clear()

    def summary(self) -> dict[str, Any]:
        return {
            "calls": dict(sorted(self.calls.items())),
            "batch_get_keys": self.batch_get_keys,
            "messages_sent": self.messages_sent,
        }


READS = ("dynamodb.GetItem", "dynamodb.Query", "dynamodb.Scan")
SQS_SENDS = ("sqs.SendMessage", "sqs.SendMessageBatch")


def measure_aws_calls(every: int = 1) -> dict[str, Any]:
    """The app's AWS requests per stored mention over an in-process replay of the sample stream
    (``bench.faults.run_stream``, no faults): what ``counts_from_bench`` prices instead of assuming."""
    from bench.faults import run_stream
    from infra.local.replay import load_rows

    every_row = load_rows()
    rows = every_row[::every]
    # A thinned replay still needs two rows of each route (the replay edits one Facebook comment, removes another).
    for route in sorted({r["route"] for r in every_row}):
        rows += [r for r in every_row if r["route"] == route and r not in rows][
            : max(0, 2 - sum(1 for r in rows if r["route"] == route))
        ]
    counter = CallCounter()
    result = run_stream(rows, faults=counter)  # type: ignore[arg-type] - install/uninstall/summary suffice
    mentions = result.outcomes["mentions"]
    calls = counter.calls
    reads = sum(calls[name] for name in READS) + counter.batch_get_keys
    sends = sum(calls[name] for name in SQS_SENDS)
    return {
        "rows": len(rows),
        "mentions": mentions,
        "calls": dict(sorted(calls.items())),
        "batch_get_keys": counter.batch_get_keys,
        "messages_sent": counter.messages_sent,
        "per_mention": {
            "dynamodb_read_requests": round(reads / mentions, 3),
            # each message sent is received and deleted by Lambda's poller in batches of up to 10 (a receive and a
            # delete per batch); the protocols' approval and publish messages are sent by Step Functions, not here
            "sqs_requests": round((sends + 2 * counter.messages_sent / 10) / mentions, 3),
            "sfn_executions": round(calls["stepfunctions.StartExecution"] / mentions, 4),
            "sns_publishes": round(calls["sns.Publish"] / mentions, 4),
            "ses_emails": round(calls["ses.SendEmail"] / mentions, 4),
        },
    }


# State transitions of one protocol run (draft, legal, management, publish, resolve, with their waits): the
# compiled state machines' main path; moto's execution history is not read by the replay.
TRANSITIONS_PER_EXECUTION = 15


def counts_from_bench(results: dict[str, Any], memory_mb: int = 512) -> MentionCounts:
    """Counts per mention from ``make bench``'s results; what it does not measure comes from :data:`ASSUMED`."""
    pipeline = results["pipeline"].get("with_surge_detection") or results["pipeline"]["moto_item_level_rollback"]
    webhook = results["webhook"]
    # per mention: CPU time on moto in one process (bench/pipeline.py), moto's emulation standing in for the
    # DynamoDB round trips a Lambda waits for (and is billed for) on AWS
    processor_ms = 1000 / pipeline["pipeline_mentions_per_s"]
    functions = [
        FunctionUse("api_handler (webhook)", 1.0, webhook["handler_p50_ms"], memory_mb),
        # Lambda invokes the processor once per batch; the batch takes its mentions' time.
        FunctionUse("process_mentions", 1 / MENTION_BATCH_SIZE, MENTION_BATCH_SIZE * processor_ms, memory_mb),
        FunctionUse("start_protocols", ASSUMED["start_protocols_invocations"][0], 50.0, memory_mb),
    ]
    measured_wcu = pipeline["dynamodb_write_units_per_mention"]
    surge_units = _surge_counter_units(results, pipeline)
    if surge_units is not None:  # the counter updates at their item's size, not one unit each
        measured_wcu = round(measured_wcu + surge_units, 3)
    measured = (results.get("aws_calls") or {}).get("per_mention", {})
    assumed = dict(ASSUMED)
    if measured:  # measured counts replace their assumption
        assumed["sfn_transitions"] = (
            measured["sfn_executions"] * TRANSITIONS_PER_EXECUTION,
            f"executions per mention measured; {TRANSITIONS_PER_EXECUTION} transitions per execution assumed",
        )
        for name in ("dynamodb_read_units", "sqs_requests", "sns_publishes", "ses_emails"):
            assumed.pop(name)
    values = {name: value for name, (value, _) in assumed.items()}
    return MentionCounts(
        functions=functions,
        api_requests=values["api_requests"],
        dynamodb_write_units=measured_wcu,
        # 1 read unit per item read (strongly consistent, under 4 KB: the app's items are)
        dynamodb_read_units=measured.get("dynamodb_read_requests", values.get("dynamodb_read_units")),
        sqs_requests=measured.get("sqs_requests", values.get("sqs_requests")),
        sfn_transitions=values["sfn_transitions"],
        sns_publishes=measured.get("sns_publishes", values.get("sns_publishes")),
        ses_emails=measured.get("ses_emails", values.get("ses_emails")),
        assumptions={name: why for name, (_, why) in assumed.items()}
        | {"start_protocols duration": "50 ms per stream batch (not measured)"},
    )


def _surge_counter_units(results: dict[str, Any], pipeline: dict[str, Any]) -> float | None:
    """Write units per mention to add for the surge counters' ``UpdateItem``s: ``bench/pipeline.py`` charges each
    one unit (its key's size); DynamoDB charges the whole item's size, which ``bench/hotkeys.py`` measures."""
    hotkeys = (results.get("hotkeys") or {}).get("surge_counters")
    updates = pipeline.get("calls_by_api", {}).get("UpdateItem")
    if not hotkeys or not updates:
        return None
    return hotkeys["write_units_per_mention"] - updates / pipeline["mentions"]


def cost_report(results: dict[str, Any], memory_mb: int = 512) -> dict[str, Any]:
    """What bench.json records: the counts used, the prices' date, and the cost at 1x, 10x and 100x."""
    prices = load_prices()
    counts = counts_from_bench(results, memory_mb)
    return {
        "prices_as_of": prices["as_of"],
        "region": prices["region"],
        "counts_per_mention": asdict(counts),
        "monthly_usd": scaled(counts, prices=prices),
    }


def markdown(report: dict[str, Any]) -> str:
    """The README's cost table."""
    services = ["lambda", "api_gateway", "dynamodb", "sqs", "step_functions", "sns", "ses", "total"]
    header = "| mentions per month | " + " | ".join(s.replace("_", " ") for s in services) + " |"
    lines = [
        f"Monthly cost at {report['region']} prices of {report['prices_as_of']} "
        f"(`bench/prices-{report['region']}.json`), USD:",
        "",
        header,
        "|---" * (len(services) + 1) + "|",
    ]
    for row in report["monthly_usd"].values():
        lines.append(f"| {row['mentions']:,} | " + " | ".join(f"{row[s]:,.2f}" for s in services) + " |")
    counts = report["counts_per_mention"]
    lines += [
        "",
        "Per mention: "
        + ", ".join(
            f"{name.replace('_', ' ')} {counts[name]:g}"
            for name in (
                "dynamodb_write_units",
                "dynamodb_read_units",
                "sqs_requests",
                "sfn_transitions",
                "sns_publishes",
                "ses_emails",
            )
        )
        + "; Lambda "
        + ", ".join(f"{f['name']} {f['invocations']:g}x{math.ceil(f['duration_ms'])} ms" for f in counts["functions"])
        + ".",
    ]
    if counts["assumptions"]:
        lines += ["", "Assumed, not measured:"] + [f"- {name}: {why}" for name, why in counts["assumptions"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    bench = json.loads((Path(__file__).parent / "results" / "bench.json").read_text(encoding="utf-8"))
    report = cost_report(bench)
    print(markdown(report))
