"""The pipeline's surge thresholds follow the active plan's alert budget (``surge_alert_budget``).

A week of ordinary traffic holds one product burst; a smaller one comes after it. With the default budget (2
unexplained product alerts per two weeks) the key's own history may hold that one past alert, and the second burst
opens a Crisis. With a budget of 0, the calibration tightens the key's threshold below the past burst, and the
second burst, half its size, opens nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone

from chalicelib.domain.surge import Observation, keys_for
from chalicelib.services.surges import count_surges
from tests.fakes import FakeActivePlan, FakeCrisisIssues, FakeSurgeStore

START = datetime(2026, 11, 2, 0, 0, tzinfo=timezone.utc).timestamp()
DAYS = 8


def product_burst(begin: float, tag: str, size: int) -> list[Observation]:
    keys = tuple(keys_for(product="nova sneakers", topic="quality", complaint=True))
    return [Observation(at=begin + j * 150, mention=f"x#{tag}-{j}", keys=keys) for j in range(size)]


def stream() -> list[Observation]:
    """Eight days of a mention every 15 minutes, a product burst of 16 complaints on day 4, one of 8 at the end."""
    out = []
    for i in range(DAYS * 96):
        complaint = i % 11 == 0
        keys = keys_for(product=None, topic="delivery" if complaint else None, complaint=complaint)
        out.append(Observation(at=START + i * 900 + 7, mention=f"x#bg-{i}", keys=tuple(keys)))
    out += product_burst(START + 4 * 86400 + 14 * 3600 + 60, "first", 16)
    out += product_burst(START + DAYS * 86400 + 14 * 3600 + 60, "second", 8)
    return sorted(out, key=lambda o: o.at)


class PlanWithBudget(FakeActivePlan):
    def __init__(self, **budget: float) -> None:
        self.budget = budget

    def active(self):
        plan, version = super().active()
        return plan.model_copy(
            update={"surge_alert_budget": plan.surge_alert_budget.model_copy(update=self.budget)}
        ), version


def crises_opened(plans: FakeActivePlan) -> list[str]:
    store, issues = FakeSurgeStore(), FakeCrisisIssues()
    observations = stream()
    for start in range(0, len(observations), 10):
        batch = observations[start : start + 10]
        count_surges(batch, store, issues, plans, max(o.at for o in batch), lambda error: False)
    return sorted(issues.issues)


def test_the_plans_alert_budget_sets_how_many_past_bursts_a_key_may_have_raised():
    with_default = crises_opened(FakeActivePlan())
    with_none = crises_opened(PlanWithBudget(brand=0.0, product=0.0, topic=0.0))

    assert len(with_default) == 2, with_default  # day 4's burst and the one at the end
    assert with_none == with_default[:1]  # only day 4's, when the key had no burst in its history yet
