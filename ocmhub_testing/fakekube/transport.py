"""The HTTP side: a ThreadingHTTPServer on 127.0.0.1 whose handler wraps the Api in auth, faults and logging.

Every handler thread is registered, so stopping the server can close their sockets and join them.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api import Api, Query, Reply, WatchRequest, is_health, verb_of, watch_events
from .errors import ApiError, Json
from .faults import Fault, Faults
from .requestlog import RequestLog, RequestRecord

KEEP_ALIVE_SECONDS = 30.0


@dataclass
class ServerState:
    """What the handler threads share with the FakeKube that owns them."""

    api: Api
    faults: Faults
    log: RequestLog
    token: str | None
    stopping: threading.Event = field(default_factory=threading.Event)
    internal_errors: list[str] = field(default_factory=list)
    in_flight: int = 0
    last_activity: float = field(default_factory=time.monotonic)
    _activity: threading.Lock = field(default_factory=threading.Lock)

    def begin(self) -> None:
        with self._activity:
            self.in_flight += 1
            self.last_activity = time.monotonic()

    def end(self) -> None:
        with self._activity:
            self.in_flight -= 1
            self.last_activity = time.monotonic()

    def idle_for(self) -> float:
        with self._activity:
            return 0.0 if self.in_flight else time.monotonic() - self.last_activity

    def authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        presented = header.removeprefix("Bearer ").strip() if header and header.startswith("Bearer ") else ""
        return presented == self.token or (bool(presented) and self.api.store.token_owner(presented) is not None)


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._closing = False
        super().__init__(("127.0.0.1", 0), Handler)

    def register(self, connection: socket.socket) -> bool:
        """Track a connection's thread; False once closing, so a late connection is refused, not leaked."""
        with self._connections_lock:
            if not self._closing:
                self._connections[connection] = threading.current_thread()
            return not self._closing

    def forget(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.pop(connection, None)

    def close_connections(self, deadline: float) -> None:
        """Wake every handler (idle keep-alive reads included) and wait for it, until `deadline`."""
        with self._connections_lock:
            self._closing = True
            connections = list(self._connections.items())
        for connection, _ in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Broken connections are expected (dropped faults, clients that gave up); other errors are kept."""
        if not isinstance(sys.exc_info()[1], (OSError, ValueError)):
            self.state.internal_errors.append(traceback.format_exc())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = KEEP_ALIVE_SECONDS
    server: HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle plus delayed ACKs add ~40 ms to each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.server.register(self.connection):
            raise ConnectionAbortedError("the fake is stopping")

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.forget(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log keeps what tests need."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        method, path = self.command, url.path
        state.begin()
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fault = state.faults.take(method, path)
            verb, tag = verb_of(method, path, query), fault.describe() if fault else ""

            def log(status: int) -> None:
                state.log.add(RequestRecord(method, path, url.query, status, verb, tag))

            if fault is not None and fault.delay:
                state.stopping.wait(fault.delay)
            if state.stopping.is_set() or (fault is not None and fault.fails and not fault.after_write):
                self._fail(fault, log)
                return
            reply = self._answer(method, path, query, body)
            if fault is not None and fault.fails:
                self._fail(fault, log)
            elif reply.watch is not None:
                log(reply.status)
                self._stream(reply.watch)
            else:
                log(reply.status)
                self._send(reply.status, reply.body, reply.headers)
        finally:
            state.end()

    def _answer(self, method: str, path: str, query: Query, body: bytes) -> Reply:
        state = self.server.state
        header = self.headers.get("Authorization")
        anonymous_probe = is_health(path) and header is None
        if not anonymous_probe and not state.authorized(header):
            return Reply(401, ApiError(401, "Unauthorized").status())
        try:
            return state.api.handle(method, path, query, self.headers.get("Content-Type") or "", body)
        except Exception as err:
            state.internal_errors.append(traceback.format_exc())
            return Reply(500, ApiError(500, f"fakekube internal error: {err!r}").status())

    def _fail(self, fault: Fault | None, log: Callable[[int], None]) -> None:
        """Answer with the fault's error, or drop the connection (also how a stopping server ends requests)."""
        if fault is None or fault.drop:
            log(0)
            self._drop()
            return
        status, body, headers = fault.answer()
        log(status)
        self._send(status, body, headers)

    def _send(self, status: int, body: Json | str, headers: dict[str, str]) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        try:
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/json" if isinstance(body, dict) else "text/plain; charset=utf-8"
            )
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def _drop(self) -> None:
        """Close with a TCP reset and no answer, as a crashed server or a broken network would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for closable in (self.rfile, self.wfile, self.connection):
            with contextlib.suppress(OSError):
                closable.close()

    def _stream(self, request: WatchRequest) -> None:
        """A watch as chunked JSON lines, ended by its timeout, the server stopping or the client leaving."""
        self.close_connection = True
        state = self.server.state

        def stopped() -> bool:
            return state.stopping.is_set() or self._peer_gone()

        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in watch_events(state.api.store, request, stopped):
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    def _peer_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True
