"""X API v2: a public reply is ``POST /2/tweets`` with ``reply.in_reply_to_tweet_id``; a private reply is a direct
message, ``POST /2/dm_conversations/with/:participant_id/messages``.

Auth: OAuth 2.0 user context (the brand's account), ``Authorization: Bearer <access token>``. Access tokens last
two hours; the refresh token (``offline.access``) is exchanged at ``POST /2/oauth2/token``
(``grant_type=refresh_token``), and X rotates it on every exchange, so the new one is written back to SSM.

Rules before posting: self-serve tiers (``X_API_TIER=self_serve``, the default) may reply only to a post whose
author mentioned or quoted the brand; enterprise may reply to any post. The text is checked first (cheap); only
when it names no ``@brand`` is the post looked up (mentions entity, quoted post's author).

Read-back: the brand's own timeline since the first attempt (``GET /2/users/:id/tweets?start_time=``) for a reply
to the target with this claim's text; for a DM, the conversation's events (``GET
/2/dm_conversations/with/:id/dm_events``) for our text. Both lists are newest first and paged (100 a page,
``meta.next_token`` -> ``pagination_token``): the read-back follows them until a page reaches back past the first
attempt, at most ``READ_BACK_PAGES`` pages. Texts are compared as X shows them
(:func:`~chalicelib.domain.publishing.is_our_reply`: links are t.co links there, ``&`` is escaped), so another
post of the brand on the same target (the approved reply beside a survey line) is never taken for this one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from chalicelib.adapters.publishers.base import PlatformAdapter
from chalicelib.adapters.publishers.http import (
    AccessToken,
    Credentials,
    Grant,
    Response,
    Stop,
    Transport,
    basic_auth,
    parse_time,
    retry_after,
    server_error,
    token_endpoint_failure,
)
from chalicelib.domain.publishing import (
    PRIVATE_REPLY,
    PUBLIC_REPLY,
    PublishResult,
    Reason,
    ReplyTarget,
    alert,
    done,
    final,
    is_our_reply,
    retry,
)

BASE_URL = "https://api.x.com"
SELF_SERVE = "self_serve"
ENTERPRISE = "enterprise"
# The names the brand configures (SSM SecureString or environment).
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "X_OAUTH_CLIENT_ID", "X_OAUTH_CLIENT_SECRET", "X_OAUTH_REFRESH_TOKEN"
BRAND_USER_ID, BRAND_HANDLE, API_TIER = "X_BRAND_USER_ID", "X_BRAND_HANDLE", "X_API_TIER"

_TWEPOCH_MS = 1288834974657  # X ids are snowflakes: their top bits are the creation time
TCO_LENGTH = 23  # every URL counts as a t.co link

# twitter-text v3 (config v3: scale 100, default weight 200, emojiParsingEnabled, transformedURLLength 23).
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # code points weighing 1; everything else 2
# Top-level domains a URL without a scheme may end in: every country code, and the generic ones people write.
_CCTLDS = (
    "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by "
    "bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et eu fi fj fk "
    "fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is "
    "it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm "
    "mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps "
    "pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj "
    "tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw"
)
_GTLDS = (
    "academy agency app art asia audio auto bank bar beer best bike bio biz blog blue book business buzz cafe cam "
    "camera camp capital care careers cars casa cash center chat city click clinic cloud club coach codes coffee "
    "college com community company computer consulting cool coop credit cyou dating deals delivery dental design dev "
    "digital direct directory discount dog domains download earth edu education email energy engineering "
    "enterprises equipment estate events exchange expert express fail family fans farm fashion finance financial "
    "fit fitness flights florist flowers foundation fun fund furniture gallery games garden gift gifts global gmbh "
    "gold golf gov graphics green group guide guru health healthcare help holdings holiday homes host hosting house "
    "icu inc info ink institute insurance int international jobs kitchen land law lawyer legal life lighting limited "
    "link live loan ltd luxury management market marketing media menu mil mobi money movie museum name net network "
    "news ngo ninja one onl online org page partners parts party pet photo photography photos pics pink pizza place "
    "plus press pro productions properties property pub recipes red rent rentals repair report rest restaurant "
    "review reviews rocks run sale salon school science services shoes shop shopping show site ski social software "
    "solar solutions space store stream studio style supply support surf systems taxi team tech technology tel tips "
    "today tools top tours town toys trade training travel tube uno university vacations video vip vision wang watch "
    "website wiki win wine work works world wtf xxx xyz zone"
)
_CCTLD_SET = frozenset(_CCTLDS.split())
_TLD = "|".join(sorted(_CCTLD_SET | set(_GTLDS.split()), key=len, reverse=True))
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"  # letters and digits, with hyphens (and underscores) only inside
_ASCII_LABEL = r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?"  # without a scheme, only ASCII domains are links
_PATH_CHAR = r"[\w!*';:=+,.$/%#\[\]\-~@|&\u2013]"
_PATH_END = r"[\w=#/+\-]"  # a URL's path never ends in . , ) ! ? ' " : ; (that is the sentence's punctuation)
_PARENS = rf"\({_PATH_CHAR}+\)"  # balanced parentheses stay in (wikipedia-style paths)
_URL = re.compile(
    rf"""(?<![A-Za-z0-9@＠$#＃\u202a-\u202e])
    (?:(?P<scheme>https?://)(?P<domain>(?:{_LABEL}\.)+(?:{_TLD}|xn--[a-z0-9-]+))
    |(?<![-_./])(?P<bare>(?:{_ASCII_LABEL}\.)+(?:{_TLD}|xn--[a-z0-9-]+)))
    (?![a-z0-9@+-])
    (?::[0-9]+)?
    (?P<path>/(?:(?:{_PATH_CHAR}|{_PARENS})*(?:{_PATH_END}|{_PARENS}))?)?
    (?:\?[\w!?*'@();:&=+$/%#\[\]\-.,~|]*[\w\-&=#/])?""",
    re.IGNORECASE | re.VERBOSE,
)
_SPECIAL_CCTLDS = frozenset({"co", "tv"})  # one label before them is enough for a URL without scheme or path
_VS16, _ZWJ, _KEYCAP = "\ufe0f", "\u200d", "\u20e3"
_PICTOGRAPHIC = ((0x2190, 0x21FF), (0x2300, 0x23FF), (0x25A0, 0x27BF), (0x2900, 0x297F), (0x2B00, 0x2BFF))
_PICTOGRAPHIC_POINTS = frozenset({0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299})


def snowflake_time(identifier: str | None) -> datetime | None:
    """The creation time X encodes in a post or DM event id (the platform's own clock, to the millisecond)."""
    if not identifier or not identifier.isdigit():
        return None
    return datetime.fromtimestamp(((int(identifier) >> 22) + _TWEPOCH_MS) / 1000, tz=timezone.utc)


def _weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _LIGHT) else 2


def _pictographic(char: str) -> bool:
    """An emoji base (Unicode's Extended_Pictographic, by its blocks): what a variation selector, a skin tone or a
    zero-width joiner attaches to."""
    point = ord(char)
    return (
        0x1F000 <= point <= 0x1FAFF
        or point in _PICTOGRAPHIC_POINTS
        or any(low <= point <= high for low, high in _PICTOGRAPHIC)
    )


def _emoji_element(text: str, at: int) -> int:
    """The end of the emoji element at ``at``: a base, then its presentation selector, skin tone and tag sequence
    (subdivision flags), whichever are there."""
    end = at + 1
    if end < len(text) and text[end] == _VS16:
        end += 1
    if end < len(text) and 0x1F3FB <= ord(text[end]) <= 0x1F3FF:  # skin tone modifier
        end += 1
    tags = end
    while tags < len(text) and 0xE0020 <= ord(text[tags]) <= 0xE007E:
        tags += 1
    if tags > end and tags < len(text) and ord(text[tags]) == 0xE007F:  # a complete tag sequence
        end = tags + 1
    return end


def _emoji_end(text: str, at: int) -> int | None:
    """The end of the emoji sequence starting at ``at`` (twemoji's grouping, which twitter-text weighs as one
    default-weight character whatever its code points), or None when none starts there."""
    char = text[at]
    following = text[at + 1] if at + 1 < len(text) else ""
    if 0x1F1E6 <= ord(char) <= 0x1F1FF:  # regional indicators: a pair is a flag
        return at + 2 if following and 0x1F1E6 <= ord(following) <= 0x1F1FF else None
    if char in "0123456789#*":  # keycaps: 1️⃣
        end = at + 2 if following == _VS16 else at + 1
        return end + 1 if text[end : end + 1] == _KEYCAP else None
    if not _pictographic(char):
        return None
    end = _emoji_element(text, at)
    while text[end : end + 1] == _ZWJ and end + 1 < len(text) and _pictographic(text[end + 1]):
        end = _emoji_element(text, end + 1)
    if end == at + 1 and _weight(char) == 1:
        return None  # ©, ® as plain text weigh as text
    return end


def _is_url(match: re.Match[str]) -> bool:
    """twitter-text takes a scheme-less domain of one label and a country code (``example.fr``) for a URL only with
    a path, or for ``.co`` and ``.tv``."""
    if match["scheme"] or match["path"]:
        return True
    labels = match["bare"].lower().split(".")
    return len(labels) > 2 or labels[-1] not in _CCTLD_SET or labels[-1] in _SPECIAL_CCTLDS


def _weighted_text(text: str) -> int:
    total, at = 0, 0
    while at < len(text):
        end = _emoji_end(text, at)
        if end is None:
            total += _weight(text[at])
            at += 1
        else:
            total += 2  # the default weight, once for the whole sequence
            at = end
    return total


def weighted_length(text: str) -> int:
    """X's counting (twitter-text v3), on the NFC text: every URL counts 23 (with or without a scheme: a domain
    with a known top-level domain is one; trailing punctuation is not part of it); an emoji sequence (skin tone,
    zero-width-joined family, flag, keycap, presentation selector) counts 2; other code points in the Latin, general
    punctuation and a few other light ranges count 1, everything else (CJK ...) 2. A post takes 280."""
    text = unicodedata.normalize("NFC", text)
    total, start = 0, 0
    for match in _URL.finditer(text):
        if _is_url(match):
            total += _weighted_text(text[start : match.start()]) + TCO_LENGTH
            start = match.end()
    return total + _weighted_text(text[start:])


class XPublisher(PlatformAdapter):
    platform = "x"
    limits = {PUBLIC_REPLY: 280, PRIVATE_REPLY: 10_000}

    def __init__(
        self, base_url: str = BASE_URL, transport: Transport | None = None, credentials: Credentials | None = None
    ) -> None:
        super().__init__(base_url, transport, credentials)
        self.token = AccessToken(self._exchange_refresh_token)

    def measure(self, text: str) -> int:
        return weighted_length(text)

    # -- auth -------------------------------------------------------------------------------------------------
    def _exchange_refresh_token(self, now: datetime, fresh: bool) -> Grant:
        creds = self.credentials
        client_id = creds.require(CLIENT_ID)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.require(REFRESH_TOKEN, fresh=fresh),
            "client_id": client_id,
        }
        secret = creds.get(CLIENT_SECRET)
        headers = {"Authorization": basic_auth(client_id, secret)} if secret else {}  # confidential clients
        response = self.transport.request("POST", self.base_url + "/2/oauth2/token", now, headers=headers, form=form)
        if response.status != 200:
            raise token_endpoint_failure(response, now, "X token refresh")
        body = response.json()
        if body.get("refresh_token"):
            creds.put(REFRESH_TOKEN, body["refresh_token"])  # rotated: the old one no longer works
        return Grant(str(body.get("access_token", "")), now + timedelta(seconds=int(body.get("expires_in", 7200))))

    # -- rules ------------------------------------------------------------------------------------------------
    def _rules(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult | None:
        if channel != PUBLIC_REPLY or (self.credentials.get(API_TIER) or SELF_SERVE) != SELF_SERVE:
            return None
        handle = self.credentials.require(BRAND_HANDLE).lstrip("@")
        if re.search(rf"(?<![\w@])@{re.escape(handle)}(?!\w)", target.text, re.IGNORECASE):
            return None
        brand_id = self.credentials.require(BRAND_USER_ID)
        answer = self.call(
            "GET",
            f"/2/tweets/{target.external_id}",
            now,
            "X post look-up",
            query={"tweet.fields": "author_id,entities,referenced_tweets", "expansions": "referenced_tweets.id"},
        ).json()
        post = answer.get("data")
        if not isinstance(post, dict):
            return final(Reason.TARGET_GONE, "X: the post is deleted or not visible")
        mentions = (post.get("entities") or {}).get("mentions") or []
        if any(str(m.get("username", "")).lower() == handle.lower() or str(m.get("id")) == brand_id for m in mentions):
            return None
        quoted = {ref.get("id") for ref in post.get("referenced_tweets") or [] if ref.get("type") == "quoted"}
        included = (answer.get("includes") or {}).get("tweets") or []
        if any(t.get("id") in quoted and str(t.get("author_id")) == brand_id for t in included):
            return None
        return final(
            Reason.NOT_MENTIONED,
            f"X self-serve tiers may reply only when the author mentioned or quoted "
            f"@{handle}; this post does neither (an enterprise tier may reply)",
        )

    # -- posting ----------------------------------------------------------------------------------------------
    def _participant(self, target: ReplyTarget) -> str:
        # A DM conversation is named by the other participant (the parser puts the sender there for DMs).
        participant = target.thread_id if target.kind == "message" and target.thread_id else target.author_id
        if not participant:
            raise Stop(final(Reason.REJECTED, "X: the mention names no author to message"))
        return participant

    def _post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        if channel == PUBLIC_REPLY:
            body = self.call(
                "POST",
                "/2/tweets",
                now,
                "X reply",
                json_body={"text": text, "reply": {"in_reply_to_tweet_id": target.external_id}},
            ).json()
            post_id = str((body.get("data") or {}).get("id") or "")
            return done(post_id or None, snowflake_time(post_id))
        participant = self._participant(target)
        body = self.call(
            "POST",
            f"/2/dm_conversations/with/{participant}/messages",
            now,
            "X direct message",
            json_body={"text": text},
        ).json()
        event_id = str((body.get("data") or {}).get("dm_event_id") or "")
        return done(event_id or None, snowflake_time(event_id))

    READ_BACK_PAGES = 10  # a read-back reads at most this many pages of 100, then gives up (and posts again)

    def _find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        brand_id = self.credentials.require(BRAND_USER_ID)
        if channel == PUBLIC_REPLY:
            start = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            for post in self._read_back_pages(
                f"/2/users/{brand_id}/tweets",
                {"start_time": start, "max_results": 100, "tweet.fields": "created_at,referenced_tweets"},
                since,
                now,
                "X timeline read-back",
            ):
                replied = {r.get("id") for r in post.get("referenced_tweets") or [] if r.get("type") == "replied_to"}
                if target.external_id in replied and is_our_reply(post.get("text"), text):
                    return done(str(post["id"]), parse_time(post.get("created_at")), Reason.FOUND_BY_READ_BACK)
            return None
        for event in self._read_back_pages(
            f"/2/dm_conversations/with/{self._participant(target)}/dm_events",
            {"event_types": "MessageCreate", "max_results": 100, "dm_event.fields": "created_at,sender_id,text"},
            since,
            now,
            "X DM read-back",
        ):
            at = parse_time(event.get("created_at"))
            if str(event.get("sender_id")) == brand_id and at and at >= since and is_our_reply(event.get("text"), text):
                return done(str(event["id"]), at, Reason.FOUND_BY_READ_BACK)
        return None

    def _read_back_pages(
        self, path: str, query: dict[str, Any], since: datetime, now: datetime, what: str
    ) -> Iterator[dict[str, Any]]:
        """The items of a newest-first list, page after page (``meta.next_token`` -> ``pagination_token``), until a
        page reaches back past ``since`` or ``READ_BACK_PAGES`` pages were read (a read-back never loops)."""
        token: str | None = None
        for _ in range(self.READ_BACK_PAGES):
            page = self.call(
                "GET", path, now, what, query={**query, **({"pagination_token": token} if token else {})}
            ).json()
            items = [item for item in page.get("data") or [] if isinstance(item, dict)]
            yield from items
            times = [
                at for item in items if (at := parse_time(item.get("created_at")) or snowflake_time(item.get("id")))
            ]
            token = str((page.get("meta") or {}).get("next_token") or "") or None
            if token is None or (times and min(times) < since):
                return

    # -- errors -----------------------------------------------------------------------------------------------
    def _failure(self, response: Response, now: datetime, what: str) -> PublishResult:
        """X answers problems as ``{"title", "detail", "type", "status"}`` (v2) or ``{"errors": [{"message"}]}``."""
        status = response.status
        body = response.json()
        detail = str(body.get("detail") or _first_error(body) or body.get("title") or f"HTTP {status}")
        said = f"{what}: {detail}"
        lowered = detail.lower()
        if status == 429:
            return retry(Reason.RATE_LIMITED, retry_after(response, now), said, status=429)
        if status >= 500:
            return server_error(response, now, what)
        if "duplicate" in lowered:
            return final(Reason.DUPLICATE_CONTENT, said, status)
        if "deleted or not visible" in lowered or status == 404:
            return final(Reason.TARGET_GONE, said, status)
        if "not been mentioned" in lowered or "not allowed because" in lowered:
            return final(Reason.NOT_MENTIONED, said, status)
        if status == 403 and (
            "client-forbidden" in str(body.get("type", ""))
            or "permission" in lowered
            or "oauth" in lowered
            or "scope" in lowered
        ):
            return alert(Reason.PERMISSION_MISSING, said, status)
        return final(Reason.REJECTED, said, status)


def _first_error(body: dict[str, Any]) -> str:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message") or errors[0].get("detail") or "")
    return ""
