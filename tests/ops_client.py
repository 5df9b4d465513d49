"""Calls on the ops API as the admin, through the ``ops`` fixture (``tests/integration/conftest.py``)."""

from __future__ import annotations

import json


def call(ops, method: str, path: str, body: dict | None = None):
    """``(status, JSON body)`` of ``method path`` as the admin."""
    answer = getattr(ops.http, method)(path, body=json.dumps(body) if body is not None else None, headers=ops.admin)
    return answer.status_code, json.loads(answer.body or b"null")
