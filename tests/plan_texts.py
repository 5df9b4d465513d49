"""The bundled plan's YAML, and copies of it with one change: what the plan tests upload, validate and load."""

from __future__ import annotations

from chalicelib.adapters.plans import DEFAULT_PLAN

PLAN = DEFAULT_PLAN.read_text(encoding="utf-8")


def plan_with(old: str, new: str, text: str = PLAN) -> str:
    """``text`` (the bundled plan) with the first ``old`` replaced by ``new``; ``old`` must be there."""
    changed = text.replace(old, new, 1)
    assert changed != text, f"not in the plan: {old!r}"
    return changed
