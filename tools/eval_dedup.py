"""Dedup quality: B-cubed precision and recall of mentions folded into issues, on the airline tweets.

Ground truth, as the triage issue defines it: one issue per (author, airline, negative reason) within 24 hours,
over the negative tweets that carry a reason. The system under test is the real triage use case (text model,
the plan's rules and catalogue, dedup keys) on the in-memory store, fed in event time. The plan is the bundled
one with the six airlines as its product catalogue, which is how a brand configures what it sells.
Tweets the plan routes to No Action open no issue and count as singletons (a miss for recall, never a false merge).

Run: ``python -m tools.eval_dedup`` (part of ``make eval``); writes ``bench/results/eval_dedup.json``.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from chalicelib.adapters.memory import InMemoryTriageStore
from chalicelib.adapters.plans import bundled_plan
from chalicelib.domain.models import Author, Mention
from chalicelib.domain.plan import Product
from chalicelib.domain.signals import analyze_one
from chalicelib.services.triage import triage_mention

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "results" / "eval_dedup.json"
WINDOW = timedelta(hours=24)
AIRLINES = {
    "Virgin America": ("@virginamerica", "virgin america", "virginamerica"),
    "United": ("@united", "united airlines"),
    "Southwest": ("@southwestair", "southwest"),
    "Delta": ("@delta", "delta"),
    "US Airways": ("@usairways", "us airways", "usairways"),
    "American": ("@americanair", "american airlines", "americanair"),
}


class StaticPlans:
    def __init__(self, plan) -> None:
        self.plan = plan

    def active(self):
        return self.plan, 1


def load() -> list[dict]:
    with open(DATA / "airline" / "Tweets.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["airline_sentiment"] == "negative" and r["negativereason"]]
    seen: set[str] = set()
    unique = []
    for row in rows:  # the source repeats some tweet ids
        if row["tweet_id"] not in seen:
            seen.add(row["tweet_id"])
            row["at"] = datetime.strptime(row["tweet_created"], "%Y-%m-%d %H:%M:%S %z").astimezone(timezone.utc)
            unique.append(row)
    return sorted(unique, key=lambda r: (r["at"], r["tweet_id"]))


def truth_clusters(rows: list[dict]) -> dict[str, str]:
    """(author, airline, reason) sessions: a new issue when 24 h pass since that cluster's first tweet."""
    opened: dict[tuple[str, str, str], tuple[datetime, str]] = {}
    cluster_of: dict[str, str] = {}
    for row in rows:
        key = (row["name"].lower(), row["airline"], row["negativereason"])
        started = opened.get(key)
        if started is None or row["at"] - started[0] > WINDOW:
            started = (row["at"], f"{key}@{row['at'].isoformat()}")
            opened[key] = started
        cluster_of[row["tweet_id"]] = started[1]
    return cluster_of


def predicted_clusters(rows: list[dict]) -> tuple[dict[str, str], dict[str, int]]:
    base = bundled_plan()
    plan = base.model_copy(
        update={"products": [Product(name=name, aliases=aliases) for name, aliases in AIRLINES.items()]}
    )
    store, plans = InMemoryTriageStore(), StaticPlans(plan)
    cluster_of: dict[str, str] = {}
    outcomes: dict[str, int] = defaultdict(int)
    for row in rows:
        mention = Mention(
            platform="x",
            external_id=row["tweet_id"],
            text=row["text"],
            created_at=row["at"],
            author=Author(id=row["name"].lower(), handle=row["name"]),
        )
        result = triage_mention(mention, store, plans, analyze_one, now=lambda at=row["at"]: at)
        outcomes[result.outcome.value] += 1
        cluster_of[row["tweet_id"]] = result.issue_id or f"single:{row['tweet_id']}"
    return cluster_of, dict(outcomes)


def bcubed(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float]:
    members_t: dict[str, set[str]] = defaultdict(set)
    members_p: dict[str, set[str]] = defaultdict(set)
    for item, cluster in truth.items():
        members_t[cluster].add(item)
    for item, cluster in predicted.items():
        members_p[cluster].add(item)
    precision = recall = 0.0
    for item in truth:
        same_p = members_p[predicted[item]]
        same_t = members_t[truth[item]]
        overlap = len(same_p & same_t)
        precision += overlap / len(same_p)
        recall += overlap / len(same_t)
    return precision / len(truth), recall / len(truth)


def main() -> int:
    if not DATA.is_dir():
        print("eval_dedup: skipped, ../shared/data is not beside this clone")
        return 0
    rows = load()
    truth = truth_clusters(rows)
    predicted, outcomes = predicted_clusters(rows)
    precision, recall = bcubed(truth, predicted)
    # The floor every dedup must beat: nothing folded (every tweet its own issue).
    singles = {tweet: f"single:{tweet}" for tweet in truth}
    floor_precision, floor_recall = bcubed(truth, singles)
    result = {
        "mentions": len(rows),
        "true_issues": len(set(truth.values())),
        "predicted_issues": len(set(predicted.values())),
        "outcomes": outcomes,
        "bcubed_precision": round(precision, 4),
        "bcubed_recall": round(recall, 4),
        "bcubed_f1": round(2 * precision * recall / (precision + recall), 4),
        "no_folding_baseline": {"bcubed_precision": round(floor_precision, 4), "bcubed_recall": round(floor_recall, 4)},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
