"""Kernel receive timestamps (SO_TIMESTAMPNS) on TCP sockets, for anything that times
network latency: the load tester's client and the scripted LLM server.

On a crowded machine a process may run milliseconds after its bytes arrived; a clock read
in user space then adds that wait to the figure. The kernel stamps each packet as it
arrives, so the stamp of what `recv` returned removes the reader's own scheduling delay.
Where the stamp is unavailable, callers fall back to their clock.
"""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_ANC = socket.CMSG_SPACE(16) if hasattr(socket, "CMSG_SPACE") else 64


class StampedSocket(socket.socket):
    """A socket whose `recv` remembers the kernel arrival time of the last bytes it read,
    converted to the time.perf_counter() clock, and whose `send` remembers when it handed its
    last bytes to the kernel (a clock read at the syscall, so waiting for the event loop to
    get round to writing does not count as network time)."""

    last_rx: float | None = None
    last_tx: float | None = None

    def send(self, data: Any, flags: int = 0) -> int:  # type: ignore[override]
        self.last_tx = time.perf_counter()
        return super().send(data, flags)

    def sendmsg(self, *args: Any) -> int:  # type: ignore[override]  # asyncio's writelines on 3.12+
        self.last_tx = time.perf_counter()
        return super().sendmsg(*args)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:  # type: ignore[override]
        data, ancdata, _, _ = self.recvmsg(bufsize, _ANC, flags)
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
                sec, nsec = struct.unpack("qq", payload[:16])
                self.last_rx = sec + nsec * 1e-9 - (time.time() - time.perf_counter())
        return data


def _stamping(sock: StampedSocket) -> StampedSocket:
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    return sock


def stamped_socket_factory(addr_info: Any) -> socket.socket:
    """For aiohttp's TCPConnector(socket_factory=...)."""
    return _stamping(StampedSocket(addr_info[0], addr_info[1], addr_info[2]))


class StampedListener(socket.socket):
    """A listening socket whose accepted connections are StampedSockets."""

    def accept(self) -> tuple[socket.socket, Any]:
        fd, addr = self._accept()  # type: ignore[attr-defined]
        conn = _stamping(StampedSocket(self.family, self.type, self.proto, fileno=fd))
        if socket.getdefaulttimeout() is None and self.gettimeout():
            conn.setblocking(True)
        return conn, addr


def stamped_socket_of(transport: Any) -> StampedSocket | None:
    """The StampedSocket under an asyncio transport (or an aiohttp response), if any."""
    conn = getattr(transport, "connection", None)
    if conn is not None:
        transport = getattr(conn, "transport", None)
    sock = getattr(transport, "_sock", None)
    return sock if isinstance(sock, StampedSocket) else None
