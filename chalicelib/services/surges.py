"""Surge detection as mentions are processed: count, evaluate, and open one Crisis issue per surge.

Per batch of triaged mentions: the counts are ADDed (a day item and an hour item for all keys, on one of their
write shards), the history of the keys the batch touched is read once, and each key is evaluated at the batch's
latest event time with the same baseline fit (:func:`chalicelib.domain.surge.fit_key_baseline`) and test
(:func:`chalicelib.domain.surge.evaluate`) that ``detect-surges`` runs offline. A key that starts surging first
claims its new state with a conditional write naming the Crisis it opens, and opens that Crisis issue (linking the
mentions counted) only once the write succeeded: of two processors that see the same surge, the one whose write
loses reads again and joins the winner's Crisis. The issues stream then starts the crisis protocol and sends the
one alert.

Depends on ports only: :class:`~chalicelib.services.ports.SurgeStore` for counters and states,
:class:`~chalicelib.services.ports.CrisisIssues` and :class:`~chalicelib.services.ports.ActivePlan` for the Crisis.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone

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

OpenCrisis = Callable[[SurgeAlert, list[str], str], str]  # alert, linked mentions, the Crisis's name; its id
JoinCrisis = Callable[[str, SurgeAlert], None]

SPECIFICITY = {"product": 0, "topic": 1, "brand": 2}
SAME_SURGE_SECONDS = 3600  # keys firing within an hour of an active Crisis are the same surge
SURGE_ATTEMPTS = 3
STATE_ROUNDS = 3  # reads and decisions of one batch when other processors keep moving its keys' states
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
    opened: list[str] = []
    for attempt in range(STATE_ROUNDS):
        if attempt or any(alert is not None for alert, _ in decided.values()):
            # An alert acts on the keys' states (it opens or joins a Crisis): decide on a read made now, not on
            # copies read before the batch's triage (a store may prefetch), in which another processor's Crisis
            # opened meanwhile would not show; and after losing a key to another processor, on what it wrote.
            # Alerts are rare, so is this second read.
            history = store.read(keys, days, hours, at=at)
            decided = _evaluate_keys(keys, history, at, configs)
        try:
            _act(keys, history, decided, at, store, open_crisis, join_crisis, opened)
            break
        except StateConflict:
            continue  # another processor moved a key since the read: decide again on what it wrote
    else:
        logger.warning("surge states kept moving under this batch: left to the next batch", extra={"keys": keys})
    return list(dict.fromkeys(opened))


def _act(
    keys: list[str],
    history: SurgeHistoryView,
    decided: Mapping[str, tuple[SurgeAlert | None, SurgeState]],
    at: float,
    store: SurgeStore,
    open_crisis: OpenCrisis,
    join_crisis: JoinCrisis | None,
    opened: list[str],
) -> None:
    """Write the keys' new states and open or join the Crisis; :class:`StateConflict` when a key's state was
    written by another processor since ``history`` was read (what was done before stays done: deciding again on a
    new read finds it).

    A key that starts a surge first claims its state with the conditional write, naming the Crisis it opens (by its
    key and window) and keeping the alert as ``opening``; only after that write succeeded is the Crisis opened, then
    ``opening`` cleared. So of two processors that read the key before either wrote, one opens the Crisis and the
    other, losing the write, reads again and joins it. A state still ``opening`` (a try that died between the two
    writes, or another processor opening it now) has its Crisis opened again: opening is idempotent by name.
    """
    live = {}  # the Crises of keys already surging: a newly firing key joins one of them
    for key in keys:
        state, _, issue_id = history.state(key)
        if state.active and issue_id and state.fired_at is not None and at - state.fired_at <= SAME_SURGE_SECONDS:
            live[key] = issue_id
    for key in sorted(keys, key=lambda k: SPECIFICITY.get(k.split(":")[0], 3)):
        state, version, issue_id = history.state(key)
        alert, new_state = decided[key]
        if state.opening is not None and issue_id:
            opened.append(open_crisis(state.opening, history.mentions(key), issue_id))
            # opened now: whatever else the key's state does, it is no longer opening (else every later batch
            # would open it again, idempotently but with a write each)
            new_state = replace(new_state, opening=None)
        if new_state == state:
            continue
        if alert is None:
            store.save_state(key, new_state, version, issue_id)
            continue
        issue_id = next(iter(live.values()), None)
        if issue_id is not None:
            if join_crisis:
                join_crisis(issue_id, alert)
            store.save_state(key, new_state, version, issue_id)
        else:
            issue_id = crisis_name(alert)
            claimed = store.save_state(key, replace(new_state, opening=alert), version, issue_id)
            opened.append(open_crisis(alert, history.mentions(key), issue_id))
            try:
                store.save_state(key, new_state, claimed, issue_id)
            except StateConflict:
                pass  # another processor, reading it still opening, opened it again (and cleared it) or moved on
        live[key] = issue_id


def crisis_name(alert: SurgeAlert) -> str:
    """The Crisis a surge opens, named by its key and window (a retry opens the same one)."""
    from chalicelib.domain.issues import crisis_issue_id

    return crisis_issue_id(alert.key, datetime.fromtimestamp(alert.window_start, tz=timezone.utc))


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
    alert: SurgeAlert, linked: list[str], issues: CrisisIssues, plans: ActivePlan, issue_id: str | None = None
) -> str:
    """A surge's Crisis issue, linking the mentions counted; the issues stream starts its protocol and alerts.

    The Crisis is named ``issue_id``, the name the key's state recorded when it claimed the surge
    (:func:`crisis_name`, by its key and window, by default), so a retried batch, or a processor that read the
    state while another was opening it, opens the same one again: nothing is written the second time.
    """
    from chalicelib.domain.issues import AuditEvent, crisis_issue, escalation_case_for

    detected = datetime.fromtimestamp(alert.detected_at, tz=timezone.utc)
    window_start = datetime.fromtimestamp(alert.window_start, tz=timezone.utc)
    plan, version = plans.active()
    issue = crisis_issue(
        alert.key, alert.count, alert.baseline, window_start, detected, plan, version, issue_id or crisis_name(alert)
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
        return issue.issue_id  # opened already: by an earlier try of this batch, or by another processor
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
    count is retried in place. Every step is safe to repeat: the store remembers the counter items the batch was
    counted into (a retry writes only the others, whatever other processors wrote there since), a Crisis is named
    by its key and window, and a surge state is written conditionally. Each key's threshold is calibrated against
    the active plan's ``surge_alert_budget``.
    """
    for attempt in range(SURGE_ATTEMPTS):
        try:
            plan, _version = plans.active()  # cached by the plan store: usually no call
            observe_batch(
                observations,
                store,
                lambda alert, linked, issue_id: open_crisis(alert, linked, issues, plans, issue_id),
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
