"""What hypothesis sends: arbitrary bytes, headers and query strings, JSON from the pydantic schemas, and native
platform deliveries rendered from schema-built mentions (``infra.local.deliveries``, as the replay sends them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

# Text a header or URL can carry once decoded: anything but surrogates (not encodable) and the NUL byte.
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
short_bytes = st.binary(max_size=300)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)

# Header names the routes read (any case), plus arbitrary ones.
KNOWN_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-Hub-Signature-256",
    "X-Hub-Signature",
    "X-Signature",
    "x-twitter-webhooks-signature",
    "If-Match",
    "Content-Length",
    "Host",
    "Accept",
]
header_names = st.sampled_from(KNOWN_HEADERS) | st.from_regex(r"\A[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}\Z")
# "²".isdigit() is True and int("²") fails; "١٧" is a decimal int() reads; a 13-digit time overflows datetime
_digits = st.sampled_from(["²", "١٧٠٠٠٠٠٠٠٠", "1" * 13, "-1", "0"]) | st.text(
    st.characters(categories=["Nd", "No"]), min_size=1, max_size=12
)
_hex = st.text("0123456789abcdefABCDEF", max_size=64)
_latin1 = st.binary(max_size=40).map(lambda raw: raw.decode("latin-1"))  # what an HTTP server makes of raw bytes


def _b64(value: str) -> str:
    import base64

    return base64.b64encode(value.encode("utf-8", "surrogatepass")).decode()


# Values shaped like the real headers, so the parsers behind them are reached, not just the "missing" branches.
SHAPED_VALUES = {
    "Authorization": st.one_of(
        st.tuples(text, text).map(lambda pair: "Basic " + _b64(f"{pair[0]}:{pair[1]}")),
        st.sampled_from(["Basic dHJ1c3RwaWxvdDrDqQ==", "Basic é", "Basic " + _b64("trustpilot:\u00e9\u20ac")]),
        text.map(lambda t: "Basic " + t),
        text.map(lambda t: "Bearer " + t),
    ),
    "X-Signature": st.tuples(_digits | text, _hex | text).map(lambda pair: f"t={pair[0]},v1={pair[1]}"),
    "X-Hub-Signature-256": st.tuples(st.sampled_from(["sha256", "sha1", "md5", "SHA256", ""]) | text, _hex | text).map(
        "=".join
    ),
    "X-Hub-Signature": st.tuples(st.sampled_from(["sha1", "sha256", "md5"]) | text, _hex | text).map("=".join),
    "x-twitter-webhooks-signature": text.map(lambda t: "sha256=" + t),
}
shaped_headers = st.fixed_dictionaries({}, optional=dict(SHAPED_VALUES.items()))
headers = st.dictionaries(header_names, text | _latin1, max_size=5) | shaped_headers


def query_string(known: list[str]) -> st.SearchStrategy[str]:
    """A query string: the route's own parameters or others, with arbitrary values, well encoded or not."""
    pairs = st.lists(st.tuples(st.sampled_from(known) | text, text | st.integers().map(str)), max_size=4)
    encoded = pairs.map(urlencode)
    raw = st.text(st.sampled_from("%&=+;?aZ9_.-~é²\\ \t"), max_size=30)  # broken escapes, stray separators
    return st.one_of(encoded, raw)


def path_segment() -> st.SearchStrategy[str]:
    """One path segment: percent-encoded arbitrary text, or raw text without the URL's delimiters.

    Raw text also leaves out what no HTTP request line can carry raw (tab, CR, LF: clients percent-encode them)
    and ``;``, which Chalice's local router (``urlparse``) takes for the start of path parameters and answers with
    no route, where API Gateway passes it on; both still come percent-encoded in the other branch."""
    raw = st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#;\x00\t\r\n"), min_size=1, max_size=60
    )
    return st.one_of(text.filter(bool).map(lambda t: quote(t, safe="")), raw)


_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
EDGE_TIMES = [
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999+00:00",
    "0001-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59-00:01",
    "2100-01-01T00:00:00Z",
]
"""Times at the ends of what Python, DynamoDB and the domain's arithmetic can hold (each broke a webhook once)."""
date_times = st.one_of(st.sampled_from(EDGE_TIMES), st.datetimes(timezones=_OFFSETS).map(datetime.isoformat))
_WIDE = ["x", "é", "€", "\U0001d518"]  # 1 to 4 bytes in UTF-8: a full-length string of each tests byte bounds


def from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values for the JSON schema subset pydantic writes for our models: $ref, anyOf, enum, objects, arrays,
    bounded strings (patterns, date and date-time), numbers and booleans. Values at the bounds are drawn often:
    a full-length string of 4-byte characters, the minimum and the maximum, year 1 and year 9999."""
    defs = schema.get("$defs", {}) if defs is None else defs
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        outer = {k: v for k, v in schema.items() if k != "anyOf"}
        return st.one_of([from_schema({**outer, **option}, defs) for option in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    low, high = schema.get("minimum", schema.get("ge")), schema.get("maximum", schema.get("le"))
    kind = schema.get("type")
    if kind == "string":
        shortest, longest = schema.get("minLength", 0), schema.get("maxLength", 200)
        if schema.get("format") == "date-time":
            return date_times
        if schema.get("format") == "date":
            return st.dates().map(lambda day: day.isoformat())
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda v: shortest <= len(v) <= longest)
        return st.one_of(
            st.text(min_size=shortest, max_size=min(longest, 300)),
            st.sampled_from(_WIDE).map(lambda char: char * longest),
        )
    if kind == "integer":
        return st.one_of(st.integers(low, high), st.sampled_from([b for b in (low, high) if b is not None] or [0]))
    if kind == "number":
        return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.integers(
            None if low is None else int(low), None if high is None else int(high)
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), defs), max_size=3)
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {name: from_schema(spec, defs) for name, spec in properties.items() if name in required},
            optional={name: from_schema(spec, defs) for name, spec in properties.items() if name not in required},
        )
    return json_values


def schema_json(model: type) -> st.SearchStrategy[Any]:
    """Documents valid (and, through their bounds, borderline) for a pydantic model's JSON schema."""
    return from_schema(model.model_json_schema())


