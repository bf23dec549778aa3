"""The HTTP server of `tracker serve`: uvicorn, with the limits it lacks against slow clients.

uvicorn closes a connection that idles *after* a response (`timeout_keep_alive`), but has no
deadline for reading a request: a socket that connects and sends nothing, or half a header,
or a body one byte at a time, is held forever — hundreds of them (slowloris) exhaust the
file descriptors and every real client fails. This module builds the server with:

- a **request-read deadline** (`request_read_timeout`): from the connection's first moment,
  or from the first byte of each later request, to the end of its body; past it the
  connection is closed (the app, if it was reading the body, sees a client disconnect);
- a **connection cap** (`max_connections`): when a new connection would pass it, the oldest
  connection still waiting for its request is closed to make room, so idle sockets cannot
  crowd out clients that talk; `limit_concurrency` just above the cap answers a clean 503 when
  every connection is busy with a request;
- the **file-descriptor limit** raised to the hard limit at start (`raise_nofile_limit`), and
  the cap kept below it, so accept() does not fail for want of descriptors.

The guard is a subclass of uvicorn's httptools protocol (the one uvicorn picks when httptools
is installed, as it is here): it only adds a timer and a registry of waiting connections
around the parser's callbacks, so request handling is uvicorn's own.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("tracker.server")

FD_RESERVE = 128  # descriptors kept for the spool, storage, logs and the process itself


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit where allowed; the soft limit after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a request-read deadline and the connection cap."""

    read_timeout = 10.0
    max_connections = 1024
    waiting: OrderedDict  # connections waiting for (the rest of) a request, oldest first
    stats: dict[str, int]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading = False
        self._arm()
        if len(self.connections) > self.max_connections:
            self._evict_oldest_waiting()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            self._reading = True
            self._arm()
        super().data_received(data)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = False  # the request is read; what follows is the app's time
        self._disarm()

    # --- the deadline ------------------------------------------------------------------------
    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.read_timeout, self._expired)
            self.waiting[self] = time.monotonic()

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self.waiting.pop(self, None)

    def _expired(self) -> None:
        self._deadline = None
        self.waiting.pop(self, None)
        if not self.transport.is_closing():
            self.stats["read_timeouts"] += 1
            self.transport.close()

    def _evict_oldest_waiting(self) -> None:
        for other in self.waiting:
            if other is not self:
                break
        else:
            return
        other._disarm()
        self.stats["evicted"] += 1
        # Out of the count now: the transport calls connection_lost only on a later turn of
        # the loop, and a request parsed before that would see the cap still full (a 503).
        self.connections.discard(other)
        if not other.transport.is_closing():
            other.transport.close()


def protocol_class(read_timeout: float, max_connections: int) -> type[GuardedHttpTools]:
    """A protocol class of its own per server (the registry and counters are per server)."""
    return type("TrackerHttp", (GuardedHttpTools,), {"read_timeout": read_timeout, "max_connections": max_connections,
                                                     "waiting": OrderedDict(), "stats": {"read_timeouts": 0, "evicted": 0}})


def build_server(app: Any, settings: Any, **config: Any) -> uvicorn.Server:
    """The uvicorn server for `app` with the limits above; `config` adds uvicorn options
    (host/port, or nothing when the caller passes sockets to `run`)."""
    nofile = raise_nofile_limit()
    cap = max(16, min(settings.max_connections, nofile - FD_RESERVE))
    if cap < settings.max_connections:
        log.warning("max_connections lowered to %d: the open-file limit is %d", cap, nofile)
    options: dict[str, Any] = {
        "proxy_headers": False,  # the client IP comes from tracker's own trusted-proxy rule
        "access_log": False,
        "log_level": settings.log_level,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
        "timeout_keep_alive": 5,
        "http": protocol_class(settings.request_read_timeout, cap),
        "limit_concurrency": cap + 1,  # every connection busy with a request: 503, not a queue
        "backlog": 2048,
        **config,
    }
    return uvicorn.Server(uvicorn.Config(app, **options))
