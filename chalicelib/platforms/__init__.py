"""Platform webhook modules, by the route name they serve (``/webhooks/<name>``).

Every module offers the same pure interface (:class:`~chalicelib.platforms.base.PlatformModule`):
``handshake`` (GET), ``verify`` and ``parse`` (POST) and ``sign`` (what the platform would send, for replays/tests).
"""

from __future__ import annotations

from chalicelib.platforms import generic, meta, trustpilot, x, youtube
from chalicelib.platforms.base import PlatformModule

PLATFORMS: dict[str, PlatformModule] = {module.NAME: module for module in (meta, x, youtube, trustpilot, generic)}
"""``"meta"``, ``"x"``, ``"youtube"``, ``"trustpilot"``, ``"generic"`` → module."""

__all__ = ["PLATFORMS"]
