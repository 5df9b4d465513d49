"""Plan upkeep on schedules: the quarterly plan review check (daily; an overdue plan alerts on SNS once per due
day) and the monthly review reminder to each protocol's owners with that protocol's figures for the last month
(the 1st, 07:00 UTC). The use cases are in ``chalicelib/services/upkeep.py``."""

from __future__ import annotations

from chalice import Blueprint, Cron

upkeep = Blueprint(__name__)


@upkeep.schedule(Cron(0, 7, "*", "*", "?", "*"), name="check_plan_review")
def check_plan_review(event):
    """Is the active plan's review overdue (90 days by default)? Then alert on SNS, naming outdated protocols."""
    from datetime import datetime, timezone

    from chalicelib.bootstrap import alerts, plan_store
    from chalicelib.observability import logger
    from chalicelib.services.upkeep import check_plan_review as check

    plan, version = plan_store().active()
    logger.info("plan review check", extra=check(plan, version, alerts(), datetime.now(timezone.utc)))


@upkeep.schedule(Cron(0, 7, 1, "*", "?", "*"), name="send_review_reminders")
def send_review_reminders(event):
    """The monthly review reminder: each protocol's owners get its SLA hit rate, cycle times and timeouts."""
    from datetime import datetime, timezone

    from chalicelib.bootstrap import issues, plan_store, reminder_mailer
    from chalicelib.observability import logger
    from chalicelib.services.upkeep import send_review_reminders as send

    plan, _ = plan_store().active()
    sent = send(plan, issues(), reminder_mailer(), datetime.now(timezone.utc))
    logger.info("review reminders", extra={"sent": sent})
