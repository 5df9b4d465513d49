"""Meta's "unhide" (an edit with no content) makes a hidden comment visible again; a removal stays final."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain.models import MentionEvent
from tests.integration.test_out_of_order import _deliver, _event, _stored, pipeline  # noqa: F401  (fixture)
from tests.triage_fixtures import T0


def unhide():
    return _event("add").model_copy(
        update={"event": MentionEvent.EDITED, "text": "", "created_at": T0 + timedelta(minutes=7)}
    )


EVENTS = {"unhide": unhide}


def events(order: tuple[str, ...]):
    return [EVENTS[kind]() if kind in EVENTS else _event(kind) for kind in order]


@pytest.mark.parametrize(
    ("order", "status"),
    [
        (("add", "hide", "unhide"), "visible"),
        (("add", "hide", "unhide", "unhide"), "visible"),
        (("add", "hide", "unhide", "hide"), "hidden"),
        (("add", "remove", "unhide"), "removed"),
        (("add", "hide", "remove", "unhide"), "removed"),
        (("add", "hide", "edit"), "hidden"),  # an edit with words is no unhide: Meta sends unhide for that
        (("hide", "unhide", "add"), "visible"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, tuple) else v,
)
def test_unhide_makes_a_hidden_comment_visible_unless_removed(pipeline, order, status):  # noqa: F811
    _deliver(pipeline, events(order))
    assert _stored()["status"] == status
