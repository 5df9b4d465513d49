"""``make bench``: performance figures, each as a ratio to a baseline measured in the same run.

* webhook handler: p50/p99 per signed delivery through the real route (in-process, moto), against a bare
  ``sqs.send_message`` of the same body on the same moto: the ratio is what our verify/parse/enqueue costs.
* cold start: ``import app`` against ``import boto3`` (median of fresh interpreters), and peak memory of each.
* triage pipeline: AWS calls and DynamoDB write units per mention, and throughput against the floor of writing
  the same items raw (``bench/pipeline.py``).
* deployment package: the size of the zip ``chalice package`` builds.

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

        bodies = [json.dumps({"platform": "reviews", "id": f"b{i}", "created_at": "2026-11-20T10:00:00Z",
                              "text": f"The zip on my jacket broke after two days, order {i}",
                              "author": {"id": f"a{i}", "handle": f"user{i}", "name": "A", "followers": i,
                                         "verified": False}}).encode() for i in range(DELIVERIES)]
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=resources().ingest_queue)["QueueUrl"]
        handler, bare = [], []
        # Powertools prints EMF lines when 100 values pile up even with metrics disabled; keep them off the bench.
        with Client(app.app, stage_name="test") as test_client, contextlib.redirect_stdout(io.StringIO()):
            for warmup in bodies[:20]:  # first calls build clients and caches, as a warm Lambda has
                headers = generic.sign(warmup, secrets.__getitem__, datetime.now(timezone.utc))
                test_client.http.post("/webhooks/generic", body=warmup, headers={"Content-Type":
                                                                                 "application/json", **headers})
                sqs.send_message(QueueUrl=url, MessageBody=warmup.decode())
            for body in bodies:
                headers = generic.sign(body, secrets.__getitem__, datetime.now(timezone.utc))
                started = time.perf_counter()
                answer = test_client.http.post("/webhooks/generic", body=body,
                                               headers={"Content-Type": "application/json", **headers})
                handler.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.body
                started = time.perf_counter()
                sqs.send_message(QueueUrl=url, MessageBody=body.decode())
                bare.append(time.perf_counter() - started)
    result = {
        "deliveries": DELIVERIES,
        "handler_p50_ms": 1000 * _percentile(handler, 0.5), "handler_p99_ms": 1000 * _percentile(handler, 0.99),
        "bare_sqs_send_p50_ms": 1000 * _percentile(bare, 0.5), "bare_sqs_send_p99_ms": 1000 * _percentile(bare, 0.99),
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
        out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE.format(module=module)], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        times.append(float(out[0]))
        memory.append(float(out[1]) / 1024)
    return statistics.median(times), statistics.median(memory)


def bench_imports() -> dict:
    app_s, app_mb = _import_cost("app")
    boto3_s, boto3_mb = _import_cost("boto3")
    return {"import_app_ms": 1000 * app_s, "import_boto3_ms": 1000 * boto3_s, "ratio": app_s / boto3_s,
            "target_ratio_max": 1.5, "peak_rss_app_mb": app_mb, "peak_rss_boto3_mb": boto3_mb}


def bench_package() -> dict:
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "STAGE": "dev"}
        chalice = str(Path(sys.executable).parent / "chalice")
        done = subprocess.run([chalice, "package", "--stage", "dev", out], cwd=ROOT, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
        archive = Path(out) / "deployment.zip"
        with zipfile.ZipFile(archive) as opened:
            unzipped = sum(info.file_size for info in opened.infolist())
        return {"zip_mb": archive.stat().st_size / 2**20, "unzipped_mb": unzipped / 2**20,
                "lambda_unzipped_limit_mb": 250}


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {"measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"}
    aws_environment()
    for name, bench in (("imports", bench_imports), ("webhook", bench_webhook), ("pipeline", bench_pipeline),
                        ("package", bench_package)):
        print(f"bench {name} ...", flush=True)
        results[name] = bench()
        print(json.dumps(results[name], indent=2), flush=True)
    (RESULTS / "bench.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {(RESULTS / 'bench.json').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
