"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest
from chalice.test import Client


@pytest.fixture
def ops(aws, monkeypatch):
    """The ops API on Chalice's test client, ``ops.admin`` the admin's headers (use with ``tests.ops_client.call``)."""
    import app

    monkeypatch.setenv("OPS_RATE_LIMIT_PER_MINUTE", "100000")
    with Client(app.app, stage_name="test") as client:
        client.admin = {"Authorization": f"Bearer {aws['OPS_ADMIN_TOKEN']}", "Content-Type": "application/json"}
        yield client
