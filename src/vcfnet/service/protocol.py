"""uvicorn's h11 protocol with a deadline for request headers.

uvicorn (0.55) has no header-read timeout: ``timeout_keep_alive`` only runs between a response and
the next request's first byte, so a client that sends a header line now and then ("slowloris") holds
its connection for ever. This protocol closes a connection whose request line and headers are not
complete within ``header_timeout_s`` of the connection opening or of the previous response. The
header size is bounded by h11 (``h11_max_incomplete_event_size``, set by ``vcfnet serve``).

    uvicorn.run(app, http="vcfnet.service.protocol:HeaderTimeoutProtocol")
"""
from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("vcfnet.service")


class HeaderTimeoutProtocol(H11Protocol):
    #: Set from the ``header_timeout_s`` setting in each worker process (``app_from_env``).
    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:       # a request's headers arrived whole: its body has other limits
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("closed a connection whose request headers took over %g s (setting header_timeout_s)",
                     self.header_timeout_s)
            self.transport.close()
