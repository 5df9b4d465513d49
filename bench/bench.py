"""``make bench``: performance figures, each as a ratio to a baseline measured in the same run.

* webhook handler: p50/p99 per signed delivery through the real route (in-process, moto), against a bare
  ``sqs.send_message`` of the same body on the same moto: the ratio is what our verify/parse/enqueue costs.
* cold start: ``import app`` against ``import boto3`` (median of fresh interpreters), and peak memory of each.
* triage pipeline: AWS calls and DynamoDB write units per mention, and throughput against the floor of writing
  the same items raw, in CPU time, interleaved round by round (``bench/pipeline.py``).
* deployment package: the size of the zip ``make package`` ships (``chalice package`` plus the compiled bytecode).
* load (``bench/load.py``): 1,000 distinct signed deliveries from 16 clients, 30 % sent again, to the local stack;
  all answered 200, each stored once; deliveries per second and p99 against 16 clients of bare SQS sends.

Results: printed, and written to ``bench/results/bench.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from bench.load import run_and_check as bench_load
from bench.pipeline import aws_environment
from bench.pipeline import run as bench_pipeline

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DELIVERIES = 400
IMPORT_RUNS = 15


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def bench_webhook() -> dict:
    """Per-delivery latency of POST /webhooks/generic against a bare SQS send, both on in-process moto."""
    aws_environment()
    from chalice.test import Client
    from moto import mock_aws

    from infra.local.deploy import deploy_stack, seed_secrets

    with mock_aws():
        deploy_stack("test")
        secrets = seed_secrets("test", {})
        import app
        from chalicelib.adapters.aws import client
        from chalicelib.platforms import generic
        from chalicelib.settings import resources

        bodies = [
            json.dumps(
                {
                    "platform": "reviews",
                    "id": f"b{i}",
                    "created_at": "2026-11-20T10:00:00Z",
                    "text": f"The zip on my jacket broke after two days, order {i}",
                    "author": {"id": f"a{i}", "handle": f"user{i}", "name": "A", "followers": i, "verified": False},
                }
            ).encode()
            for i in range(DELIVERIES)
        ]
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=resources().ingest_queue)["QueueUrl"]
        handler, bare = [], []
        # Powertools prints EMF lines when 100 values pile up even with metrics disabled; keep them off the bench.
        with Client(app.app, stage_name="test") as test_client, contextlib.redirect_stdout(io.StringIO()):
            for warmup in bodies[:20]:  # first calls build clients and caches, as a warm Lambda has
                headers = generic.sign(warmup, secrets.__getitem__, datetime.now(timezone.utc))
                test_client.http.post(
                    "/webhooks/generic", body=warmup, headers={"Content-Type": "application/json", **headers}
                )
                sqs.send_message(QueueUrl=url, MessageBody=warmup.decode())
            for body in bodies:
                headers = generic.sign(body, secrets.__getitem__, datetime.now(timezone.utc))
                started = time.perf_counter()
                answer = test_client.http.post(
                    "/webhooks/generic", body=body, headers={"Content-Type": "application/json", **headers}
                )
                handler.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.body
                started = time.perf_counter()
                sqs.send_message(QueueUrl=url, MessageBody=body.decode())
                bare.append(time.perf_counter() - started)
    result = {
        "deliveries": DELIVERIES,
        "handler_p50_ms": 1000 * _percentile(handler, 0.5),
        "handler_p99_ms": 1000 * _percentile(handler, 0.99),
        "bare_sqs_send_p50_ms": 1000 * _percentile(bare, 0.5),
        "bare_sqs_send_p99_ms": 1000 * _percentile(bare, 0.99),
    }
    result["ratio_p50"] = result["handler_p50_ms"] / result["bare_sqs_send_p50_ms"]
    result["ratio_p99"] = result["handler_p99_ms"] / result["bare_sqs_send_p99_ms"]
    return result


_IMPORT_PROBE = """
import resource, sys, time
started = time.perf_counter()
import {module}
elapsed = time.perf_counter() - started
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _import_cost(module: str) -> tuple[float, float]:
    times, memory = [], []
    env = {**os.environ, "STAGE": "test"}
    for _ in range(IMPORT_RUNS):
        out = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE.format(module=module)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        times.append(float(out[0]))
        memory.append(float(out[1]) / 1024)
    return statistics.median(times), statistics.median(memory)


