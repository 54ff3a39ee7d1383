"""uvicorn's HTTP/1.1 protocol with a deadline for the request head.

uvicorn cancels its keep-alive timer on any byte received, so a client that trickles header
bytes keeps a connection (and a slot of ``--limit-concurrency``) forever. This protocol gives
every request ``header_timeout`` seconds from the connection (or the previous response) to
the end of its headers, then closes the connection. Slow bodies are bounded in the app
(:func:`textinpaint.server.inputs.read_body`).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


def with_header_timeout(seconds: float) -> type[H11Protocol]:
    """An :class:`H11Protocol` subclass that closes connections whose headers are late."""

    class HeaderDeadlineProtocol(H11Protocol):
        header_timeout = seconds
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request's headers are complete
                self._disarm()

        def on_response_complete(self) -> None:
            self._arm()  # before the base class, which may start a pipelined request
            super().on_response_complete()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(self.header_timeout, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderDeadlineProtocol
