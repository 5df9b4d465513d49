"""The ops API's roles, ranked: a module of its own so that declaring a route (at ``import app``) does not load
the ops domain's pydantic models."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads issues, metrics, alerts, plans, reports
    RESPONDER = "responder"  # and works issues: assigns, changes status, notes, satisfaction scores
    ADMIN = "admin"  # and manages tokens, plans and dead letters
