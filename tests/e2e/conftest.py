"""The real local stack, started as ``make run`` starts it (moto server, CloudFormation, worker, chalice local)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.local.stack import LocalStack, free_port


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[LocalStack]:
    api_port = free_port()
    local = LocalStack(
        api_port=api_port, moto_port=free_port(), worker_port=free_port(), log_dir=tmp_path_factory.mktemp("stack-logs")
    )
    with local:
        yield local
