"""The weekly report's emailed link: signed, expiring, single-use (the single use is enforced by the store).

A link is ``/reports/<week>/open?to=<recipient>&exp=<unix seconds>&sig=<hex HMAC-SHA256>``, one per recipient,
signed with ``LINK_SIGNING_KEY`` over the week, the recipient and the expiry (``domain.links``' signature, with a
``report:`` prefix on the week so an approval or survey link's signature never opens a report). ``to`` is a digest
of the recipient's address, not the address: a URL ends up in access logs and browser histories.

Opening it shows a page with one button (mail scanners and link previews fetch links before people do, so GET
changes nothing); the button uses the link and is answered with a presigned S3 link to the report, valid a few
minutes. A link used once, expired or forged opens nothing.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from chalicelib.domain import links

LINK_SECONDS = 7 * 24 * 3600  # as long as the week's report is news
OPEN_SECONDS = 300  # the presigned S3 link a used link answers with: enough to load the page
RECIPIENT_REF_CHARS = 16  # hex digits of the recipient's digest in the link


def recipient_ref(recipient: str) -> str:
    """The link's ``to``: a digest of the address (case-insensitive), not the address."""
    return hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:RECIPIENT_REF_CHARS]


def _signed_id(week: str) -> str:
    return f"report:{week}"


def link_path(key: str, week: str, recipient: str, expires_at: int) -> str:
    to = recipient_ref(recipient)
    query = urlencode({"to": to, "exp": expires_at, "sig": links.signature(key, _signed_id(week), to, expires_at)})
    return f"/reports/{week}/open?{query}"


def check_link(
    key: str, week: str, to: str | None, expires_at: str | int | None, given: str | None, now: float
) -> links.LinkCheck:
    """Constant-time signature check, then the expiry (``links.check``)."""
    if not to or len(to) != RECIPIENT_REF_CHARS:
        return links.LinkCheck.TAMPERED
    return links.check(key, _signed_id(week), to, expires_at, given, now)


def use_name(week: str, to: str, expires_at: str | int) -> str:
    """The name the link's single use is recorded under, from the values its signature covers as the signature
    reads them (``to`` in lower case, the expiry as a number): ``exp=0123``, ``exp=+123`` or an upper-case ``to`` are
    the same signed link, and must not count as a new, unused one."""
    return f"report#{week}#open#{to.lower()}#{int(expires_at)}"
