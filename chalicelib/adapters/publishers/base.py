"""The part of a platform publisher that is the same everywhere: the public methods turn :class:`Stop` into results,
check the channel and the length before anything is sent, and retry a 401 once with a renewed token."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.adapters.publishers.http import AccessToken, Credentials, Response, Stop, Transport
from chalicelib.domain.channel_length import reply_length
from chalicelib.domain.publishing import (
    PublishResult,
    Reason,
    ReplyTarget,
    alert,
    final,
)


class PlatformAdapter:
    """Subclasses set ``platform``, ``limits`` (channel → longest reply, ``None``: no stated limit) and implement
    ``_post``, ``_find_posted``, ``_failure`` and optionally ``_rules`` and ``_is_unauthorized``."""

    platform = ""
    limits: Mapping[str, int | None] = {}

    def __init__(
        self, base_url: str, transport: Transport | None = None, credentials: Credentials | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport or Transport()
        self.credentials = credentials or Credentials()
        self.token: AccessToken | None = None  # set by OAuth platforms

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.limits)

    def length_limit(self, channel: str) -> int | None:
        return self.limits.get(channel)

    def measure(self, text: str) -> int:
        """How the platform counts a reply's length: :func:`chalicelib.domain.channel_length.reply_length`, the
        same count the approval page refuses with (code points unless the platform counts otherwise, as X does)."""
        return reply_length(self.platform, text)

    # -- the port -----------------------------------------------------------------------------------------------
    def check(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult | None:
        if channel not in self.limits:
            return final(Reason.CHANNEL_UNSUPPORTED, f"{self.platform} offers no {channel.replace('_', ' ')}")
        if not text.strip():
            return final(Reason.REJECTED, "the reply is empty")
        limit = self.limits[channel]
        length = self.measure(text)
        if limit is not None and length > limit:
            return final(
                Reason.TOO_LONG,
                f"{length} characters; a {self.platform} {channel.replace('_', ' ')} takes at most {limit}",
            )
        try:
            return self._rules(target, channel, text, now)
        except Stop as stop:
            return stop.result

    def post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        try:
            return self._post(target, channel, text, now)
        except Stop as stop:
            return stop.result

    def find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        try:
            return self._find_posted(target, channel, text, since, now)
        except Stop as stop:
            return stop.result

    # -- for subclasses -----------------------------------------------------------------------------------------
    def _rules(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult | None:
        return None

    def _post(self, target: ReplyTarget, channel: str, text: str, now: datetime) -> PublishResult:
        raise NotImplementedError

    def _find_posted(
        self, target: ReplyTarget, channel: str, text: str, since: datetime, now: datetime
    ) -> PublishResult | None:
        return None

    def _failure(self, response: Response, now: datetime, what: str) -> PublishResult:
        raise NotImplementedError

    def _is_unauthorized(self, response: Response) -> bool:
        return response.status == 401

    def _auth_headers(self, now: datetime, renew: bool = False) -> dict[str, str]:
        if self.token is None:
            return {}
        value = self.token.renew(now) if renew else self.token.get(now)
        return {"Authorization": f"Bearer {value}"}

    def call(self, method: str, path: str, now: datetime, what: str, **kwargs: Any) -> Response:
        """An authorized request; a 401 renews the token and repeats once (a 401 means nothing was done, so the
        repeat cannot post twice). A second 401 is an ALERT. Any other failure raises ``Stop(self._failure)``."""
        url = self.base_url + path
        response = self.transport.request(method, url, now, headers=self._auth_headers(now), **kwargs)
        if self._is_unauthorized(response):
            response = self.transport.request(method, url, now, headers=self._auth_headers(now, renew=True), **kwargs)
            if self._is_unauthorized(response):
                raise Stop(
                    alert(
                        Reason.TOKEN_REVOKED,
                        f"{what}: the platform refused the renewed access token (HTTP {response.status})",
                        status=response.status,
                    )
                )
        if response.status >= 400:
            raise Stop(self._failure(response, now, what))
        return response
