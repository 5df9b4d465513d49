"""Turn a demo row (the generic webhook shape) into the delivery its platform would really send.

Used by the ``make run`` replay and by the end-to-end tests, so both exercise the same native formats the
platform modules parse: X Account Activity JSON, Meta page/Instagram change batches, YouTube WebSub Atom,
Trustpilot events and the generic signed JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

PAGE_ID = "104857600012345"
INSTAGRAM_ACCOUNT_ID = "17841400000012345"
BRAND_X_USER_ID = "2244994945"


@dataclass(frozen=True)
class Delivery:
    endpoint: str  # the platform module's route name: /webhooks/<endpoint>
    body: bytes
    content_type: str = "application/json"


def _epoch(row: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(row["created_at"]).timestamp())


def _json(endpoint: str, payload: dict[str, Any]) -> Delivery:
    return Delivery(endpoint, json.dumps(payload, ensure_ascii=False).encode())


def x_delivery(row: dict[str, Any]) -> Delivery:
    author = row["author"]
    created = datetime.fromisoformat(row["created_at"]).strftime("%a %b %d %H:%M:%S +0000 %Y")
    tweet = {
        "created_at": created,
        "id": int(row["id"]) if row["id"].isdigit() else row["id"],
        "id_str": row["id"],
        "text": row["text"],
        "truncated": False,
        "in_reply_to_status_id_str": row.get("in_reply_to"),
        "user": {
            "id_str": author["id"],
            "name": author["name"],
            "screen_name": author["handle"],
            "followers_count": author["followers"],
            "verified": author["verified"],
        },
        "retweet_count": 0,
        "favorite_count": 0,
        "lang": "en",
    }
    return _json("x", {"for_user_id": BRAND_X_USER_ID, "tweet_create_events": [tweet]})


PAGE_POST = "900000000000001"  # the brand's page post the demo comments are written under


def facebook_comment_delivery(row: dict[str, Any], verb: str = "add") -> Delivery:
    post_id = f"{PAGE_ID}_{PAGE_POST}"
    # A reply's parent is the comment it answers (Graph API comment ids are <post>_<comment>).
    parent_id = f"{PAGE_POST}_{row['in_reply_to']}" if row.get("in_reply_to") else post_id
    value = {
        "item": "comment",
        "verb": verb,
        "comment_id": f"{PAGE_POST}_{row['id']}",
        "post_id": post_id,
        "parent_id": parent_id,
        "created_time": _epoch(row),
        "message": row["text"],
        "from": {"id": row["author"]["id"], "name": row["author"]["name"]},
    }
    return _json(
        "meta",
        {
            "object": "page",
            "entry": [{"id": PAGE_ID, "time": _epoch(row), "changes": [{"field": "feed", "value": value}]}],
        },
    )


def instagram_comment_delivery(row: dict[str, Any]) -> Delivery:
    value = {
        "from": {"id": row["author"]["id"], "username": row["author"]["handle"]},
        "media": {"id": "17900000000000001", "media_product_type": "FEED"},
        "id": row["id"],
        "text": row["text"],
    }
    return _json(
        "meta",
        {
            "object": "instagram",
            "entry": [
                {"id": INSTAGRAM_ACCOUNT_ID, "time": _epoch(row), "changes": [{"field": "comments", "value": value}]}
            ],
        },
    )


def facebook_rating_delivery(row: dict[str, Any]) -> Delivery:
    rating = int(row.get("rating") or 3)
    value = {
        "item": "rating",
        "verb": "add",
        "open_graph_story_id": row["id"],
        "reviewer_id": row["author"]["id"],
        "reviewer_name": row["author"]["name"],
        "rating": rating,
        "review_text": row["text"],
        "recommendation_type": "POSITIVE" if rating >= 4 else "NEGATIVE",
        "created_time": _epoch(row),
    }
    return _json(
        "meta",
        {
            "object": "page",
            "entry": [{"id": PAGE_ID, "time": _epoch(row), "changes": [{"field": "ratings", "value": value}]}],
        },
    )


def youtube_delivery(row: dict[str, Any]) -> Delivery:
    video_id = f"v{row['id'][-10:]}"
    channel = f"UC{row['author']['id']}"
    published = row["created_at"]
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">
  <link rel="hub" href="https://pubsubhubbub.appspot.com"/>
  <link rel="self" href="https://www.youtube.com/xml/feeds/videos.xml?channel_id={channel}"/>
  <title>YouTube video feed</title>
  <updated>{published}</updated>
  <entry>
    <id>yt:video:{video_id}</id>
    <yt:videoId>{video_id}</yt:videoId>
    <yt:channelId>{channel}</yt:channelId>
    <title>{escape(row["text"])}</title>
    <link rel="alternate" href={quoteattr("https://www.youtube.com/watch?v=" + video_id)}/>
    <author>
     <name>{escape(row["author"]["name"])}</name>
     <uri>https://www.youtube.com/channel/{channel}</uri>
    </author>
    <published>{published}</published>
    <updated>{published}</updated>
  </entry>
</feed>
"""
    return Delivery("youtube", xml.encode(), "application/atom+xml")


def trustpilot_delivery(row: dict[str, Any]) -> Delivery:
    data = {
        "id": row["id"],
        "language": "en",
        "title": row.get("title") or "",
        "text": row["text"],
        "referenceId": None,
        "stars": int(row.get("rating") or 3),
        "createdAt": datetime.fromisoformat(row["created_at"]).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "isVerified": True,
        "link": f"https://api.trustpilot.com/v1/reviews/{row['id']}",
        "consumer": {
            "id": row["author"]["id"],
            "name": row["author"]["name"],
            "link": f"https://api.trustpilot.com/v1/consumers/{row['author']['id']}",
        },
        "tags": [],
    }
    return _json("trustpilot", {"events": [{"eventName": "service-review-created", "version": "1", "eventData": data}]})


def generic_delivery(row: dict[str, Any]) -> Delivery:
    fields = ("platform", "id", "created_at", "text", "author", "url", "rating", "in_reply_to", "product")
    return _json("generic", {name: row[name] for name in fields if row.get(name) is not None})


BUILDERS = {
    "x": x_delivery,
    "meta-facebook": facebook_comment_delivery,
    "meta-instagram": instagram_comment_delivery,
    "meta-rating": facebook_rating_delivery,
    "youtube": youtube_delivery,
    "trustpilot": trustpilot_delivery,
    "generic": generic_delivery,
}


def build(row: dict[str, Any]) -> Delivery:
    return BUILDERS[row["route"]](row)
