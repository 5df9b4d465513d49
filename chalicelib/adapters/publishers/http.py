"""What every platform publisher shares: plain HTTPS (urllib3, which botocore already ships: no SDK in the Lambda),
credentials by name (environment, else SSM SecureString, like the other secrets), OAuth access tokens refreshed when
they expire, and the mapping of transport failures to a :class:`PublishResult`.

Inside an adapter a failure is raised as :class:`Stop` carrying its result; the adapter's public methods catch it,
so nothing the platform or the network does escapes as an exception.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import urllib3

from chalicelib.domain.publishing import PublishResult, Reason, alert, retry
from chalicelib.settings import secret_parameter_name

CONNECT_SECONDS = 3.0
READ_SECONDS = 10.0
RETRY_5XX_SECONDS = 30  # a platform's 5xx or a timeout: try again after this (SQS redelivery)
RETRY_UNKNOWN_LIMIT_SECONDS = 60  # a 429 without a reset header
RETRY_AFTER_MAX_SECONDS = 24 * 3600  # the longest a 429 is waited out: past it, retry (and be told again)
_SECONDS = re.compile(r"[0-9]{1,20}")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses
TOKEN_MARGIN_SECONDS = 60  # refresh an access token this long before it expires
USER_AGENT = "social-response/1.0"


class Stop(Exception):
    """Ends a publisher operation with ``result`` (raised inside adapters, never out of them)."""

    def __init__(self, result: PublishResult) -> None:
        super().__init__(result.reason.value)
        self.result = result


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; ``{}`` when it is not one (an HTML error page from a proxy, say)."""
        try:
            value = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class Transport:
    """One connection pool per process; no retries inside (the claim decides whether a retry may post)."""

    def __init__(self, connect_seconds: float = CONNECT_SECONDS, read_seconds: float = READ_SECONDS) -> None:
        self.pool = urllib3.PoolManager(
            retries=False,
            timeout=urllib3.Timeout(connect=connect_seconds, read=read_seconds),
            headers={"User-Agent": USER_AGENT},
        )

    def request(
        self,
        method: str,
        url: str,
        now: datetime,
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> Response:
        """Raises :class:`Stop` (RETRY) when no answer came back: ``ambiguous`` when the request may have been
        received (read timeout, connection dropped), not when the connection never opened."""
        sent_headers = {"Accept": "application/json", **(headers or {})}
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent_headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            sent_headers["Content-Type"] = "application/x-www-form-urlencoded"
        if query:
            url = f"{url}?{urlencode(query)}"
        try:
            answer = self.pool.request(method, url, body=body, headers=sent_headers, redirect=False)
        except urllib3.exceptions.ConnectTimeoutError as error:  # also NewConnectionError: nothing was sent
            raise Stop(
                retry(
                    Reason.UNREACHABLE,
                    now + timedelta(seconds=RETRY_5XX_SECONDS),
                    f"{method} {_path(url)}: {type(error).__name__}",
                )
            ) from None
        except urllib3.exceptions.ReadTimeoutError:
            raise Stop(
                retry(
                    Reason.TIMEOUT,
                    now + timedelta(seconds=RETRY_5XX_SECONDS),
                    f"{method} {_path(url)}: no answer within the read timeout",
                    ambiguous=True,
                )
            ) from None
        except urllib3.exceptions.HTTPError as error:  # connection reset/aborted mid-request
            raise Stop(
                retry(
                    Reason.UNREACHABLE,
                    now + timedelta(seconds=RETRY_5XX_SECONDS),
                    f"{method} {_path(url)}: {type(error).__name__}",
                    ambiguous=True,
                )
            ) from None
        return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.data)


def _path(url: str) -> str:
    """The URL without its query (which may carry an access token): what error details may show."""
    return url.split("?", 1)[0]


def server_error(response: Response, now: datetime, what: str) -> PublishResult:
    """A 5xx: the platform may or may not have acted, so the retry reads back first."""
    return retry(
        Reason.PLATFORM_UNAVAILABLE,
        now + timedelta(seconds=RETRY_5XX_SECONDS),
        f"{what}: HTTP {response.status}",
        ambiguous=True,
        status=response.status,
    )


