"""Author text made safe for the place it is shown: one line where one line is expected, no control characters
where a terminal shows it. Pure (``re`` only): the domain, the CLI (``chalicelib/commands``) and ``make run``'s
console (``infra/local/console.py``) share these, so an author's words are treated alike wherever they appear.

* :func:`one_line`: for a one-line slot (a product, a handle or name in an issue's description, an alert's
  subject, a digest line): every run of whitespace, line breaks of every kind included (``\\r``, ``\\v``, ``\\f``,
  ``\\x1c``-``\\x1f``, ``\\x85``, U+2028, U+2029), becomes one space. Nothing else changes, so erasure, which
  finds an author's words with their whitespace folded the same way (``domain/erasure.py``), still finds them.
* :func:`subject_line`: for an email subject or header (the plan's brand, a subject built from words): whitespace
  and control characters both fold to one space, and the line is cut at a length. Python's email package refuses a
  header with a line break (and SES would take it as the start of another header).
* :func:`printable`: for a terminal: C0 and C1 control characters and DEL are gone (ESC cannot start a sequence
  that moves the cursor, clears the screen or retitles the window; BEL cannot ring), line breaks and tabs are
  spaces.
* :func:`escape_json_controls`: for JSON written with ``ensure_ascii=False``: the characters ``json`` leaves raw
  that a terminal acts on (DEL and C1, such as the one-byte CSI U+009B) become ``\\u`` escapes; the JSON stays
  valid and means the same.
"""

from __future__ import annotations

import re
from typing import Any

_BREAKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")  # \s: line breaks, tabs, U+2028/2029 ...; the rest: controls
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\v\f\r\x1c-\x1f\x85\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f\u2028\u2029]")  # json escapes C0 itself
_NOT_IN_A_LINK = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def one_line(text: Any) -> str:
    """``text`` on one line: whitespace runs (line breaks of every kind too) are one space, the ends trimmed."""
    return " ".join(str(text).split())


def subject_line(text: str, limit: int = 200) -> str:
    """``text`` fit for an email subject: each run of whitespace and control characters one space, trimmed, at most
    ``limit`` characters."""
    return _BREAKS.sub(" ", text).strip()[:limit].rstrip()


def printable(text: Any) -> str:
    """``text`` without C0 and C1 control characters (DEL too), so an author's words (a mention's text, a reply's,
    an alert's subject) cannot move the cursor, clear the screen, retitle the terminal or start a line of their own:
    a line break or tab becomes a space, every other control character is dropped."""
    return _CONTROLS.sub("", _WHITESPACE_CONTROLS.sub(" ", str(text)))


def escape_json_controls(json_text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with DEL, C1 controls and the Unicode line and
    paragraph separators written as ``\\uXXXX``: outside strings JSON holds only ASCII punctuation, so every such
    character is inside a string, where the escape means the same character."""
    return _RAW_IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", json_text)


def clean_link(value: Any) -> bool:
    """Whether ``value`` holds no whitespace or control character (a link written into a line of text must not
    break it)."""
    return not _NOT_IN_A_LINK.search(str(value))
