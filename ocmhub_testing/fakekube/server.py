"""FakeKube: the fake API server's lifecycle, client configuration, faults, request log and direct access."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import yaml

from .api import Api
from .errors import Json
from .faults import Fault, Faults
from .registry import Registry
from .requestlog import RequestLog, RequestRecord
from .store import DEFAULT_NAMESPACES, Store
from .transport import HttpServer, ServerState

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

WATCHDOG_TICK = 0.1
POLL_INTERVAL = 0.05


class FakeKube:
    """An in-process Kubernetes API server on 127.0.0.1, for fast and deterministic tests.

    Stops on `stop()` or leaving its `with` block, and on its own after `idle_timeout` seconds without a
    request or `max_lifetime` seconds in all, so a crashed test cannot leave it running.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        registry: Registry | None = None,
        namespaces: Iterable[str] = DEFAULT_NAMESPACES,
        idle_timeout: float = 60.0,
        max_lifetime: float = 600.0,
        watch_timeout: float = 60.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls`: (certificate, key) files to serve https, as a managed cluster's endpoint does."""
        self.token = token
        self.tls = tls
        self.store = Store(registry, namespaces)
        self.idle_timeout = idle_timeout
        self.max_lifetime = max_lifetime
        self._watch_timeout = watch_timeout
        self._faults = Faults()
        self._log = RequestLog()
        self._state: ServerState | None = None
        self._server: HttpServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop_lock = threading.Lock()
        self._stopped = threading.Event()

    # Lifecycle

    def start(self) -> FakeKube:
        if self._server is not None:
            raise RuntimeError("this FakeKube was already started")
        state = ServerState(Api(self.store, "", self._watch_timeout), self._faults, self._log, self.token)
        server = HttpServer(state)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        state.api.address = f"127.0.0.1:{server.server_port}"
        self._state, self._server = state, server
        self._threads = [
            threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL,), name="fakekube-serve", daemon=True),
            threading.Thread(target=self._watchdog, name="fakekube-watchdog", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, end open connections and join every thread, all within `timeout` seconds."""
        state, server = self._state, self._server
        if state is None or server is None:
            return
        with self._stop_lock:
            stopping_already = state.stopping.is_set()
            state.stopping.set()
        if stopping_already:
            self._stopped.wait(timeout)
            return
        deadline = time.monotonic() + timeout
        self.store.close_watches()
        server.shutdown()
        server.close_connections(deadline)
        server.server_close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._stopped.set()

    @property
    def running(self) -> bool:
        return self._state is not None and not self._state.stopping.is_set()

    def __enter__(self) -> FakeKube:
        return self.start() if self._server is None else self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def _watchdog(self) -> None:
        state = self._state
        assert state is not None
        started = time.monotonic()
        while not state.stopping.wait(WATCHDOG_TICK):
            if state.idle_for() > self.idle_timeout or time.monotonic() - started > self.max_lifetime:
                self.stop()

    # Client configuration

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("start the FakeKube first")
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_port}"

    def kubeconfig(self, token: str | None = None, namespace: str = "default") -> Json:
        """A kubeconfig for this server with a bearer token (the server's own unless given)."""
        user = {"token": token or self.token or "fakekube"}
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fakekube", "cluster": {"server": self.url}}],
            "users": [{"name": "fakekube", "user": user}],
            "contexts": [
                {"name": "fakekube", "context": {"cluster": "fakekube", "user": "fakekube", "namespace": namespace}}
            ],
            "current-context": "fakekube",
        }

    def write_kubeconfig(self, path: str | Path, token: str | None = None) -> Path:
        target = Path(path)
        target.write_text(yaml.safe_dump(self.kubeconfig(token), sort_keys=False), encoding="utf-8")
        return target

    def api_client(self, token: str | None = None) -> ApiClient:
        """A `kubernetes.client.ApiClient` made by the official kubeconfig loader, as production code makes it."""
        from kubernetes import config

        loader: Callable[..., ApiClient] = config.new_client_from_config_dict
        return loader(self.kubeconfig(token))

    # Fault injection

    def inject(
        self,
        method: str,
        path: str,
        status: int | None = None,
        *,
        times: int | None = 1,
        retry_after: int | None = None,
        drop: bool = False,
        delay: float = 0.0,
        after_write: bool = False,
        message: str | None = None,
    ) -> Fault:
        """Fail the next `times` requests (None: all, until `clear_faults`) whose method and path match.

        `method` is an HTTP method or "*"; `path` a regular expression searched in the URL path. The answer is
        an error Status (`status`), a dropped connection (`drop`, a TCP reset), or only late (`delay` seconds,
        then the normal answer). With `after_write` the request is served first, then failed.
        A 429 carries `Retry-After` (1 s unless `retry_after` says otherwise); urllib3 itself retries idempotent
        requests answered with one, as it retries them after a drop, so fast tests pass `retry_after=0`.
        """
        fault = Fault(method.upper(), re.compile(path), status, times, retry_after, drop, delay, after_write, message)
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    # Request log

    @property
    def requests(self) -> list[RequestRecord]:
        return self._log.records()

    def clear_requests(self) -> None:
        self._log.clear()

    def count(
        self, verb: str | None = None, *, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> int:
        """Logged requests matching every given filter (`path`: a regular expression searched in the path)."""
        return self._log.count(verb, method=method, path=path, status=status)

    def verb_counts(self) -> Counter[str]:
        """Logged requests by Kubernetes verb (get, list, create, patch, ...; discovery and health apart)."""
        return self._log.by_verb()

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of bugs in the fake itself (answered as 500); a test can assert there are none."""
        return list(self._state.internal_errors) if self._state else []

    # Direct access, without HTTP

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Json | None:
        return self.store.find(self.store.resource_type(api_version, kind), namespace, name)

    def list_objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[Json]:
        items: list[Json] = self.store.listing(self.store.resource_type(api_version, kind), namespace)["items"]
        return items

    def put_object(self, obj: Json) -> Json:
        """Create or overwrite, status included, as a controller or agent would; returns the stored object."""
        return self.store.put(obj)

    def delete_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Remove at once, ignoring finalizers (a garbage collector's view); False if it was not there."""
        return self.store.remove(self.store.resource_type(api_version, kind), namespace, name)

    def token_owner(self, token: str) -> tuple[str, str] | None:
        """(namespace, service account) a TokenRequest token was issued for, while that account exists."""
        return self.store.token_owner(token)
