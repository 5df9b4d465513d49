"""An Instagram @mention's words are read from the Graph API (the brand's account's mentioned_comment /
mentioned_media look-up) by the processor before triage, so it is triaged on what was said, not as an empty text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters.aws import client as aws_client
from chalicelib.adapters.publishers import instagram_mention_completer
from chalicelib.adapters.publishers.http import Credentials, Transport
from chalicelib.adapters.publishers.instagram import InstagramMentionReader, MentionTextUnavailable
from chalicelib.domain.models import Mention
from chalicelib.platforms import meta
from chalicelib.platforms.base import WebhookRequest
from chalicelib.services.processor import process_batch
from chalicelib.settings import resources
from tests.contract_servers.base import UNAVAILABLE
from tests.contract_servers.graph import GraphServer
from tests.helpers import drain_ingest_queue

PAGE_ID, IG_USER_ID, PAGE_TOKEN = "104000000000001", "17841400000000001", "EAAB-page-token"
CREDENTIALS = {"META_PAGE_ACCESS_TOKEN": PAGE_TOKEN, "META_PAGE_ID": PAGE_ID, "IG_USER_ID": IG_USER_ID}
COMPLAINT = "@aurelle my parcel never arrived and nobody answers, I want a refund"


@pytest.fixture
def graph() -> Iterator[GraphServer]:
    with GraphServer(PAGE_TOKEN, PAGE_ID, IG_USER_ID) as server:
        yield server
        assert server.violations == []


def reader(server: GraphServer, **credentials: str) -> InstagramMentionReader:
    return InstagramMentionReader(
        server.url, Transport(read_seconds=0.5), Credentials(environ={**CREDENTIALS, **credentials})
    )


def webhook_mention(comment_id: str, media_id: str) -> Mention:
    value = {"media_id": media_id, **({"comment_id": comment_id} if comment_id else {})}
    payload = {
        "object": "instagram",
        "entry": [{"id": IG_USER_ID, "time": 1764590000, "changes": [{"field": "mentions", "value": value}]}],
    }
    [mention] = meta.parse(
        WebhookRequest.build("POST", raw_body=json.dumps(payload).encode()), datetime.now(timezone.utc)
    ).mentions
    return mention


def test_a_comment_mention_gets_its_words_and_link(graph):
    comment_id, media_id = graph.seed_mention(COMPLAINT)
    mention = reader(graph).complete(webhook_mention(comment_id, media_id), datetime.now(timezone.utc))
    assert mention.text == COMPLAINT
    assert mention.url and mention.url.startswith("https://www.instagram.com/p/")
    assert (mention.external_id, mention.parent_id) == (comment_id, media_id)
    assert graph.calls("GET", rf"/v25\.0/{IG_USER_ID}") == 1


def test_a_caption_mention_gets_its_caption_and_author(graph):
    _, media_id = graph.seed_mention("Loving my new coat from @aurelle", comment=False, username="ana.style")
    mention = reader(graph).complete(webhook_mention("", media_id), datetime.now(timezone.utc))
    assert mention.text == "Loving my new coat from @aurelle"
    assert mention.author.handle == "ana.style"


def test_a_mention_that_cannot_be_read_keeps_its_empty_text(graph):
    gone = reader(graph).complete(webhook_mention("17860000000000001", "17850000000000001"), datetime.now(timezone.utc))
    assert gone.text == ""
    # the account id read as missing (unset, or SSM failing for a moment: Credentials reads both as unset): the
    # record waits for SQS's retry rather than being triaged on no words
    unconfigured = Credentials(environ={"META_PAGE_ACCESS_TOKEN": PAGE_TOKEN})
    comment_id, media_id = graph.seed_mention(COMPLAINT)
    with pytest.raises(MentionTextUnavailable):
        InstagramMentionReader(graph.url, Transport(read_seconds=0.5), unconfigured).complete(
            webhook_mention(comment_id, media_id), datetime.now(timezone.utc)
        )


def test_an_outage_raises_so_the_record_is_delivered_again(graph):
    comment_id, media_id = graph.seed_mention(COMPLAINT)
    graph.script(UNAVAILABLE)
    with pytest.raises(MentionTextUnavailable):
        reader(graph).complete(webhook_mention(comment_id, media_id), datetime.now(timezone.utc))


def test_other_mentions_are_not_looked_up(graph):
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": IG_USER_ID,
                "time": 1764590000,
                "changes": [
                    {
                        "field": "comments",
                        "value": {"id": "c1", "text": "hi", "from": {"id": "9"}, "media": {"id": "m1"}},
                    }
                ],
            }
        ],
    }
    [comment] = meta.parse(
        WebhookRequest.build("POST", raw_body=json.dumps(payload).encode()), datetime.now(timezone.utc)
    ).mentions
    assert reader(graph).complete(comment, datetime.now(timezone.utc)) is comment
    assert graph.log == []


def test_the_completer_is_on_only_with_instagram_switched_on(monkeypatch):
    assert instagram_mention_completer({}) is None
    assert instagram_mention_completer({"PUBLISH_TO_PLATFORMS": "x,instagram"}) is not None
    monkeypatch.delenv("PUBLISH_TO_PLATFORMS", raising=False)
    bootstrap.mention_completer.cache_clear()
    assert bootstrap.mention_completer() is None
    monkeypatch.setenv("PUBLISH_TO_PLATFORMS", "instagram")
    bootstrap.mention_completer.cache_clear()
    assert bootstrap.mention_completer() is not None  # the processor reads mentions' words by itself
    bootstrap.mention_completer.cache_clear()


def test_webhook_to_triage_an_instagram_mention_is_triaged_on_its_words(aws, graph):
    import app

    complete = instagram_mention_completer(
        {"PUBLISH_TO_PLATFORMS": "instagram"}, graph.url, Transport(read_seconds=0.5), Credentials(environ=CREDENTIALS)
    )
    pipeline = replace(bootstrap.pipeline(), complete=complete)
    comment_id, media_id = graph.seed_mention(COMPLAINT)
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": IG_USER_ID,
                "time": int(datetime.now(timezone.utc).timestamp()),
                "changes": [{"field": "mentions", "value": {"media_id": media_id, "comment_id": comment_id}}],
            }
        ],
    }
    body = json.dumps(payload).encode()
    headers = meta.sign(body, aws.__getitem__, datetime.now(timezone.utc))
    with Client(app.app, stage_name="test") as api:
        answer = api.http.post("/webhooks/meta", body=body, headers={"Content-Type": "application/json", **headers})
        assert answer.status_code == 200, answer.body  # acknowledged at once: the Graph API is not on this path
    batch = drain_ingest_queue()
    graph.script(UNAVAILABLE, UNAVAILABLE)  # an outage through the batch's read and the record's own try
    with pytest.raises(BatchProcessingError):  # the batch's one record failed: Lambda returns it, SQS delivers again
        process_batch(batch, pipeline)
    assert "Item" not in aws_client("dynamodb").get_item(
        TableName=resources().mentions_table, Key={"pk": {"S": f"instagram#{comment_id}"}}
    )  # nothing stored with an empty text
    assert process_batch(batch, pipeline) == {"batchItemFailures": []}
    item = aws_client("dynamodb").get_item(
        TableName=resources().mentions_table, Key={"pk": {"S": f"instagram#{comment_id}"}}
    )["Item"]
    assert item["text"]["S"] == COMPLAINT
    assert item["category"]["S"] != "no_action" and "issue_id" in item
