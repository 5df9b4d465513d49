"""The plan's surge alert budget: defaults, validation, and the surge configs it gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain.plan import PlanError, load_plan_yaml, parse_plan
from chalicelib.domain.surge import DEFAULT_CONFIGS, calibrate, configs_with_budget

DEFAULT_PLAN = Path(__file__).resolve().parents[2] / "chalicelib" / "plans" / "default.yaml"


def _document() -> dict[str, object]:
    import yaml

    return yaml.safe_load(DEFAULT_PLAN.read_text(encoding="utf-8"))


def test_a_plan_without_a_budget_gets_the_issues_defaults() -> None:
    document = _document()
    document.pop("surge_alert_budget", None)
    budget = parse_plan(document).surge_alert_budget
    assert budget.per_kind() == {"brand": 3.0, "product": 2.0, "topic": 2.0}
    # the defaults are the detector's own: a plan that says nothing changes nothing
    assert configs_with_budget(budget.per_kind()) == DEFAULT_CONFIGS


def test_a_plan_sets_its_budget_per_kind() -> None:
    document = _document()
    document["surge_alert_budget"] = {"brand": 1, "product": 4}
    budget = parse_plan(document).surge_alert_budget
    assert budget.per_kind() == {"brand": 1.0, "product": 4.0, "topic": 2.0}
    configs = configs_with_budget(budget.per_kind())
    assert configs["brand"].alert_budget == 1.0
    assert configs["product"].alert_budget == 4.0
    assert configs["brand"].windows == DEFAULT_CONFIGS["brand"].windows  # nothing else moves


@pytest.mark.parametrize(
    ("budget", "place"),
    [
        ({"brand": -1}, "surge_alert_budget.brand"),
        ({"product": "many"}, "surge_alert_budget.product"),
        ({"topic": 1000}, "surge_alert_budget.topic"),
        ({"region": 2}, "surge_alert_budget.region"),
    ],
)
def test_a_bad_budget_is_refused_naming_its_place(budget: dict[str, object], place: str) -> None:
    document = _document()
    document["surge_alert_budget"] = budget
    with pytest.raises(PlanError, match=place.replace(".", r"\.")):
        parse_plan(document)


def test_the_bundled_plan_loads_with_a_budget() -> None:
    plan = load_plan_yaml(DEFAULT_PLAN.read_text(encoding="utf-8"))
    assert plan.surge_alert_budget.brand >= 0


def test_configs_refuse_an_unknown_kind_or_a_negative_budget() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        configs_with_budget({"region": 2.0})
    with pytest.raises(ValueError, match="non-negative"):
        configs_with_budget({"brand": -1.0})


def test_a_smaller_budget_tightens_a_stormy_keys_threshold() -> None:
    # six separate past hours far beyond the starting tail: replayed, a budget of 3 lets the three most extreme
    # fire again, a budget of 1 only the most extreme, so its tail is stricter
    mus = [10.0] * (14 * 24)
    stormy = [10] * len(mus)
    for day, c in enumerate((40, 42, 44, 46, 48, 50)):
        stormy[day * 48 + 12] = c
    loose = calibrate(stormy, mus, 50.0, configs_with_budget({"brand": 3.0})["brand"])
    tight = calibrate(stormy, mus, 50.0, configs_with_budget({"brand": 1.0})["brand"])
    assert tight < loose < DEFAULT_CONFIGS["brand"].alpha
