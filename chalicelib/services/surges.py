"""Surge detection as mentions are processed: count, evaluate, and open one Crisis issue per surge.

Per batch of triaged mentions: the counts are ADDed (a day item and an hour item for all keys), the history
of the keys the batch touched is read once, and each key is evaluated at the batch's latest event time with the
same :func:`chalicelib.domain.surge.evaluate` that ``detect-surges`` runs offline. A key that starts surging
records its new state with a conditional write (so two processors do not both fire) and opens a Crisis issue
linking the mentions counted; the issues stream then starts the crisis protocol and sends the one alert.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.adapters.surge_table import DynamoSurgeStore, Observation, StateConflict, hour_of
from chalicelib.domain.surge import (
    BRAND_KEY,
    BucketCounts,
    SurgeAlert,
    brand_reference_shape,
    config_for,
    countable,
    days_needed,
    evaluate,
    evaluation_time,
    fit_baseline,
    history_range,
)

OpenCrisis = Callable[[SurgeAlert, list[str]], str]
JoinCrisis = Callable[[str, SurgeAlert], None]


def _hours(start: float, end: float) -> list[str]:
    hours, moment = [], int(start) - int(start) % 3600
    while moment < end:
        hours.append(hour_of(moment))
        moment += 3600
    return hours


SPECIFICITY = {"product": 0, "topic": 1, "brand": 2}
SAME_SURGE_SECONDS = 3600  # keys firing within an hour of an active Crisis are the same surge


def observe_batch(observations: list[Observation], store: DynamoSurgeStore, open_crisis: OpenCrisis,
                  join_crisis: JoinCrisis | None = None, now: float | None = None) -> list[str]:
    """Count and evaluate; returns the Crisis issues opened.

    One surge often lifts several keys at once (a product's complaints are also its topic's and the brand's).
    The most specific key opens the Crisis; the others, firing in the same batch or within the hour, join it.
    Event times outside a sane window around ``now`` (the processing time) are not counted (and are counted as
    skipped): one mention dated year 1 or 9999 neither stops the batch's counting nor moves its evaluation.
    """
    import time

    from chalicelib.observability import logger, metrics

    clock = time.time() if now is None else now
    counted = [o for o in observations if countable(o.at, clock)]
    if len(counted) < len(observations):
        skipped = len(observations) - len(counted)
        metrics.add_metric(name="SurgeObservationsSkipped", unit="Count", value=skipped)
        logger.warning("mentions dated outside the surge window were not counted",
                       extra={"skipped": skipped, "mentions": [o.mention for o in observations
                                                               if not countable(o.at, clock)][:10]})
    if not counted:
        return []
    observations = counted
    store.add(observations)
    now = evaluation_time((o.at for o in observations), clock)
    keys = sorted({key for o in observations for key in o.keys} | {BRAND_KEY}, key=lambda k: (k != BRAND_KEY, k))
    days: set[str] = set()
    hours: set[str] = set()
    for key in keys:
        config = config_for(key)
        days.update(days_needed(now, config))
        (fine_start, fine_end), _ = history_range(now, config)
        hours.update(_hours(fine_start, fine_end))
    history = store.read(keys, sorted(days), sorted(hours))
    data_start = history.data_start()

    evaluations = []
    brand_config = config_for(BRAND_KEY)
    brand_counts = BucketCounts.from_day_items(history.day_items(BRAND_KEY), bucket_seconds=brand_config.bucket_seconds)
    for key in keys:
        config = config_for(key)
        counts = BucketCounts.from_day_items(history.day_items(key), bucket_seconds=config.bucket_seconds)
        # products and topics borrow the brand's daily shape (too sparse for their own)
        ref = None if key == BRAND_KEY else brand_reference_shape(brand_counts, now, config, brand_config,
                                                                    data_start=data_start)
        baseline = fit_baseline(counts, now, config, data_start=data_start, reference_shape=ref)
        evaluations.append((key, config, counts, baseline))

    live = {}  # the Crises of keys already surging: a newly firing key joins one of them
    for key in keys:
        state, _, issue_id = history.state(key)
        if state.active and issue_id and state.fired_at is not None and now - state.fired_at <= SAME_SURGE_SECONDS:
            live[key] = issue_id
    opened = []
    for key, config, counts, baseline in sorted(evaluations, key=lambda e: SPECIFICITY.get(e[0].split(":")[0], 3)):
        state, version, issue_id = history.state(key)
        alert, new_state = evaluate(key, counts, now, state, config, data_start=data_start, baseline=baseline)
        if new_state == state:
            continue
        if alert is not None:
            issue_id = next(iter(live.values()), None)
            if issue_id is None:
                issue_id = open_crisis(alert, history.mentions(key))
                opened.append(issue_id)
            elif join_crisis:
                join_crisis(issue_id, alert)
            live[key] = issue_id
        try:
            store.save_state(key, new_state, version, issue_id)
        except StateConflict:
            continue  # another processor moved this key first (and opened or joined the Crisis)
    return opened
