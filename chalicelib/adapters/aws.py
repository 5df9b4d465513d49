"""boto3 clients, created lazily and once per process.

``import app`` must stay cheap (cold starts), so boto3 is imported on first use, not at module import.
Endpoints come from the environment: ``AWS_ENDPOINT_URL`` points every client at moto locally.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3

    if service == "dynamodbstreams":
        from botocore.config import Config

        # moto serves streams on the account-less endpoint only.
        return boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
    # the stubs type each service's client by its literal name; this factory serves every name
    return boto3.client(service)  # type: ignore[call-overload]


BATCH_GET_KEYS = 100  # BatchGetItem's limit per call
UNPROCESSED_BACKOFF_SECONDS = 0.05  # the first wait before asking again for unprocessed keys, doubling
MAX_UNPROCESSED_ROUNDS = 10  # then the read fails (a transient error: the caller's retry takes over)


def batch_get(table: str, keys: list[dict[str, Any]], dynamodb: Any = None, **options: Any) -> list[dict[str, Any]]:
    """Every stored item of ``keys``, in DynamoDB's attribute values: 100 keys a ``BatchGetItem``, asking again
    (with backoff) for the keys it leaves unprocessed. ``options`` go with the keys (``ConsistentRead``,
    ``ProjectionExpression``); ``dynamodb``: a client of the caller's (a bench counts calls)."""
    return CombinedReads(dynamodb).get(table, keys, **options)


Key = tuple[tuple[str, str, Any], ...]  # a DynamoDB key, hashable: (attribute, type, value) by attribute name


def _frozen(key: dict[str, Any]) -> Key:
    return tuple(sorted((name, *next(iter(value.items()))) for name, value in key.items()))


@dataclass
class _Deferred:
    table: str
    keys: list[dict[str, Any]]
    options: dict[str, Any]
    deliver: Callable[[list[dict[str, Any]]], None]


class CombinedReads:
    """The ``BatchGetItem`` reads of several adapters (of several tables) sent together: one call where each
    adapter would make its own.

    An adapter that knows early what it will read defers it (:meth:`defer`). Whichever adapter reads next
    (:meth:`get`) sends the deferred keys with its own, and each deferring adapter's ``deliver`` receives its
    items then. Nothing waits on another adapter's read: a deferring adapter that needs its items before anyone
    read for it calls :meth:`get` itself (which sends what is deferred too). A failed call delivers nothing: every
    deferred read is dropped, and its adapter, finding nothing delivered, reads on its own. The ingest processor
    reads a batch's dedup keys (triage) and its surge history (surges) this way: one call a batch, not two. The list
    of deferred reads is locked; a ``deliver`` runs on the thread whose read sent it (a Lambda runs one at a time).
    """

    def __init__(self, dynamodb: Any = None) -> None:
        self._dynamodb = dynamodb  # None: the shared client (a bench passes a counting one)
        self._deferred: list[_Deferred] = []
        self._lock = threading.Lock()

    def defer(
        self, table: str, keys: list[dict[str, Any]], deliver: Callable[[list[dict[str, Any]]], None], **options: Any
    ) -> None:
        """Read ``keys`` of ``table`` with the next read; ``deliver`` gets the stored items among them."""
        with self._lock:
            self._deferred.append(_Deferred(table, keys, options, deliver))

    def cancel(self, deliver: Callable[[list[dict[str, Any]]], None]) -> None:
        """Drop what was deferred with ``deliver`` and not sent yet."""
        with self._lock:
            self._deferred = [d for d in self._deferred if d.deliver != deliver]

    def get(self, table: str, keys: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
        """Every stored item of ``keys`` of ``table`` (as :func:`batch_get`), the deferred reads sent along. A
        ``ProjectionExpression`` must keep the key's attributes (an item is matched to its read by them; keys are
        matched as written, so a number key must be written as DynamoDB returns it)."""
        mine: list[dict[str, Any]] = []
        with self._lock:
            reads, self._deferred = [*self._deferred, _Deferred(table, keys, options, mine.extend)], []
        # One request per table (DynamoDB takes each table once a call, its keys distinct, with one set of
        # options): a read of a table already asked with other options goes in a call of its own, and each read
        # is answered from the call it went in.
        calls: list[_Call] = []
        placed: list[_Call] = []
        for read in reads:
            call = next((c for c in calls if c.options.get(read.table, read.options) == read.options), None)
            if call is None:
                call = _Call()
                calls.append(call)
            call.options[read.table] = read.options
            call.wanted.update({(read.table, _frozen(key)): None for key in read.keys})
            placed.append(call)
        dynamodb = self._dynamodb if self._dynamodb is not None else client("dynamodb")
        for call in calls:
            call.send(dynamodb)
        for read, call in zip(reads, placed, strict=True):
            read.deliver(
                [item for key in read.keys if (item := call.found.get((read.table, _frozen(key)))) is not None]
            )
        return mine


@dataclass
class _Call:
    """One table-and-options set of reads: its keys (distinct, in order) and what DynamoDB returned for them."""

    options: dict[str, dict[str, Any]] = field(default_factory=dict)  # table → its read options
    wanted: dict[tuple[str, Key], None] = field(default_factory=dict)
    found: dict[tuple[str, Key], dict[str, Any]] = field(default_factory=dict)

    def send(self, dynamodb: Any) -> None:
        pairs = list(self.wanted)
        for start in range(0, len(pairs), BATCH_GET_KEYS):
            request: dict[str, Any] = {}
            for name, key in pairs[start : start + BATCH_GET_KEYS]:
                entry = request.setdefault(name, {"Keys": [], **self.options[name]})
                entry["Keys"].append({attribute: {kind: value} for attribute, kind, value in key})
            for attempt in range(MAX_UNPROCESSED_ROUNDS):
                answer = dynamodb.batch_get_item(RequestItems=request)
                for name, items in answer["Responses"].items():
                    attributes = list(request[name]["Keys"][0])  # the key's attribute names
                    for item in items:
                        self.found[(name, _frozen({a: item[a] for a in attributes}))] = item
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                # DynamoDB leaves keys unprocessed when the table is throttled: ask again, backing off
                time.sleep(min(UNPROCESSED_BACKOFF_SECONDS * 2**attempt, 1.0) * random.uniform(0.5, 1.0))
            else:
                raise RuntimeError(f"BatchGetItem left keys unprocessed {MAX_UNPROCESSED_ROUNDS} times")


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends)."""
    client.cache_clear()


class AwsReadiness:
    """``GET /health``'s questions to DynamoDB and SQS."""

    def table_problem(self, tables: list[str]) -> str | None:
        for table in tables:
            status = client("dynamodb").describe_table(TableName=table)["Table"]["TableStatus"]
            if status != "ACTIVE":
                return f"{table} is {status}"
        return None

    def queue_problem(self, queues: list[str]) -> str | None:
        for queue in queues:
            client("sqs").get_queue_url(QueueName=queue)  # raises QueueDoesNotExist: reported by its name
        return None
