"""Keep signed links, tokens and secrets out of the local stack's log files.

Every line a child process writes passes through :class:`Redactor` on its way to ``.run/logs``. The console still
prints each approval link as it is emailed (the contract), but the files keep only the route, never a credential:

* query values that sign or authorise (``sig``, ``exp``, ``token``, ``crc_token``, ``cursor``, ``hub.challenge`` ...);
* path segments that are bearer capabilities (``/approvals/<id>``, ``/surveys/<id>`` ...);
* ``Authorization`` header values, Step Functions task tokens, ``sha256=``/``sha1=`` signatures;
* and, literally, every secret value of the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

REDACTED = "<redacted>"

SECRET_QUERY_NAMES = (
    "sig",
    "signature",
    "exp",
    "expires",
    "token",
    "crc_token",
    "cursor",
    "hub.challenge",
    "hub.verify_token",
    "access_token",
    "id_token",
    "code",
    "key",
    "secret",
    "password",
)
CAPABILITY_ROUTES = ("approvals", "surveys", "survey", "feedback", "links", "unsubscribe")

_SECRET_NAMES = "|".join(re.escape(name) for name in SECRET_QUERY_NAMES)
_QUERY = re.compile(rf"([?&;](?:{_SECRET_NAMES})=)[^&\s\"'#;]*", re.IGNORECASE)
_PATH = re.compile(rf"(/(?:{'|'.join(CAPABILITY_ROUTES)})/)[^/?\s\"'#]+", re.IGNORECASE)
_AUTHORIZATION = re.compile(
    r"((?:authorization|x-api-key)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+|basic\s+)?)"
    r"[^\s\"',}]+",
    re.IGNORECASE,
)
_TASK_TOKEN = re.compile(r"([\"']?task_?token[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+", re.IGNORECASE)
_SIGNATURE = re.compile(r"((?:sha256|sha1|v1)=)[A-Za-z0-9+/_\-]{16,}=*")


class Redactor:
    """``secrets`` is read on every line: the stack learns its secrets after its first child (moto) started."""

    def __init__(self, secrets: Callable[[], Iterable[str]] = tuple) -> None:
        self.secrets = secrets

    def __call__(self, line: str) -> str:
        # Longest first, so a secret that contains another is replaced whole; short values would match by chance.
        for value in sorted({value for value in self.secrets() if value and len(value) >= 8}, key=len, reverse=True):
            line = line.replace(value, REDACTED)
        line = _QUERY.sub(rf"\1{REDACTED}", line)
        line = _PATH.sub(rf"\1{REDACTED}", line)
        line = _AUTHORIZATION.sub(rf"\1{REDACTED}", line)
        line = _TASK_TOKEN.sub(rf"\1{REDACTED}", line)
        return _SIGNATURE.sub(rf"\1{REDACTED}", line)
