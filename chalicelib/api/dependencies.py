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


def reset() -> None:
    """Tests: forget adapters built against another backend."""
    mention_queue.cache_clear()
    mention_repository.cache_clear()