def bench_imports() -> dict:
    app_s, app_mb = _import_cost("app")
    boto3_s, boto3_mb = _import_cost("boto3")
    return {
        "import_app_ms": 1000 * app_s,
        "import_boto3_ms": 1000 * boto3_s,
        "ratio": app_s / boto3_s,
        "target_ratio_max": 1.5,
        "peak_rss_app_mb": app_mb,
        "peak_rss_boto3_mb": boto3_mb,
    }


def bench_coldstart() -> dict:
    """Cold start per handler from the deployment package, as Lambda runs it (``bench/coldstart.py``): its own
    process, as it points boto3 at a moto server."""
    done = subprocess.run([sys.executable, "-m", "bench.coldstart"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads((RESULTS / "coldstart.json").read_text(encoding="utf-8"))


def bench_package() -> dict:
    """``deployment.zip`` as ``make package`` ships it: Chalice's package with the compiled bytecode added."""
    from infra.package import compile_bytecode, packaging_environment

    with tempfile.TemporaryDirectory() as out:
        # the stage's variables with a stand-in for each the template fills in, as `make package` runs chalice
        env = {**packaging_environment("dev"), "AWS_DEFAULT_REGION": "us-east-1", "STAGE": "dev"}
        chalice = str(Path(sys.executable).parent / "chalice")
        done = subprocess.run(
            [chalice, "package", "--stage", "dev", out], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
        archive = Path(out) / "deployment.zip"
        compile_bytecode(archive)
        with zipfile.ZipFile(archive) as opened:
            unzipped = sum(info.file_size for info in opened.infolist())
        return {
            "zip_mb": archive.stat().st_size / 2**20,
            "unzipped_mb": unzipped / 2**20,
            "lambda_unzipped_limit_mb": 250,
        }


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _ratio_with_spread(figures: dict, key: str) -> str:
    """CPU over the interleaved rounds, with the range of the rounds' own ratios (``bench/pipeline.py``)."""
    spread = figures.get(f"{key}_spread")
    if not spread:
        return f"{figures[key]:.2f}×"
    return f"{figures[key]:.2f}× ({figures['rounds']} rounds {spread['min']:.2f}–{spread['max']:.2f})"


def markdown(results: dict) -> str:
    imports, webhook, package = results["imports"], results["webhook"], results["package"]
    pipeline = results["pipeline"]
    cost_model = pipeline.get("triage_cost_model") or pipeline["moto_item_level_rollback"]
    shipped = pipeline["moto_as_shipped"]
    rows = [
        (
            "webhook handler per signed delivery, p50",
            f"{webhook['handler_p50_ms']:.1f} ms",
            f"bare SQS send on the same moto {webhook['bare_sqs_send_p50_ms']:.1f} ms",
            f"{webhook['ratio_p50']:.2f}×",
            "",
        ),
        (
            "webhook handler, p99",
            f"{webhook['handler_p99_ms']:.1f} ms",
            f"bare SQS send {webhook['bare_sqs_send_p99_ms']:.1f} ms",
            f"{webhook['ratio_p99']:.2f}×",
            "",
        ),
        (
            "`import app` (cold start)",
            f"{imports['import_app_ms']:.0f} ms",
            f"`import boto3` {imports['import_boto3_ms']:.0f} ms",
            f"{imports['ratio']:.2f}×",
            "≤ 1.5×",
        ),
        (
            "peak memory after import",
            f"{imports['peak_rss_app_mb']:.1f} MB",
            f"`import boto3` {imports['peak_rss_boto3_mb']:.1f} MB",
            f"{imports['peak_rss_app_mb'] / imports['peak_rss_boto3_mb']:.2f}×",
            "",
        ),
        (
            "AWS calls per mention (triage)",
            f"{cost_model['aws_calls_per_mention']:.2f}",
            ", ".join(f"{n} {api}" for api, n in cost_model["calls_by_api"].items()) + f" for {cost_model['mentions']}",
            "",
            "≤ 2",
        ),
        (
            "DynamoDB write units per mention",
            f"{cost_model['dynamodb_write_units_per_mention']:.1f}",
            f"{cost_model['items_written_per_mention']:.1f} items, transactional",
            "",
            "",
        ),
        (
            "pipeline throughput per CPU second, DynamoDB's cost model",
            f"{cost_model['pipeline_mentions_per_s']:.0f}/s",
            f"same items raw, PutItem {cost_model['floor_putitem_mentions_per_s']:.0f}/s",
            _ratio_with_spread(cost_model, "ratio_to_putitem_floor"),
            "≤ 1.5×",
        ),
        (
            "the same against BatchWriteItem (25 a call)",
            f"{cost_model['pipeline_mentions_per_s']:.0f}/s",
            f"{cost_model['floor_batchwrite_mentions_per_s']:.0f}/s",
            _ratio_with_spread(cost_model, "ratio_to_batchwrite_floor"),
            "",
        ),
        (
            "pipeline throughput, moto as shipped",
            f"{shipped['pipeline_mentions_per_s']:.0f}/s",
            f"PutItem {shipped['floor_putitem_mentions_per_s']:.0f}/s",
            f"{shipped['ratio_to_putitem_floor']:.1f}×",
            "",
        ),
    ]
    split = cost_model.get("cpu_ms_per_mention")
    if split:
        rows.append(
            (
                "CPU per mention: our code and botocore / inside moto",
                f"{split['pipeline_our_code_and_client']:.1f} / {split['pipeline_in_moto']:.1f} ms",
                f"PutItem floor {split['floor_putitem_client']:.1f} / {split['floor_putitem_in_moto']:.1f} ms",
                "",
                "",
            )
        )
    full = pipeline.get("with_surge_detection")
    if full:
        rows += [
            (
                "with surge detection per batch: AWS calls per mention",
                f"{full['aws_calls_per_mention']:.2f}",
                ", ".join(f"{n} {api}" for api, n in full["calls_by_api"].items()),
                "",
                "≤ 2",
            ),
            (
                "with surge detection: throughput per CPU second (the demo's mentions at "
                f"{pipeline.get('stream_rate_per_second', 0):.0f} a second, the rate that fills a batch)",
                f"{full['pipeline_mentions_per_s']:.0f}/s",
                f"triage's items raw, PutItem {full['floor_putitem_mentions_per_s']:.0f}/s",
                _ratio_with_spread(full, "ratio_to_putitem_floor"),
                "≤ 1.5×",
            ),
        ]
    backlog = pipeline.get("with_surge_detection_demo_timing")
    if backlog:  # full batches of the demo's sparse timing: a batch spans an hour, as only a backlog's does
        rows.append(
            (
                "the same at the demo's own timing (27 mentions an hour; a full batch spans an hour, as in a backlog)",
                f"{backlog['pipeline_mentions_per_s']:.0f}/s",
                f"PutItem {backlog['floor_putitem_mentions_per_s']:.0f}/s",
                _ratio_with_spread(backlog, "ratio_to_putitem_floor"),
                "",
            )
        )
    earlier = pipeline.get("with_surge_detection_earlier_model")
    if earlier:  # moto's response serializer and item-size check as shipped (bench/moto_transactions.py)
        rows.append(
            (
                "the same, cost model until 30 Nov 2026 (moto's per-value serializer and size check)",
                f"{earlier['pipeline_mentions_per_s']:.0f}/s",
                f"PutItem {earlier['floor_putitem_mentions_per_s']:.0f}/s",
                _ratio_with_spread(earlier, "ratio_to_putitem_floor"),
                "",
            )
        )
    load = results.get("load")
    if load:
        rows += [
            (
                f"load: {load['distinct_deliveries']:,} signed deliveries + "
                f"{load['sent'] - load['distinct_deliveries']} resent, {load['clients']} clients",
                f"{load['webhook']['per_second']:.0f}/s",
                f"bare SQS send, {load['clients']} clients {load['bare_sqs_send']['per_second']:.0f}/s",
                f"{load['ratio_per_second']:.2f}×",
                f"all 200: {'yes' if load['all_200'] else 'NO'}; stored once: {'yes' if load['stored_once'] else 'NO'}",
            ),
            (
                "load: p99 per delivery",
                f"{load['webhook']['p99_ms']:.0f} ms",
                f"bare SQS send {load['bare_sqs_send']['p99_ms']:.0f} ms",
                f"{load['ratio_p99']:.2f}×",
                "",
            ),
        ]
    if results.get("hotkeys"):  # bench/hotkeys.py: the surge engineer's scenario
        from bench.hotkeys import rows as hotkey_rows

        rows += hotkey_rows(results["hotkeys"])
    cold = results.get("coldstart", {})
    if "handlers" in cold:
        base = cold["baseline_boto3_plus_dynamodb_get_item_ms"]
        rows += [
            (
                f"cold start `{name}`: fresh process from the package, import + one event",
                f"{h['median_ms']:.0f} ms",
                f"`import boto3` + one GetItem {base:.0f} ms",
                f"{h['ratio_to_boto3_plus_call']:.2f}×",
                "",
            )
            for name, h in cold["handlers"].items()
        ]
        rows.append(
            (
                "`import app` from the package (bytecode writes off), with its .pyc",
                f"{cold['import_app_ms']:.0f} ms",
                f"`import boto3` {cold['import_boto3_ms']:.0f} ms",
                f"{cold['import_app_ratio']:.2f}× (without .pyc {cold['import_app_without_bytecode_ratio']:.2f}×)",
                f"≤ {cold['import_app_ratio_target_max']}×",
            )
        )
    if "zip_mb" in package:
        rows.append(
            (
                "deployment package",
                f"{package['zip_mb']:.1f} MB zip, {package['unzipped_mb']:.1f} MB unzipped",
                "Lambda limit 250 MB unzipped",
                "",
                "",
            )
        )
    lines = [
        f"Measured {results['measured_at']} on {results['machine']}.",
        "",
        "| what | measured | baseline (same run) | ratio | target |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


COST_BEGIN, COST_END = "<!-- cost:begin -->", "<!-- cost:end -->"


def update_readme(text: str, begin: str = BEGIN, end: str = END) -> None:
    import re

    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    if begin in readme:
        block = f"{begin}\n{text}\n{end}"
        readme_path.write_text(
            re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, readme, flags=re.S), encoding="utf-8"
        )


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    aws_environment()
    for name, bench in (
        ("imports", bench_imports),
        ("webhook", bench_webhook),
        ("pipeline", bench_pipeline),
        ("package", bench_package),
        ("coldstart", bench_coldstart),
        ("load", bench_load),
    ):
        print(f"bench {name} ...", flush=True)
        results[name] = bench()
        print(json.dumps(results[name], indent=2), flush=True)
    from bench.hotkeys import run as bench_hotkeys

    print("bench hotkeys (10,000 mentions/s simulated from counts) ...", flush=True)
    results["hotkeys"] = bench_hotkeys()
    from bench.cost import cost_report, measure_aws_calls
    from bench.cost import markdown as cost_markdown

    print("bench aws_calls (the sample stream in process, counted) ...", flush=True)
    results["aws_calls"] = measure_aws_calls()
    results["cost"] = cost_report(results)
    (RESULTS / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = markdown(results)
    update_readme(text)
    update_readme(cost_markdown(results["cost"]), COST_BEGIN, COST_END)
    print("\n" + text + f"\n\nwritten to {(RESULTS / 'bench.json').relative_to(ROOT)} and README.md")


if __name__ == "__main__":
    main()
