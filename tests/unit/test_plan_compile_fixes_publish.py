"""Review D3: a protocol's ``publish`` is a non-empty list of the channels that exist.

``publish: []`` validated, and its runs resolved issues without any reply; ``publish: [email]`` validated too and
was published nowhere. Both are refused now with a message naming the field; a stored version is read as it is.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.domain.plan import PlanError, load_plan_yaml, parse_plan

PLAN_FILE = Path(__file__).resolve().parents[2] / "chalicelib" / "plans" / "default.yaml"
DOCUMENT = yaml.safe_load(PLAN_FILE.read_text())


def _with_publish(publish: Any) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    document["protocols"]["routine"]["publish"] = publish
    return document


@pytest.mark.parametrize(
    ("publish", "says"),
    [
        ([], "at least one channel: public_reply, private_reply"),
        (["email"], "unknown channel 'email': the channels are public_reply, private_reply"),
        (["public_reply", "pubic_reply"], "unknown channel 'pubic_reply'"),
        (["public_reply", "public_reply"], "each channel is listed once"),
    ],
)
def test_an_empty_or_unknown_channel_list_is_refused_naming_the_field(publish: list[str], says: str) -> None:
    with pytest.raises(PlanError) as refused:
        parse_plan(_with_publish(publish))
    assert "protocols.routine.publish: " in str(refused.value)
    assert says in str(refused.value)


@pytest.mark.parametrize("publish", [["public_reply"], ["private_reply"], ["private_reply", "public_reply"]])
def test_the_channels_that_exist_are_accepted(publish: list[str]) -> None:
    assert parse_plan(_with_publish(publish)).protocols["routine"].publish == publish


def test_the_default_is_a_public_reply_and_the_bundled_plan_validates() -> None:
    document = copy.deepcopy(DOCUMENT)
    del document["protocols"]["routine"]["publish"]
    assert parse_plan(document).protocols["routine"].publish == ["public_reply"]
    load_plan_yaml(PLAN_FILE.read_text())


def test_a_stored_version_is_read_as_it_is() -> None:
    # Versions stored before the check keep being read (triage reads the active plan); never refused.
    assert parse_plan(_with_publish([]), stored=True).protocols["routine"].publish == []
