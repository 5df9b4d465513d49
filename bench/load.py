"""Load on the local stack: 1,000 distinct signed deliveries from 16 clients, 30 % of them sent again.

Against ``make run``'s stack (moto's server, ``chalice local``, the worker) on free ports:

* 1,000 distinct generic deliveries, each signed when sent; 300 of them sent a second time: 100 at the same instant
  as the first (two connections, both requests written before either answer is read) and 200 later, as platform
  retries come. 16 client threads share the work.
* Every answer must be 200; after the worker drains the queue, each delivery's mention must be in DynamoDB, once
  (the mentions table is keyed by the mention, and the issues fold each mention once).
* Baseline, same run and same moto: 16 threads sending the same bodies as bare ``sqs.send_message`` calls.

Reported: deliveries per second and p99 latency, each as a ratio to the baseline.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

DISTINCT = 1000
CLIENTS = 16
RESENT_SHARE = 0.3
SAME_INSTANT = 100  # of the resent ones
SEED = 11


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def bodies(count: int = DISTINCT) -> list[bytes]:
    """Distinct generic deliveries: ids, authors and texts differ (products and wording vary, as real ones do)."""
    products = ["Nova sneakers", "Lina trench coat", "Alba boots", "Cortez denim jacket", "Sol dress", "Luna tote"]
    problems = [
        "arrived two weeks late",
        "broke after a few days",
        "is lovely, thank you",
        "was the wrong size",
        "never arrived",
        "fits perfectly",
    ]
    now = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    out = []
    for i in range(count):
        text = f"My {products[i % 6]} {problems[(i // 6) % 6]} (order {100000 + i})"
        out.append(
            json.dumps(
                {
                    "platform": "reviews",
                    "id": f"load-{i}",
                    "created_at": now,
                    "text": text,
                    "author": {
                        "id": f"load-author-{i}",
                        "handle": f"shopper{i}",
                        "name": "Shopper",
                        "followers": i % 500,
                        "verified": False,
                    },
                }
            ).encode()
        )
    return out


def plan(count: int = DISTINCT, seed: int = SEED) -> list[tuple[str, int]]:
    """The sends: ``("one", i)`` or ``("twin", i)`` (two at the same instant), then the later resends."""
    rng = random.Random(seed)
    resent = rng.sample(range(count), int(count * RESENT_SHARE))
    twins, later = set(resent[:SAME_INSTANT]), resent[SAME_INSTANT:]
    first = [("twin" if i in twins else "one", i) for i in range(count)]
    rng.shuffle(first)
    tail = [("one", i) for i in later]
    rng.shuffle(tail)
    return first + tail


CONNECTION_TRIES = 5


class Sender:
    """Signed POSTs to the stack's webhook. A connection the server resets before answering (``chalice local`` is
    Python's HTTPServer: an accept backlog of 5) is tried again, as a platform retries; ``resets`` counts them."""

    def __init__(self, port: int, secrets: dict[str, str]) -> None:
        self.port, self.secrets = port, secrets
        self.resets = 0
        self._lock = threading.Lock()

    def _retrying(self, send):
        for attempt in range(CONNECTION_TRIES):
            try:
                return send()
            except (ConnectionError, http.client.RemoteDisconnected):
                with self._lock:
                    self.resets += 1
                if attempt == CONNECTION_TRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)

    def _request(self, body: bytes) -> http.client.HTTPConnection:
        from chalicelib.platforms import generic

        headers = {
            "Content-Type": "application/json",
            **generic.sign(body, self.secrets.__getitem__, datetime.now(timezone.utc)),
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.request("POST", "/webhooks/generic", body=body, headers=headers)
        return connection

    @staticmethod
    def _answer(connection: http.client.HTTPConnection) -> int:
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status

    def one(self, body: bytes) -> list[tuple[int, float]]:
        started = time.perf_counter()
        status = self._retrying(lambda: self._answer(self._request(body)))
        return [(status, time.perf_counter() - started)]

    def twin(self, body: bytes) -> list[tuple[int, float]]:
        started = time.perf_counter()
        first, second = self._request(body), self._request(body)  # both on the wire before either answer
        out = []
        for connection in (first, second):
            try:
                status = self._answer(connection)
            except (ConnectionError, http.client.RemoteDisconnected):
                with self._lock:
                    self.resets += 1
                status = self._retrying(lambda: self._answer(self._request(body)))
            out.append((status, time.perf_counter() - started))
        return out


def run_clients(work: list, do, clients: int = CLIENTS) -> tuple[list[tuple[int, float]], float]:
    """``do(item)`` for every item of ``work`` from ``clients`` threads: (status, seconds) each, and the wall time."""
    tasks: queue.Queue = queue.Queue()
    for item in work:
        tasks.put(item)
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def client() -> None:
        while True:
            try:
                item = tasks.get_nowait()
            except queue.Empty:
                return
            done = do(item)
            with lock:
                results.extend(done)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def summary(results: list[tuple[int, float]], wall: float) -> dict[str, float]:
    latencies = [seconds for _status, seconds in results]
    return {
        "requests": len(results),
        "seconds": wall,
        "per_second": len(results) / wall,
        "p50_ms": 1000 * _percentile(latencies, 0.5),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
    }


# moto's server with DynamoDB's transaction cost model (``bench/moto_transactions.py``): as shipped, moto deep-copies
# every table a transaction touches, so the worker's drain of 1,000 mentions slows to a few a minute as tables grow.
MOTO_ITEM_LEVEL_ROLLBACK = (
    "import sys\n"
    "from bench.moto_transactions import item_level_rollback\n"
    "from moto.server import main\n"
    "with item_level_rollback():\n"
    "    main(sys.argv[1:])\n"
)


def load_stack(log_dir: Path):
    """``make run``'s stack, its moto server with the transaction cost model (the same one ``bench/pipeline.py``
    reports), so the figures measure the app, not moto's table copies."""
    from infra.local.stack import LocalStack, free_port

    class Stack(LocalStack):
        def _spawn(self, name: str, command: list[str], restartable: bool = False) -> None:
            if name == "moto":
                command = [command[0], "-c", MOTO_ITEM_LEVEL_ROLLBACK, *command[3:]]
            super()._spawn(name, command, restartable=restartable)

    return Stack(api_port=free_port(), moto_port=free_port(), worker_port=free_port(), log_dir=log_dir)


def run(log_dir: Path | None = None) -> dict[str, Any]:
    import tempfile

    from infra.local.deliveries import Delivery
    from infra.local.replay import keys_of

    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bench-load-"))
    payloads = bodies()
    sends = plan()
    expected = set().union(*(keys_of(Delivery("generic", body)) for body in payloads))
    assert len(expected) == DISTINCT
    stack = load_stack(log_dir)
    with stack:
        sender = Sender(stack.api_port, stack.secrets)
        results, wall = run_clients(sends, lambda s: (sender.twin if s[0] == "twin" else sender.one)(payloads[s[1]]))
        statuses: dict[int, int] = {}
        for status, _seconds in results:
            statuses[status] = statuses.get(status, 0) + 1
        webhook = summary(results, wall)

        sqs = stack.client("sqs")
        url = sqs.create_queue(QueueName="bench-bare-sends")["QueueUrl"]
        local = threading.local()

        def bare(s) -> list[tuple[int, float]]:
            if not hasattr(local, "sqs"):
                local.sqs = stack.client("sqs")  # one client per thread, as each webhook process has its own
            started = time.perf_counter()
            answer = local.sqs.send_message(QueueUrl=url, MessageBody=payloads[s[1]].decode())
            elapsed = time.perf_counter() - started
            out = [(answer["ResponseMetadata"]["HTTPStatusCode"], elapsed)]
            if s[0] == "twin":
                started = time.perf_counter()
                answer = local.sqs.send_message(QueueUrl=url, MessageBody=payloads[s[1]].decode())
                out.append((answer["ResponseMetadata"]["HTTPStatusCode"], time.perf_counter() - started))
            return out

        bare_results, bare_wall = run_clients(sends, bare)
        baseline = summary(bare_results, bare_wall)

        drain_started = time.perf_counter()
        items = stack.wait_until_stored(expected, timeout=2400)  # the worker: one batch (up to 25) at a time
        drained = time.perf_counter() - drain_started
        stored = [item for item in items if item["pk"] in expected]
        folded = [item for item in stored if item.get("issue_id")]
        issue_ids = {item["issue_id"] for item in folded}
        folded_by_issues = sum(
            int(issue["mention_count"]) for issue in stack.issues() if issue["issue_id"] in issue_ids
        )
    return {
        "distinct_deliveries": DISTINCT,
        "clients": CLIENTS,
        "sent": len(results),
        "resent_same_instant": SAME_INSTANT,
        "resent_later": int(DISTINCT * RESENT_SHARE) - SAME_INSTANT,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "all_200": set(statuses) == {200},
        "connections_reset_then_retried": sender.resets,
        "mentions_stored": len(stored),
        "stored_once": len(stored) == DISTINCT and folded_by_issues == len(folded),
        "issues_fold_each_mention_once": folded_by_issues == len(folded),
        "webhook": webhook,
        "bare_sqs_send": baseline,
        "ratio_per_second": webhook["per_second"] / baseline["per_second"],
        "ratio_p99": webhook["p99_ms"] / baseline["p99_ms"],
        "worker_drain_seconds": drained,
    }


def check(result: dict[str, Any]) -> None:
    """What ``make bench`` insists on: every delivery answered 200 and stored exactly once."""
    if not (result["all_200"] and result["stored_once"]):
        raise AssertionError(
            f"load run failed: statuses {result['statuses']}, {result['mentions_stored']} of "
            f"{result['distinct_deliveries']} stored, folded once: "
            f"{result['issues_fold_each_mention_once']}"
        )


def run_and_check() -> dict[str, Any]:
    result = run()
    print(json.dumps(result, indent=2), flush=True)
    check(result)
    return result


if __name__ == "__main__":
    run_and_check()
