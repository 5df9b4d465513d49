"""moto's TransactWriteItems with DynamoDB's cost model: snapshot the touched items, not whole tables.

moto 5.2.5 takes its rollback snapshot by deep-copying every table a transaction touches, once per transaction
item, so on moto a transaction costs time proportional to *all the data stored*. DynamoDB's cost is per item
written. ``make bench`` reports the pipeline both ways: on moto as shipped, and inside
:func:`item_level_rollback`, which keeps moto's semantics (all-or-nothing, the same cancellation reasons) but
snapshots and restores only the items the transaction names. ``tests/unit/test_bench_tools.py`` checks that a
cancelled transaction still leaves every item as it was.

:func:`linear_update_validation` removes a second moto cost DynamoDB does not have: moto checks an
``UpdateExpression``'s clause counts (one SET, one ADD, one REMOVE at most) again on every sub-expression of its
parse tree, each check walking that whole subtree, so an update's validation grows with the square of its actions
(a surge counter's ``UpdateItem`` of 60 ADDs: ~80 ms on moto, ~50 ms checked once). DynamoDB charges an update by
item size. Checking the root alone raises exactly when some sub-expression's check would (the root's clauses
include every sub-expression's).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any


@contextmanager
def item_level_rollback() -> Iterator[None]:
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    shipped = DynamoDBBackend.transact_write_items
    real_deepcopy = copy.deepcopy

    def touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
        snapshot = []
        for entry in transact_items:
            _, operation = next(iter(entry.items()))
            table = backend.tables.get(operation.get("TableName"))
            attributes = operation.get("Item") or operation.get("Key")
            if table is None or not attributes or table.hash_key_attr not in attributes:
                continue
            hash_key = DynamoType(attributes[table.hash_key_attr])
            range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
            bucket = table.items.get(hash_key)
            current = bucket if range_key is None else (bucket or {}).get(range_key)
            snapshot.append((table, hash_key, range_key, real_deepcopy(current) if current is not None else None))
        return snapshot

    def restore(snapshot: list[tuple[Any, Any, Any, Any]]) -> None:
        for table, hash_key, range_key, item in reversed(snapshot):
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
            elif item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        snapshot = touched(self, transact_items)
        # Tables are "copied" by reference (moto's own restore then changes nothing); every other deepcopy is real.
        models.copy = SimpleNamespace(
            deepcopy=lambda obj, memo=None: obj if isinstance(obj, Table) else real_deepcopy(obj, memo)
        )
        try:
            return shipped(self, transact_items)
        except Exception:
            restore(snapshot)
            raise
        finally:
            models.copy = copy

    DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = shipped


@contextmanager
def linear_update_validation() -> Iterator[None]:
    from moto.dynamodb.parsing.ast_nodes import UpdateExpression
    from moto.dynamodb.parsing.validators import ActionCountValidator

    shipped = ActionCountValidator.traverse

    def traverse(self: Any, node: Any) -> Any:
        return self.verify_action_counts(node) if isinstance(node, UpdateExpression) else shipped(self, node)

    ActionCountValidator.traverse = traverse
    try:
        yield
    finally:
        ActionCountValidator.traverse = shipped