def retry_after(response: Response, now: datetime) -> datetime:
    """When a 429 may be retried: ``x-rate-limit-reset`` (X, epoch seconds), ``Retry-After`` (seconds or an HTTP
    date), else a minute; never later than :data:`RETRY_AFTER_MAX_SECONDS` from now, whatever the header says (a
    value past ``datetime``'s range, or a wait of years, is the platform's mistake, not a reason to stop)."""
    latest = now + timedelta(seconds=RETRY_AFTER_MAX_SECONDS)
    reset = (response.headers.get("x-rate-limit-reset") or "").strip()
    if _SECONDS.fullmatch(reset):
        when = datetime.fromtimestamp(min(int(reset), latest.timestamp()), tz=timezone.utc)
        return min(max(now, when) + timedelta(seconds=1), latest)
    after = (response.headers.get("retry-after") or "").strip()
    if _SECONDS.fullmatch(after):
        return now + timedelta(seconds=min(int(after), RETRY_AFTER_MAX_SECONDS))
    if after:
        try:
            return min(max(now, parsedate_to_datetime(after).astimezone(timezone.utc)), latest)
        except (TypeError, ValueError, OverflowError):
            pass
    return now + timedelta(seconds=RETRY_UNKNOWN_LIMIT_SECONDS)


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 as the platforms write it (``Z``, ``+0000``, fractions) → aware UTC, or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():  # Graph's "+0000"
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


# -- credentials ----------------------------------------------------------------------------------------------
class Credentials:
    """Values by name: the environment wins, else SSM Parameter Store ``/<app>/<stage>/<NAME>`` (SecureString,
    decrypted, cached 5 minutes by Powertools), the rule ``adapters.secrets`` applies to the webhook secrets.
    ``put`` writes a rotated value back (X rotates its refresh token on every refresh)."""

    CACHE_SECONDS = 300

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self.rotated: dict[str, str] = {}  # values this process wrote: newer than the environment or the cache

    def get(self, name: str, fresh: bool = False) -> str | None:
        value = self.environ.get(name) if fresh or name not in self.rotated else self.rotated[name]
        if value:
            return value
        from aws_lambda_powertools.utilities import parameters

        try:
            return parameters.get_parameter(
                secret_parameter_name(name), decrypt=True, max_age=self.CACHE_SECONDS, force_fetch=fresh
            )
        except parameters.exceptions.GetParameterError:
            return None

    def require(self, name: str, fresh: bool = False) -> str:
        value = self.get(name, fresh)
        if not value:
            raise Stop(alert(Reason.NOT_CONFIGURED, f"{name} is set neither in the environment nor in SSM"))
        return value

    def put(self, name: str, value: str) -> None:
        self.rotated[name] = value
        if self.environ.get(name):
            return  # set by the environment (local runs): kept for this process only
        from aws_lambda_powertools.utilities import parameters

        from chalicelib.adapters.aws import client

        client("ssm").put_parameter(Name=secret_parameter_name(name), Value=value, Type="SecureString", Overwrite=True)
        parameters.clear_caches()


@dataclass
class Grant:
    access_token: str
    expires_at: datetime


class AccessToken:
    """An OAuth access token held per process and refreshed ``TOKEN_MARGIN_SECONDS`` before it expires, or when
    the platform answers 401 (once: a second 401 is an ALERT, never a refresh loop). ``fetch(now, fresh)`` asks the
    token endpoint; ``fresh`` re-reads stored credentials past the cache (another worker may have rotated them)."""

    def __init__(self, fetch: Callable[[datetime, bool], Grant]) -> None:
        self.fetch = fetch
        self.grant: Grant | None = None
        self.lock = threading.Lock()

    def get(self, now: datetime) -> str:
        with self.lock:
            if self.grant is None or self.grant.expires_at - timedelta(seconds=TOKEN_MARGIN_SECONDS) <= now:
                self.grant = self._refresh(now)
            return self.grant.access_token

    def renew(self, now: datetime) -> str:
        with self.lock:
            self.grant = self._refresh(now)
            return self.grant.access_token

    def _refresh(self, now: datetime, fresh: bool = False) -> Grant:
        try:
            return self.fetch(now, fresh)
        except Stop as stop:
            if stop.result.reason is not Reason.TOKEN_REVOKED or fresh:
                raise
        # The stored refresh token may have been rotated by another worker since we cached it: re-read it once.
        return self.fetch(now, True)


def token_endpoint_failure(response: Response, now: datetime, what: str) -> Stop:
    """An OAuth token endpoint's refusal: ``invalid_grant``/``invalid_client``/... (400/401) means the stored
    credentials no longer work (an ALERT, no retry storm); 429/5xx are passing."""
    if response.status == 429:
        return Stop(retry(Reason.RATE_LIMITED, retry_after(response, now), f"{what}: HTTP 429", status=429))
    if response.status >= 500:
        return Stop(
            retry(
                Reason.PLATFORM_UNAVAILABLE,
                now + timedelta(seconds=RETRY_5XX_SECONDS),
                f"{what}: HTTP {response.status}",
                status=response.status,
            )
        )
    body = response.json()
    code = body.get("error") if isinstance(body.get("error"), str) else ""
    described = body.get("error_description") or body.get("message") or ""
    return Stop(
        alert(
            Reason.TOKEN_REVOKED, f"{what}: HTTP {response.status} {code} {described}".strip(), status=response.status
        )
    )
