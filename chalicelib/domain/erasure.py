"""Right to erasure: what identifies an author's personal data, and how a stored value is redacted of it.

Pure. ``services/erasure.py`` collects the needles from the author's stored mentions (their handles, names and
texts, and the author id itself), the adapter (``adapters/erasure.py``) walks every table and applies
:func:`redact` to every string it holds, JSON inside strings included (the audit trail keeps its details as JSON).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

REDACTED = "[erased]"
EXCERPT = 160  # issue descriptions quote this much of the first mention (domain/issues.describe)
MIN_TEXT = 8  # shorter texts ("ok", "thanks") are too common to redact in other people's words


def author_reference(platform: str, author_id: str) -> str:
    """What the erasure's audit event keeps of the author: a digest, never the id itself."""
    return "sha256:" + hashlib.sha256(f"{platform}#{author_id}".encode()).hexdigest()[:16]


def _words(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class ErasureNeedles:
    """What to find: the author id (a whole value or one ``#``-separated part of a key), their handles and names
    (as words, case-insensitive, with or without ``@``) and their texts (whole, and as issue descriptions quote
    them)."""

    author_id: str
    handles: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    texts: frozenset[str] = frozenset()
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, author_id: str, handles: list[str], names: list[str], texts: list[str]) -> ErasureNeedles:
        texts_found = {
            t
            for text in texts
            if text
            for t in (text, _words(text), _words(text)[:EXCERPT])
            if len(t.strip()) >= MIN_TEXT
        }
        return cls(
            author_id=author_id,
            handles=frozenset(h.lstrip("@") for h in handles if h and h.lstrip("@")),
            names=frozenset(n for n in names if n and n.strip()),
            texts=frozenset(texts_found),
        )

    def pattern(self) -> re.Pattern[str] | None:
        if self._pattern is None:
            words = sorted({*self.handles, *self.names}, key=len, reverse=True)
            texts = sorted(self.texts, key=len, reverse=True)
            parts = [re.escape(t) for t in texts]
            # a word of its own: not part of a longer word, an email (``ana@brand``) or a dotted name (``ana.ops``)
            parts += [r"(?<![\w.@-])@?" + re.escape(w) + r"(?![\w@-]|\.\w)" for w in words]
            if not parts:
                return None
            object.__setattr__(self, "_pattern", re.compile("|".join(parts), re.IGNORECASE))
        return self._pattern

    def in_key(self, value: str) -> bool:
        """Does a key value name the author (``author#<platform>#<id>#...``, or the id or a handle itself)? Whole
        parts only: a key is an id, never free text."""
        parts = set(value.split("#"))
        return self.author_id in parts or bool(parts & self.handles)

    def found(self, value: str) -> bool:
        pattern = self.pattern()
        return value == self.author_id or bool(pattern and pattern.search(value))


def redact(value: Any, needles: ErasureNeedles) -> Any:
    """``value`` with every needle replaced by ``[erased]``: strings, lists, sets and dicts (recursively), and
    strings that hold JSON (parsed, redacted, written back the same way)."""
    if isinstance(value, str):
        return _redact_text(value, needles)
    if isinstance(value, dict):
        return {k: redact(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, needles) for v in value]
    if isinstance(value, (set, frozenset)):
        return {redact(v, needles) for v in value}
    return value


def _redact_text(text: str, needles: ErasureNeedles) -> str:
    if text == needles.author_id:
        return REDACTED
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and len(text) > 1:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, (dict, list)):
            cleaned = redact(parsed, needles)
            return text if cleaned == parsed else json.dumps(cleaned, default=str)
    pattern = needles.pattern()
    return pattern.sub(REDACTED, text) if pattern else text
