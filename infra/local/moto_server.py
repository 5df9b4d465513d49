"""moto's server as the local stack runs it: ``python -m moto.server`` with DynamoDB made atomic across requests.

Why: moto's server handles requests on threads, and its DynamoDB is not safe for that in two ways that lose data:

* ``TransactWriteItems`` snapshots the tables it touches (a deep copy, stream shard included) and, when any
  condition fails, puts the snapshots back: a write another request made to those tables in the meantime is undone,
  and its stream records with it. Worse, a stream record's sequence number is the shard's length, so records
  written after the restore reuse numbers a stream reader has already passed, and the reader (the worker, which
  reads ``AFTER_SEQUENCE_NUMBER``) never sees them: an issue's protocol never starts. A redelivered message (a
  killed worker) is exactly what makes an idempotency guard cancel a transaction.
* ``GET /moto-api/data.json`` checks each attribute of each model is JSON-serializable, then serializes them all
  again: a stream shard that gets its first record, or a table mid-write, in between answers 500 (``Object of type
  StreamRecord is not JSON serializable``, ``keys must be str ... DynamoType``).

DynamoDB (tables and streams) therefore runs under one lock: each call is atomic, as on AWS, and a cancelled
transaction only undoes itself. data.json is left unlocked (see ``install``): its race is rare and a retry answers.
Other services (SQS long polls, Step Functions) are not serialized.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

DYNAMODB_LOCK = threading.RLock()


def _locked(method: Any) -> Any:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            return method(*args, **kwargs)

    return call


def serialize(cls: type) -> None:
    """Every public method of ``cls`` (its own and inherited from moto's base backend) runs under the lock."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attribute = getattr(cls, name)
        if (
            callable(attribute)
            and not isinstance(attribute, type)
            and not isinstance(cls.__dict__.get(name), (staticmethod, classmethod, property))
        ):
            setattr(cls, name, _locked(attribute))


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    serialize(DynamoDBBackend)
    serialize(DynamoDBStreamsBackend)
    # data.json is not locked: it serializes all of moto's state (80-100 s on make run's stack), and DynamoDB would
    # stall meanwhile; a reader retries its rare 500 instead.


def main() -> None:
    from moto import server

    from infra.local import moto_parse_cache

    install()
    moto_parse_cache.install()  # each protocol run would parse its definition again otherwise
    server.main()


if __name__ == "__main__":
    main()
