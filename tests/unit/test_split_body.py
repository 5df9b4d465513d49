"""``POST /issues/{id}/split`` names a mention by its key: every key the webhooks can store is accepted."""

import pytest
from pydantic import ValidationError

from chalicelib.domain import limits
from chalicelib.domain.models import Mention
from chalicelib.domain.ops import SplitBody


@pytest.mark.parametrize(
    ("platform", "external_id"),
    [("a" * limits.MAX_PLATFORM_CHARS, "long-platform"), ("shop", "a\tb"), ("shop", "line\nbreak"), ("x", "y" * 256)],
    ids=["longest-platform", "tab", "newline", "longest-id"],
)
def test_a_stored_mentions_key_can_be_split(platform, external_id):
    mention = Mention(platform=platform, external_id=external_id, created_at="2026-11-20T09:00:00Z")
    assert SplitBody(mention=mention.key).mention == mention.key


@pytest.mark.parametrize(
    "key",
    ["x#", "#1", "X#1", "a" * (limits.MAX_PLATFORM_CHARS + 1) + "#1", "x#" + "y" * (limits.MAX_ID_CHARS + 1), "x1"],
    ids=["no-id", "no-platform", "upper-case", "platform-too-long", "id-too-long", "no-separator"],
)
def test_what_no_mention_can_be_is_refused(key):
    with pytest.raises(ValidationError):
        SplitBody(mention=key)
