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

Two more moto costs DynamoDB does not have, both per value, and each on one side only:

* :func:`linear_item_size_check`: moto builds a stored item attribute by attribute, and checks the 400 KB limit
  before each one by adding up the sizes of all the attributes set so far, so storing an item costs the square
  of its attribute count (a PutItem of 110 numbers: 13 ms on moto, 4.8 of them in that sum). Checking the total once
  raises exactly when some prefix's check would (sizes are never negative). This makes writes cheaper: the floor's
  as much as the pipeline's.
* :func:`wire_attribute_values`: moto serializes every ``AttributeValue`` of a response by walking all ten
  members of its union (S, N, B, ... with alias lookups for each), about 0.2 ms a value, where DynamoDB sends the
  JSON it holds: on moto a read of 110 numbers costs 27 ms, twice a write of them, and 85 % of the pipeline's
  ``BatchGetItem`` time was this walk. The values are already in wire form (:func:`dynamo_to_dict`), so they are
  output as they are, except binary ones, which keep moto's base64 path. Only reads return values: the floor (raw
  writes) is unchanged by this one. ``tests/unit/test_bench_tools.py`` checks that the bodies are the same.

:func:`dynamodb_cost_model` applies all four; ``make bench`` also reports the pipeline under the first two alone
(the cost model until 30 November 2026) and on moto as shipped.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from types import SimpleNamespace
from typing import Any

ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict: between DynamoDB's measured 409 and 410 KB


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


@contextmanager
def linear_item_size_check() -> Iterator[None]:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    shipped = Item.__init__

    def __init__(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key, self.range_key = hash_key, range_key
        built = {name: DynamoType(value) for name, value in attrs.items()}
        if sum(bytesize(name) + value.size() for name, value in built.items()) > ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self.attrs = LimitedSizeDict()  # later updates still go through moto's own check
        dict.update(self.attrs, built)

    Item.__init__ = __init__  # type: ignore[method-assign]
    try:
        yield
    finally:
        Item.__init__ = shipped  # type: ignore[method-assign]


@contextmanager
def wire_attribute_values() -> Iterator[None]:
    from moto.core.serialize import BaseJSONSerializer

    shipped = BaseJSONSerializer._serialize_type_structure

    def serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and _without_binary(value):
            serialized[key] = value
            return
        shipped(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize_type_structure = serialize  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseJSONSerializer._serialize_type_structure = shipped  # type: ignore[method-assign]


def _without_binary(value: Any) -> bool:
    """An ``AttributeValue`` in wire form with no binary inside (moto hands those over as bytes to encode)."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    ((kind, inner),) = value.items()
    if kind in ("B", "BS"):
        return False
    if kind == "M":
        return all(_without_binary(v) for v in inner.values())
    if kind == "L":
        return all(_without_binary(v) for v in inner)
    return True


@contextmanager
def dynamodb_cost_model() -> Iterator[None]:
    """moto with all four corrections: DynamoDB's costs, moto's semantics."""
    with ExitStack() as stack:
        for correction in (item_level_rollback, linear_update_validation, linear_item_size_check):
            stack.enter_context(correction())
        stack.enter_context(wire_attribute_values())
        yield
