"""Surge detection as mentions are processed: count, evaluate, and open one Crisis issue per surge.

Per batch of triaged mentions: the counts are ADDed (a day item and an hour item for all keys, on one of their
write shards), the history of the keys the batch touched is read once, and each key is evaluated at the batch's
latest event time with the same baseline fit (:func:`chalicelib.domain.surge.fit_key_baseline`) and test
(:func:`chalicelib.domain.surge.evaluate`) that ``detect-surges`` runs offline. A key that starts surging records
its new state with a conditional write (so two processors do not both fire) and opens a Crisis issue linking the
mentions counted; the issues stream then starts the crisis protocol and sends the one alert.

Depends on ports only: :class:`~chalicelib.services.ports.SurgeStore` for counters and states,
:class:`~chalicelib.services.ports.CrisisIssues` and :class:`~chalicelib.services.ports.ActivePlan` for the Crisis.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

from chalicelib.domain.surge import (
    BRAND_KEY,
    DEFAULT_CONFIGS,
    BucketCounts,
    Observation,
    SurgeAlert,
    SurgeConfig,
    SurgeState,
    config_for,
    configs_with_budget,
    countable,
    days_needed,
    evaluate,
    evaluation_time,
    fit_key_baseline,
    history_range,
    hour_of,
)
from chalicelib.observability import logger, metrics
from chalicelib.services.errors import StateConflict
from chalicelib.services.ports import ActivePlan, CrisisIssues, SurgeHistoryView, SurgeStore

OpenCrisis = Callable[[SurgeAlert, list[str], str | None], str]  # alert, linked mentions, the key's last Crisis
JoinCrisis = Callable[[str, SurgeAlert], None]

SPECIFICITY = {"product": 0, "topic": 1, "brand": 2}
SAME_SURGE_SECONDS = 3600  # keys firing within an hour of an active Crisis are the same surge
SURGE_ATTEMPTS = 3
SURGE_BACKOFF_SECONDS = (0.2, 0.8)


def _hours(start: float, end: float) -> list[str]:
    hours, moment = [], int(start) - int(start) % 3600
    while moment < end:
        hours.append(hour_of(moment))
        moment += 3600
    return hours


def reads_for(
    counted: list[Observation], clock: float, configs: Mapping[str, SurgeConfig]
) -> tuple[float, list[str], list[str], list[str]]:
    """What evaluating ``counted`` reads: the time it is evaluated at, the keys (the brand's first), the days of
    hourly counts and the hours of 5-minute counts their baselines and windows need."""
    at = evaluation_time((o.at for o in counted), clock)
    keys = sorted({key for o in counted for key in o.keys} | {BRAND_KEY}, key=lambda k: (k != BRAND_KEY, k))
    days: set[str] = set()
    hours: set[str] = set()
    for key in keys:
        config = config_for(key, configs)
        days.update(days_needed(at, config))
        (fine_start, fine_end), _ = history_range(at, config)
        hours.update(_hours(fine_start, fine_end))
    return at, keys, sorted(days), sorted(hours)


def prefetch_surges(observations: list[Observation], store: SurgeStore, plans: ActivePlan, now: float) -> None:
    """Tell ``store`` what evaluating the batch will read, before triage reads its dedup keys (the store may read
    both at once). ``observations``: what the batch's new mentions would count, as classified before triage (its
    duplicates, found by triage, are counted out later: the read then asks for what the prefetch missed). A batch
    with nothing to count prefetches nothing, which also forgets what an earlier batch prefetched."""
    counted = [o for o in observations if countable(o.at, now)]
    if not counted:
        store.prefetch([], [], [])
        return
    plan, _version = plans.active()
    at, keys, days, hours = reads_for(counted, now, configs_with_budget(plan.surge_alert_budget.per_kind()))
    store.prefetch(keys, days, hours, at=at)


def observe_batch(
    observations: list[Observation],
    store: SurgeStore,
    open_crisis: OpenCrisis,
    join_crisis: JoinCrisis | None = None,
    now: float | None = None,
    configs: Mapping[str, SurgeConfig] = DEFAULT_CONFIGS,
) -> list[str]:
    """Count and evaluate; returns the Crisis issues opened.

    One surge often lifts several keys at once (a product's complaints are also its topic's and the brand's).
    The most specific key opens the Crisis; the others, firing in the same batch or within the hour, join it.
    Event times outside a sane window around ``now`` (the processing time) are not counted (and are counted as
    skipped): one mention dated year 1 or 9999 neither stops the batch's counting nor moves its evaluation.
    """
    clock = time.time() if now is None else now
    counted = [o for o in observations if countable(o.at, clock)]
    if len(counted) < len(observations):
        skipped = len(observations) - len(counted)
        metrics.add_metric(name="SurgeObservationsSkipped", unit="Count", value=skipped)
        logger.warning(
            "mentions dated outside the surge window were not counted",
            extra={
                "skipped": skipped,
                "mentions": [o.mention for o in observations if not countable(o.at, clock)][:10],
            },
        )
    if not counted:
        return []
    store.add(counted)
    at, keys, days, hours = reads_for(counted, clock, configs)
    history = store.read(keys, days, hours, at=at)
    decided = _evaluate_keys(keys, history, at, configs)
    if any(alert is not None for alert, _ in decided.values()):
        # An alert acts on the keys' states (it opens or joins a Crisis): decide on a read made now, not on copies
        # read before the batch's triage (a store may prefetch), in which another processor's Crisis opened
        # meanwhile would not show. Alerts are rare, so is this second read.
        history = store.read(keys, days, hours, at=at)
        decided = _evaluate_keys(keys, history, at, configs)

    live = {}  # the Crises of keys already surging: a newly firing key joins one of them
    for key in keys:
        state, _, issue_id = history.state(key)
        if state.active and issue_id and state.fired_at is not None and at - state.fired_at <= SAME_SURGE_SECONDS:
            live[key] = issue_id
    opened = []
    for key in sorted(keys, key=lambda k: SPECIFICITY.get(k.split(":")[0], 3)):
        state, version, issue_id = history.state(key)
        alert, new_state = decided[key]
        if new_state == state:
            continue
        if alert is not None:
            issue_id = next(iter(live.values()), None)
            if issue_id is None:
                issue_id = open_crisis(alert, history.mentions(key), history.state(key)[2])
                opened.append(issue_id)
            elif join_crisis:
                join_crisis(issue_id, alert)
            live[key] = issue_id
        try:
            store.save_state(key, new_state, version, issue_id)
        except StateConflict:
            continue  # another processor moved this key first (and opened or joined the Crisis)
    return opened


def _evaluate_keys(
    keys: list[str], history: SurgeHistoryView, at: float, configs: Mapping[str, SurgeConfig]
) -> dict[str, tuple[SurgeAlert | None, SurgeState]]:
    """Each key's alert (if it starts surging) and new state at ``at``, on ``history``."""
    data_start = history.data_start()
    counts = {
        key: BucketCounts.from_day_items(history.day_items(key), bucket_seconds=config_for(key, configs).bucket_seconds)
        for key in keys
    }
    decided = {}
    for key in keys:
        baseline = fit_key_baseline(key, counts.get, at, configs, data_start=data_start)
        state = history.state(key)[0]
        decided[key] = evaluate(
            key, counts[key], at, state, config_for(key, configs), data_start=data_start, baseline=baseline
        )
    return decided


def open_crisis(
    alert: SurgeAlert, linked: list[str], issues: CrisisIssues, plans: ActivePlan, last_crisis: str | None = None
) -> str:
    """A surge's Crisis issue, linking the mentions counted; the issues stream starts its protocol and alerts.

    A Crisis is named by its key and window, so a retried batch finds the one it opened. When every try of a batch
    failed after opening it, the key's state never learnt of it, and a later batch detects the same surge in a
    later window: the Crisis the key opened for a window up to an hour earlier is that surge's, and is returned
    instead of opening a second one. ``last_crisis``, the one the key's state records, ended before (its state went
    through its exit) and is not looked for.
    """
    from chalicelib.domain.issues import (
        AuditEvent,
        crisis_issue,
        crisis_issue_id,
        earlier_crisis_issue_ids,
        escalation_case_for,
    )

    detected = datetime.fromtimestamp(alert.detected_at, tz=timezone.utc)
    window_start = datetime.fromtimestamp(alert.window_start, tz=timezone.utc)
    step = timedelta(seconds=config_for(alert.key).bucket_seconds)
    earlier = earlier_crisis_issue_ids(alert.key, window_start, timedelta(seconds=SAME_SURGE_SECONDS), step)
    found = issues.first_existing([issue_id for issue_id in earlier if issue_id != last_crisis])
    if found:
        logger.info("surge detected again: its crisis is open already", extra={"issue_id": found, "key": alert.key})
        return found
    plan, version = plans.active()
    issue = crisis_issue(
        alert.key,
        alert.count,
        alert.baseline,
        window_start,
        detected,
        plan,
        version,
        crisis_issue_id(alert.key, window_start),
    )
    audit = [
        AuditEvent(
            issue_id=issue.issue_id,
            at=detected,  # the detector's time, as the issue's and every join's (see join_crisis): the trail's order
            type="surge_detected",
            actor="system:surge",
            details={**alert.to_json(), "linked_mentions": len(linked)},
        )
    ]
    if not issues.open_issue(issue, audit, escalation_case_for(issue, plan, detected), linked):
        return issue.issue_id  # opened by an earlier try of this batch
    metrics.add_metric(name="SurgesDetected", unit="Count", value=1)
    logger.info("surge opened a crisis", extra={"issue_id": issue.issue_id, **alert.to_json()})
    return issue.issue_id


def join_crisis(issue_id: str, alert: SurgeAlert, issues: CrisisIssues) -> None:
    """Another key of the same surge fired: on the Crisis's record, not a second Crisis.

    The event is named by what fired, the key and its window, at the detector's time (the Crisis's own
    ``surge_detected`` is too, so the trail keeps its order): a batch retried after the join (``count_surges``
    retries in place when saving the key's state fails) writes the same event again, not a second one.
    """
    from chalicelib.domain.issues import AuditEvent

    window_start = datetime.fromtimestamp(alert.window_start, tz=timezone.utc)
    issues.append_audit(
        AuditEvent(
            issue_id=issue_id,
            at=datetime.fromtimestamp(alert.detected_at, tz=timezone.utc),
            type="surge_widened",
            actor="system:surge",
            details=alert.to_json(),
            suffix=hashlib.sha256(f"{alert.key}|{window_start.isoformat()}".encode()).hexdigest()[:8],
        )
    )


def count_surges(
    observations: list[Observation],
    store: SurgeStore,
    issues: CrisisIssues,
    plans: ActivePlan,
    now: float,
    is_permanent: Callable[[BaseException], bool],
) -> None:
    """Count the batch's stored mentions for surges, retrying a transient failure here.

    The mentions are stored already, and a redelivery would find them duplicates and count nothing, so a failed
    count is retried in place. Every step is safe to repeat: each counter item remembers the last batch it counted,
    a Crisis is named by its key and window, and a surge state is written conditionally. Each key's threshold is
    calibrated against the active plan's ``surge_alert_budget``.
    """
    for attempt in range(SURGE_ATTEMPTS):
        try:
            plan, _version = plans.active()  # cached by the plan store: usually no call
            observe_batch(
                observations,
                store,
                lambda alert, linked, last: open_crisis(alert, linked, issues, plans, last),
                lambda issue_id, alert: join_crisis(issue_id, alert, issues),
                now=now,
                configs=configs_with_budget(plan.surge_alert_budget.per_kind()),  # each key's alert budget
            )
            return
        except Exception as error:  # noqa: BLE001 - the mentions are stored; a missed count must not redeliver them
            if is_permanent(error) or attempt == SURGE_ATTEMPTS - 1:
                logger.exception("surge detection failed for this batch", extra={"attempts": attempt + 1})
                metrics.add_metric(name="SurgeDetectionFailed", unit="Count", value=1)
                return
            time.sleep(SURGE_BACKOFF_SECONDS[attempt])
