"""The adapters the handlers use, built once per process (so a warm Lambda reuses clients and lookups)."""

from __future__ import annotations

from functools import lru_cache

from chalicelib.settings import resources


@lru_cache(maxsize=1)
def mention_queue():
    from chalicelib.adapters.queue import SqsMentionQueue

    return SqsMentionQueue(resources().ingest_queue)


@lru_cache(maxsize=1)
def mention_repository():
    from chalicelib.adapters.mentions_table import DynamoMentionRepository

    return DynamoMentionRepository(resources().mentions_table)


@lru_cache(maxsize=1)
def triage_store():
    from chalicelib.adapters.triage_table import DynamoTriageStore

    return DynamoTriageStore(resources())


@lru_cache(maxsize=1)
def plan_store():
    from chalicelib.adapters.plans import DynamoPlanStore

    return DynamoPlanStore(resources().plans_table)


def reset() -> None:
    """Tests: forget adapters built against another backend."""
    for factory in (mention_queue, mention_repository, triage_store, plan_store):
        factory.cache_clear()
