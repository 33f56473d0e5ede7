"""uvicorn's httptools protocol with a response's writes sent together.

uvicorn writes a response's status line and headers to the socket when the app sends
`http.response.start`, and its body on `http.response.body`: two send calls for every response,
and on a keep-alive connection the client wakes for the headers and again for the body. A JSON
answer of the service is one start and one body message sent in the same turn of the event loop, so
`Coalesced` holds what is written during one turn and hands it to the socket in one call at the end
of that turn (or before the transport closes). A response streamed over several turns still goes
out as it is sent, turn by turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["Coalesced", "Protocol"]


class Coalesced:
    """A transport whose writes of one event-loop turn reach the socket in one call."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(p) for p in self._pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the socket transport's
        return getattr(self._transport, name)


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a `Coalesced` transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Coalesced(transport, self.loop))  # type: ignore[arg-type]
