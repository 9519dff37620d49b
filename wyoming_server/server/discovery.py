"""Zeroconf (mDNS/DNS-SD) announcement of the server as ``_wyoming._tcp.local.``.

Home Assistant's Wyoming integration listens for this service type
(https://github.com/home-assistant/core/blob/dev/homeassistant/components/wyoming/manifest.json)
and offers the server for setup. The announced address must be one clients can reach: a wildcard
bind (``0.0.0.0``) is replaced by the address of the interface that routes to the mDNS group.
The service is withdrawn (mDNS goodbye) when the server stops, so Home Assistant does not keep
a stale entry. Needs the ``zeroconf`` extra.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

_LOGGER = logging.getLogger(__name__)

SERVICE_TYPE = "_wyoming._tcp.local."
_MDNS_GROUP = "224.0.0.251"  # RFC 6762 §3
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a bind


class DiscoveryError(Exception):
    """The announcement cannot be made (no routable address, zeroconf not installed)."""


def announced_address(bind_host: str | None, override: str | None = None) -> str:
    """The IPv4 address to announce for a server bound to ``bind_host``.

    Args:
        bind_host: the host of the ``tcp://`` URI (``0.0.0.0`` for all interfaces).
        override: an address given explicitly (``--zeroconf-host``), used as is.

    Raises:
        DiscoveryError: no IPv4 address could be found (no route to the mDNS group), or the
            given address is not IPv4.
    """
    host = override or (None if (bind_host or "") in _WILDCARD_HOSTS else bind_host)
    if host is None:
        # The source address the kernel picks for the mDNS group (no packet is sent).
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((_MDNS_GROUP, 5353))
                host = str(probe.getsockname()[0])
        except OSError as err:
            raise DiscoveryError(
                f"cannot find an address to announce ({err}); pass --zeroconf-host IP"
            ) from err
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError as err:
        raise DiscoveryError(f"--zeroconf needs an IPv4 address to announce, got {host!r}") from err


class ZeroconfAnnouncement:
    """``async with ZeroconfAnnouncement(name, address, port):`` announces while inside."""

    def __init__(self, name: str, address: str, port: int) -> None:
        self.name = name
        self.address = address
        self.port = port
        self._zeroconf: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None

    async def __aenter__(self) -> ZeroconfAnnouncement:
        try:
            from zeroconf.asyncio import (  # noqa: PLC0415 - optional extra
                AsyncServiceInfo,
                AsyncZeroconf,
            )
        except ImportError as err:
            raise DiscoveryError(
                "--zeroconf needs the zeroconf package (pip install 'wyoming-workers-ai[zeroconf]')"
            ) from err
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.name}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(self.address)],
            port=self.port,
            server=f"{self.name}.local.",
        )
        self._zeroconf = AsyncZeroconf()
        try:
            # Registering returns once the name is probed; the announcements then go out in the
            # background (the returned awaitable), so start-up does not wait for them.
            await self._zeroconf.async_register_service(self._info)
        except BaseException:
            await self._zeroconf.async_close()
            raise
        _LOGGER.info(
            "Zeroconf: announcing %s.%s at %s:%d", self.name, SERVICE_TYPE, self.address, self.port
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._zeroconf is None:
            return
        try:
            if self._info is not None:
                # Wait until the goodbye packets are out: closing first would drop them.
                goodbyes = await self._zeroconf.async_unregister_service(self._info)
                await goodbyes
        finally:
            await self._zeroconf.async_close()
            self._zeroconf = None