def _near_now() -> st.SearchStrategy[str]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return st.integers(-3 * 24 * 3600, 3 * 24 * 3600).map(lambda s: (now + timedelta(seconds=s)).isoformat())


def generic_rows() -> st.SearchStrategy[dict[str, Any]]:
    """Generic-contract mentions from ``GenericMention``'s JSON schema; half dated around now (so they can be
    stored), half with whatever date-time the schema allows (so the date bounds are tried)."""
    from chalicelib.platforms.generic import GenericMention

    @st.composite
    def build(draw) -> dict[str, Any]:
        row = draw(schema_json(GenericMention))
        if draw(st.booleans()):
            row["created_at"] = draw(_near_now())
        return row

    return build()


def _complete(row: dict[str, Any], filler: str) -> dict[str, Any]:
    """The native renderers need every author field and a rating: fill what the schema left out."""
    author = dict(row.get("author") or {})
    for name in ("id", "handle", "name"):
        author[name] = author.get(name) or filler
    author.setdefault("followers", 0)
    author["followers"] = author["followers"] if author["followers"] is not None else 0
    author["verified"] = bool(author.get("verified"))
    return {**row, "author": author, "title": row.get("title") or None}


NATIVE_ROUTES = ["x", "meta-facebook", "meta-instagram", "meta-rating", "youtube", "trustpilot", "generic"]


def native_deliveries():
    """(endpoint, body, content type) of a schema-built mention as its platform sends it."""
    from infra.local.deliveries import build

    @st.composite
    def render(draw):
        row = _complete(draw(generic_rows()), draw(text.filter(str.strip)))
        route = draw(st.sampled_from(NATIVE_ROUTES))
        try:
            delivery = build({**row, "route": route})
        except (ValueError, OverflowError):  # the renderer itself (not the app) cannot render this row
            from hypothesis import reject

            reject()
        return delivery.endpoint, delivery.body, delivery.content_type

    return render()


XML_ENCODINGS = ["UTF-8", "utf-16", "ISO-8859-1", "x-foo", "ebcdic-cp-us", "utf-7", "UTF-32", ""]


@st.composite
def atom_feeds(draw) -> bytes:
    """WebSub Atom bodies with any declared encoding, text, dates and entry counts (YouTube's route)."""
    from xml.sax.saxutils import escape

    encoding = draw(st.sampled_from(XML_ENCODINGS) | st.from_regex(r"\A[A-Za-z][A-Za-z0-9._-]{0,20}\Z"))
    prolog = draw(st.sampled_from([f'<?xml version="1.0" encoding="{encoding}"?>', "", '<?xml version="1.0"?>']))
    when = draw(date_times | text)
    entry = (
        f"<entry><id>yt:video:{escape(draw(text))}</id><yt:videoId>{escape(draw(text))}</yt:videoId>"
        f"<yt:channelId>{escape(draw(text))}</yt:channelId><title>{escape(draw(text))}</title>"
        f"<author><name>{escape(draw(text))}</name></author><published>{escape(when)}</published></entry>"
    )
    body = (
        f'{prolog}<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
        f'xmlns="http://www.w3.org/2005/Atom">{entry * draw(st.integers(0, 3))}</feed>'
    )
    return body.encode("utf-8", "surrogatepass")


def native_delivery(route: str, created_at: str, followers: int = 10, text_: str = "Seams split") -> tuple:
    """One fixed native delivery (for ``@example``s: the inputs that once broke a route are always tried)."""
    from infra.local.deliveries import build

    row = {
        "platform": "reviews",
        "id": "edge-1",
        "created_at": created_at,
        "text": text_,
        "rating": 2,
        "author": {"id": "a-1", "handle": "ana", "name": "Ana", "followers": followers, "verified": False},
        "route": route,
    }
    delivery = build(row)
    return delivery.endpoint, delivery.body, delivery.content_type


def json_body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


# --- What the contract allows ----------------------------------------------------------------------------------

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def content_type_of(headers: dict[str, str]) -> str | None:
    found = [value for name, value in headers.items() if name.lower() == "content-type"]
    return found[-1] if found else None


def assert_json_answer(answer, allowed: set[int], request: object) -> dict[str, Any]:
    """A status the contract allows; JSON; a refusal says what is wrong in ``error``."""
    assert answer.status_code in allowed, (answer.status_code, answer.body[:500], request)
    assert answer.headers.get("Content-Type", "").startswith("application/json"), (answer.headers, request)
    body = json.loads(answer.body)
    if answer.status_code >= 400:
        assert isinstance(body.get("error"), str) and body["error"], (body, request)
    return body


def assert_page_answer(answer, request: object) -> str:
    """An approval page: 200 or a 4xx, always HTML (the person behind the link sees a page, never JSON)."""
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, (
        answer.status_code,
        answer.body[:500],
        request,
    )
    assert answer.headers.get("Content-Type") == "text/html; charset=utf-8", (answer.headers, request)
    assert answer.headers.get("Referrer-Policy") == "no-referrer"
    return answer.body.decode()
