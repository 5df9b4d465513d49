"""Right to erasure: what identifies an author's personal data, and how a stored value is redacted of it.

Pure. ``services/erasure.py`` collects the needles from the author's stored mentions (their handles, names and
texts, the author id and the platform), the adapter (``adapters/erasure.py``) walks every table, deletes the items
whose key is the author's (:meth:`ErasureNeedles.owns_key_of`) and applies :func:`redact_item` to the others,
JSON inside strings included (the audit trail keeps its details as JSON).

What is never touched, so erasing one author never rewrites another's data: key attributes, enumerations and ids
(:func:`protected`: ``platform``, ``status``, ``category``, ``kind``, ``*_id`` ...), and the identity attributes of
an item whose author is someone else. The author id is matched only whole, where it is stored as the author
(:data:`IDENTITY_ATTRIBUTES`), never as a word of free text or a part of somebody else's key; handles and names are
matched as whole words, and only from :data:`MIN_WORD` characters (a one-letter name is every "x" in a table).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.text_safety import one_line

REDACTED = "[erased]"
EXCERPT = 160  # issue descriptions quote this much of the first mention (domain/issues.describe)
MIN_TEXT = 8  # shorter texts ("ok", "thanks") are too common to redact in other people's words
MIN_WORD = 3  # shorter handles and names ("X", "jo") are redacted only where they are the whole value of an identity

# Attributes that say who the author of an item is (a mention's author, a reply's recipient, a survey's author and
# contact, a dedup or recurrence key's author): compared whole with the author's id, handles and names.
IDENTITY_ATTRIBUTES = frozenset({"author", "author_id", "author_handle", "author_name", "recipient", "contact"})
# Enumerations, ids, keys, times and staff: never the author's words, never rewritten.
PROTECTED_NAMES = frozenset(
    {
        "platform",
        "status",
        "category",
        "previous_category",
        "from",
        "to",
        "severity",
        "kind",
        "channel",
        "protocol",
        "type",
        "rule",
        "recurrence_rule",
        "topic",
        "team",
        "teams",
        "notify",
        "stakeholders",
        "state",
        "phase",
        "outcome",
        "sentiment",
        "language",
        "scope",
        "clock",
        "via",
        "products",
        "products_named",
        "delivered_to",
        "signature",
        "ttl",
        "hour",
        "day",
        "version",
        "key",
        "pk",
        "sk",
        "m",
        "mention",
        "in_reply_to",
        "reply_to",
        "assigned_to",
        "approved_by",
        "actor",
        "person",
        "send_claim",
    }
)
PROTECTED_SUFFIXES = ("_id", "_ids", "_at", "_due", "_day", "_state", "_status", "_rank", "_version", "_until", "_key")
# In a quoted excerpt's context a handle or name of any length is the author: ``... from <handle>: "<excerpt>"``
# (domain/issues.describe) and ``Split from <issue>: <who> on <platform>: "<excerpt>"`` (domain/ops).
_SUBJECTS = ("product:", "topic:")  # what follows the author in a dedup key (domain/dedup.plan_keys)
_QUOTED_BY = (r"(?<= from )", r'(?=: ")'), (r"(?<=: )", r'(?= on [\w-]+: ")')


def author_reference(platform: str, author_id: str) -> str:
    """What the erasure's audit event keeps of the author: a digest, never the id itself."""
    return "sha256:" + hashlib.sha256(f"{platform}#{author_id}".encode()).hexdigest()[:16]


def protected(name: str | None) -> bool:
    """Is ``name`` an attribute that never holds an author's words (an enumeration, id, key, time or staff)?"""
    return bool(name) and (name in PROTECTED_NAMES or str(name).endswith(PROTECTED_SUFFIXES))


