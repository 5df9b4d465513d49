"""A plan PyYAML cannot build is refused with the reason, never an exception (issue 6: a 400, not a 500)."""

import pytest

from chalicelib.domain.plan import PlanError, load_plan_yaml
from chalicelib.services.plan_check import plan_problems

DEEP = "[" * 3000 + "]" * 3000  # past Python's recursion limit in PyYAML's composer
LONG_INTEGER = "brand: " + "9" * 5000  # past Python's 4,300-digit limit for int()
IMPOSSIBLE_DATE = "brand: acme\nreview_by: 2026-02-30\n"  # PyYAML's timestamp constructor raises ValueError


@pytest.mark.parametrize(
    ("text", "reason"),
    [(DEEP, "nested too deeply"), (LONG_INTEGER, "4300 digits"), (IMPOSSIBLE_DATE, "day is out of range")],
    ids=["deep", "long-integer", "impossible-date"],
)
def test_unreadable_yaml_is_one_problem_naming_why(text, reason):
    problems = plan_problems(text)
    assert [(p.place, p.line) for p in problems] == [("plan", 1)]
    assert problems[0].problem.startswith("not valid YAML: ") and reason in problems[0].problem
    assert "set_int_max_str_digits" not in problems[0].problem  # Python's advice to its programmer, not the user's
    with pytest.raises(PlanError, match=reason):
        load_plan_yaml(text)
