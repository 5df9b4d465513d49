"""Emailed approval links: signed, expiring, single-use (the single use is enforced by the store).

A link is ``/approvals/<approval id>?exp=<unix seconds>&sig=<hex HMAC-SHA256>`` over the approval id, the person
it was sent to and the expiry, keyed with ``LINK_SIGNING_KEY``. The approval id is random (128 bits) and maps,
server-side only, to the Step Functions task token: the token never appears in a URL or an email.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from urllib.parse import urlencode

# The longest id a link may name: ours are 22 characters (approvals) and a few dozen (surveys). A longer one is a
# forgery, refused before it reaches the store (DynamoDB refuses a key over 2,048 bytes with an error: a 500).
MAX_LINK_ID_CHARS = 64


class LinkCheck(StrEnum):
    VALID = "valid"
    TAMPERED = "tampered"  # 403
    EXPIRED = "expired"  # 410


def signature(key: str, approval_id: str, person: str, expires_at: int) -> str:
    message = f"{approval_id}|{person.lower()}|{expires_at}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def link_path(key: str, approval_id: str, person: str, expires_at: int) -> str:
    query = urlencode({"exp": expires_at, "sig": signature(key, approval_id, person, expires_at)})
    return f"/approvals/{approval_id}?{query}"


def check(
    key: str, approval_id: str, person: str, expires_at: str | int | None, given: str | None, now: float
) -> LinkCheck:
    """Constant-time signature check first (a forged expiry is tampering), then the expiry."""
    try:
        expiry = int(expires_at or "")
    except ValueError:
        return LinkCheck.TAMPERED
    if not given or not hmac.compare_digest(signature(key, approval_id, person, expiry).encode(), given.encode()):
        return LinkCheck.TAMPERED
    return LinkCheck.EXPIRED if now > expiry else LinkCheck.VALID


def token_reference(task_token: str) -> str:
    """Where a task token is kept: its hash, so the key itself reveals nothing."""
    return "token#" + hashlib.sha256(task_token.encode()).hexdigest()