@dataclass(frozen=True)
class ErasureNeedles:
    """What to find: the author (``platform`` and ``author_id``: whole identity values and their keys' layouts),
    their handles and names (as words, case-insensitive, with or without ``@``) and their texts (whole, and as
    issue descriptions quote them)."""

    author_id: str
    handles: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    texts: frozenset[str] = frozenset()
    platform: str = ""
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(
        cls, author_id: str, handles: list[str], names: list[str], texts: list[str], platform: str = ""
    ) -> ErasureNeedles:
        texts_found = {
            t
            for text in texts
            if text
            for t in (text, one_line(text), one_line(text)[:EXCERPT])
            if len(t.strip()) >= MIN_TEXT
        }
        return cls(
            author_id=author_id,
            handles=frozenset(h.strip().lstrip("@") for h in handles if h and h.strip().lstrip("@")),
            names=frozenset(n.strip() for n in names if n and n.strip()),
            texts=frozenset(texts_found),
            platform=platform,
        )

    def pattern(self) -> re.Pattern[str] | None:
        if self._pattern is None:
            words = sorted({*self.handles, *self.names}, key=len, reverse=True)
            texts = sorted(self.texts, key=len, reverse=True)
            parts = [re.escape(t) for t in texts]
            # a word of its own: not part of a longer word, an email (``ana@brand``) or a dotted name (``ana.ops``)
            parts += [r"(?<![\w.@-])@?" + re.escape(w) + r"(?![\w@-]|\.\w)" for w in words if len(w) >= MIN_WORD]
            parts += [before + "@?" + re.escape(w) + after for w in words for before, after in _QUOTED_BY]
            if not parts:
                return None
            object.__setattr__(self, "_pattern", re.compile("|".join(parts), re.IGNORECASE))
        return self._pattern

    def is_author_key(self, value: str) -> bool:
        """Is a key value one of the author's own: ``author#<platform>#<id>`` (a recurrence key) or
        ``author#<platform>#<id>#<subject>`` (a dedup key)? By its layout: never because some part of someone
        else's key (``<platform>#<external id>``, ``conv#<platform>#<external id>``) equals the id."""
        if not self.platform:
            return False
        own = f"author#{self.platform}#{self.author_id}"
        return value == own or (value.startswith(own + "#") and value[len(own) + 1 :].startswith(_SUBJECTS))

    def owns_key_of(self, item: dict[str, Any], keys: Iterable[str]) -> bool:
        """Is ``item`` (plain values) the author's by its key, so it is deleted (a key cannot be rewritten)? The
        author's dedup and recurrence keys, and the conversation claims (``conv#<platform>#...``) whose stored
        ``author`` is the author."""
        values = [item[name] for name in keys if isinstance(item.get(name), str)]
        if any(self.is_author_key(value) for value in values):
            return True
        conversation = f"conv#{self.platform}#"
        return (
            bool(self.platform)
            and item.get("author") == self.author_id
            and any(value.startswith(conversation) for value in values)
        )

    def is_author(self, value: str, platform: str | None = None) -> bool:
        """Does an identity attribute's whole value name the author: ``<platform>#<id>``, or the id, a handle
        (with or without ``@``) or a name on the author's platform (or where the item says no platform)?"""
        if self.platform and value == f"{self.platform}#{self.author_id}":
            return True
        if platform and self.platform and platform != self.platform:
            return False
        whole = value.strip()
        if whole == self.author_id:
            return True
        folded = whole.lstrip("@").casefold()
        return bool(folded) and (
            folded in {h.casefold() for h in self.handles} or folded in {n.casefold() for n in self.names}
        )

    def is_authors_mention(self, item: dict[str, Any]) -> bool:
        """A mention the author wrote (as ``DynamoErasure.author_mentions`` finds them): erased last, not redacted."""
        if self.platform and item.get("platform") != self.platform:
            return False
        author_id = item.get("author_id")
        return author_id == self.author_id or (not author_id and item.get("author_handle") == self.author_id)


def _platform_of(item: dict[str, Any], keys: Iterable[str] = ()) -> str | None:
    """The platform an item is about: its ``platform``, else the one its key names (``conv#<platform>#...``)."""
    platform = item.get("platform")
    if isinstance(platform, str) and platform:
        return platform
    for name in keys:
        value = item.get(name)
        if isinstance(value, str) and value.split("#", 1)[0] in ("conv", "author") and value.count("#") >= 2:
            return value.split("#")[1]
    return None


def redact_item(item: dict[str, Any], needles: ErasureNeedles, keys: Iterable[str] = ()) -> dict[str, Any]:
    """The attributes of ``item`` (plain values) that change, redacted: never its keys, enumerations and ids, nor
    the identity of an author who is someone else (another author's mention keeps their handle and name)."""
    keys = list(keys)
    platform = _platform_of(item, keys)
    someone_else = bool(item.get("author_id")) and not needles.is_authors_mention(item)
    changed = {}
    for name, value in item.items():
        if name in keys or (someone_else and name in IDENTITY_ATTRIBUTES):
            continue
        cleaned = redact(value, needles, name, platform)
        if cleaned != value:
            changed[name] = cleaned
    return changed


def redact(value: Any, needles: ErasureNeedles, name: str | None = None, platform: str | None = None) -> Any:
    """``value`` (of attribute ``name``) with every needle replaced by ``[erased]``: strings, lists, sets and dicts
    (recursively, each value under its own name), and strings that hold JSON (parsed, redacted, written back the
    same way). An identity attribute naming the author becomes ``[erased]`` whole; a protected one stays."""
    if isinstance(value, str):
        return _redact_text(value, needles, name, platform)
    if isinstance(value, dict):
        inner = value.get("platform")
        where = inner if isinstance(inner, str) and inner else platform
        return {k: redact(v, needles, k if isinstance(k, str) else name, where) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, needles, name, platform) for v in value]
    if isinstance(value, (set, frozenset)):
        return {redact(v, needles, name, platform) for v in value}
    return value


def _redact_text(text: str, needles: ErasureNeedles, name: str | None, platform: str | None) -> str:
    if name in IDENTITY_ATTRIBUTES:
        return REDACTED if needles.is_author(text, platform) else text
    if protected(name):
        return text
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and len(text) > 1:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            cleaned = redact(parsed, needles, name, platform)
            return text if cleaned == parsed else json.dumps(cleaned, default=str)
    pattern = needles.pattern()
    return pattern.sub(REDACTED, text) if pattern else text


def redact_document(text: str, needles: ErasureNeedles, kind: str) -> str:
    """A report file with every needle replaced, as the file writes it: ``json`` parsed and redacted value by value;
    ``html`` the needles as written and as HTML escapes them; ``csv`` as written and with the doubled quotes CSV
    writes inside a quoted field."""
    if kind == "json":
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            cleaned = redact(parsed, needles)
            return text if cleaned == parsed else json.dumps(cleaned, indent=1, default=str)
    variants = [needles]
    if kind == "html":
        variants.append(_transformed(needles, lambda value: html.escape(value, quote=True)))
    if kind == "csv":
        variants.append(_transformed(needles, lambda value: value.replace('"', '""')))
    for variant in variants:
        pattern = variant.pattern()
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
    return text


def _transformed(needles: ErasureNeedles, change: Callable[[str], str]) -> ErasureNeedles:
    return ErasureNeedles(
        author_id=change(needles.author_id),
        handles=frozenset(change(h) for h in needles.handles),
        names=frozenset(change(n) for n in needles.names),
        texts=frozenset(change(t) for t in needles.texts),
        platform=needles.platform,
    )
