"""Build ``demo/sample_stream.jsonl``: a small stream of real tweets and reviews that ``make run`` replays.

Reads ``../shared/data`` (airline tweets, Amazon reviews, Customer Support on Twitter) and writes a few hundred
rows in the generic webhook shape plus ``route``: the platform endpoint it will be delivered to, in that platform's
own format. Author follower counts are not in the sources; they are drawn from a fixed-seed distribution and the
SOURCE file says so. Run: ``python tools/build_demo_stream.py`` (the output is committed; a clone needs no shared/).
"""

from __future__ import annotations

import csv
import json
import random
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "demo" / "sample_stream.jsonl"
SEED = 20150224


def _followers(rng: random.Random) -> int:
    # Heavy-tailed like real audiences: most accounts small, a few large.
    return int(min(5_000_000, rng.paretovariate(1.1) * 80))


def airline_rows(rng: random.Random, count: int) -> list[dict]:
    with open(DATA / "airline" / "Tweets.csv", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["airline"] == "United"]
    rows.sort(key=lambda r: r["tweet_created"])
    picked = rng.sample(rows, count)
    out = []
    for row in picked:
        created = datetime.strptime(row["tweet_created"], "%Y-%m-%d %H:%M:%S %z").astimezone(timezone.utc)
        out.append(
            {
                "platform": "x",
                "id": row["tweet_id"],
                "created_at": created.isoformat(),
                "text": row["text"],
                "author": {
                    "id": f"u{zlib.crc32(row['name'].encode())}",
                    "handle": row["name"],
                    "name": row["name"],
                    "followers": _followers(rng),
                    "verified": False,
                },
            }
        )
    return out


def review_rows(rng: random.Random, count: int) -> list[dict]:
    with open(DATA / "reviews" / "datafiniti_amazon_consumer_reviews.csv", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    picked = rng.sample(rows, count)
    out = []
    for index, row in enumerate(picked):
        user = row["reviews.username"] or f"reviewer{index}"
        out.append(
            {
                "platform": "reviews",
                "id": f"r{SEED}-{index}",
                "created_at": row["reviews.date"],
                "text": row["reviews.text"][:1500],
                "title": row["reviews.title"][:200],
                "rating": float(row["reviews.rating"] or 3),
                "product": row["name"][:120],
                "author": {
                    "id": f"c{zlib.crc32(user.encode())}",
                    "handle": user,
                    "name": user,
                    "followers": 0,
                    "verified": False,
                },
            }
        )
    return out


# Written for the demo (not from a dataset): what a fashion brand's plan must fold, route and escalate.
CAMPAIGN = "The soles of my Nova sneakers split after two weeks. Three pairs, same problem. @aurelle fix this"
SURGE = [  # many people, in their own words, within half an hour: a product defect going public
    "@aurelle the sole of my Nova sneakers just came off. Two weeks old.",
    "Nova sneakers from Aurelle: the glue gave up after ten days, sole flapping. Not ok.",
    "Anyone else's Nova sneakers splitting at the sole?? mine broke on day 12",
    "Returned my Nova trainers, sole cracked right through. Terrible quality @aurelle",
    "My daughter's Nova sneakers fell apart at school today. Sole completely detached.",
    "@aurelle Nova shoes broke after a week, want a refund. Order 55102.",
    "Third complaint I've seen today about Nova sneakers soles. Mine split too.",
    "Nova sneakers = worst purchase this year. Sole split after 9 days.",
    "Sole of my Nova sneakers peeled off in the rain. @aurelle what is going on?",
    "The Nova sneakers are falling apart, sole ripped at the toe after two weeks",
]
SCENARIOS: list[dict] = [
    *(
        {
            "route": ("x", "meta-instagram", "x")[i % 3],
            "platform": "x",
            "id": f"demo-campaign-{i}",
            "text": ("RT @sneakerhead_li: " if i in (2, 4) else "") + CAMPAIGN,
            "author": {
                "id": f"campaign{i}",
                "handle": f"walker_{i}",
                "name": f"Walker {i}",
                "followers": 150 + 40 * i,
                "verified": False,
            },
        }
        for i in range(6)
    ),
    {
        "route": "meta-facebook",
        "platform": "facebook",
        "id": "demo-thread-1",
        "text": "Ordered the Cortez denim jacket two weeks ago and it still has not arrived. Tracking says nothing.",
        "author": {"id": "fb-9001", "handle": "jana.k", "name": "Jana K", "followers": 320, "verified": False},
    },
    {
        "route": "meta-facebook",
        "platform": "facebook",
        "id": "demo-thread-2",
        "in_reply_to": "demo-thread-1",
        "text": "Still nothing today, and customer service has not answered my two emails.",
        "author": {"id": "fb-9001", "handle": "jana.k", "name": "Jana K", "followers": 320, "verified": False},
    },
    {
        "route": "x",
        "platform": "x",
        "id": "demo-influencer-1",
        "text": "Honestly disappointed @aurelle: my Lina trench coat lost two buttons on the first wear. "
        "Not what I expect at this price.",
        "author": {
            "id": "x-renee",
            "handle": "stylebyrenee",
            "name": "Renée Laurent",
            "followers": 412000,
            "verified": True,
        },
    },
    {
        "route": "generic",
        "platform": "reviews",
        "id": "demo-legal-1",
        "rating": 1.0,
        "product": "Alba Leather Boots",
        "text": "The dye from the Alba boots burned my skin. I have photos and I am contacting my lawyer.",
        "author": {"id": "rev-77", "handle": "m.ferreira", "name": "M. Ferreira", "followers": 0, "verified": False},
    },
    *(
        {
            "route": ("x", "meta-instagram", "x", "meta-facebook")[i % 4],
            "platform": "x",
            "id": f"demo-surge-{i}",
            "text": text,
            "author": {
                "id": f"surge{i}",
                "handle": f"sole_{i}",
                "name": f"Customer {i}",
                "followers": 90 + 35 * i,
                "verified": False,
            },
        }
        for i, text in enumerate(SURGE)
    ),
]
GAP_SECONDS = 400  # the background stream: 260 rows over 29 hours (the surge detector learns a day first)
SCENARIO_GAP_SECONDS = 100  # the scenarios, and the surge, in the last half hour


def main() -> None:
    rng = random.Random(SEED)
    tweets = airline_rows(rng, 180)
    reviews = review_rows(rng, 70)
    rows: list[dict] = []
    # Tweets: most to X, some to Facebook and Instagram comments, a few YouTube video titles.
    for index, tweet in enumerate(tweets):
        route = (
            "x"
            if index % 6 < 3
            else ("meta-facebook" if index % 6 < 4 else "meta-instagram" if index % 6 < 5 else "generic")
        )
        if index % 36 == 35:
            route = "youtube"
        rows.append({"route": route, **tweet})
    for index, review in enumerate(reviews):
        route = ("trustpilot", "meta-rating", "generic")[index % 3]
        rows.append({"route": route, **review})
    # Tweets (2015) and reviews (2017) interleave, GAP_SECONDS apart: the replay shifts them to end now.
    rng.shuffle(rows)
    rows += SCENARIOS  # the last hour: the scenarios a newcomer should see folded and escalated
    start = datetime(2015, 2, 24, tzinfo=timezone.utc)
    background = len(rows) - len(SCENARIOS)
    for index, row in enumerate(rows):
        offset = (
            index * GAP_SECONDS
            if index < background
            else background * GAP_SECONDS + (index - background) * SCENARIO_GAP_SECONDS
        )
        row["created_at"] = (start + timedelta(seconds=offset)).isoformat()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
