"""A list-and-watch cache of one kind of object, as client-go's informers keep one.

The kubelet follows pods, Services, Secrets and ConfigMaps this way instead of polling each: one
list, then a watch stream from its resourceVersion, listed again when the stream is too old (410)
or breaks. `changed` is set on every change (an event several informers may share), for whoever waits to
act on one; `version` counts the changes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from providers.kube import Kube, KubeError

Json = dict[str, Any]
WATCH_SECONDS = 240  # the server ends each watch after this; the stream is then resumed
RETRY_SECONDS = 1.0
REPEAT_SECONDS = 30.0  # the same error is reported again only after this


class Informer:
    def __init__(
        self,
        client: Kube,
        path: str,
        query: Mapping[str, str] | None = None,
        on_error: Callable[[str], None] = lambda _message: None,
        changed: threading.Event | None = None,
    ) -> None:
        self.client, self.path, self.query = client, path, dict(query or {})
        self.on_error = on_error
        self.lock = threading.Lock()
        self.objects: dict[tuple[str, str], Json] = {}
        self.synced = threading.Event()
        self.version = 0
        self._last_error, self._reported = "", 0.0
        self.changed = changed if changed is not None else threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"watch {path}", daemon=True)

    def start(self) -> Informer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()

    def items(self) -> list[Json]:
        with self.lock:
            return list(self.objects.values())

    def get(self, namespace: str, name: str) -> Json | None:
        with self.lock:
            return self.objects.get((namespace, name))

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                version: str | None = self._list()
                while not self.stopping.is_set() and version is not None:
                    version = self._watch(version)
            except Exception as err:  # the cache stays as it was; the next list brings it up to date
                self._report(f"{self.path}: {err!r}")
                self.stopping.wait(RETRY_SECONDS)

    def _report(self, message: str) -> None:
        now = time.monotonic()
        if message != self._last_error or now - self._reported >= REPEAT_SECONDS:
            self._last_error, self._reported = message, now
            self.on_error(message)

    def _list(self) -> str:
        listing = self.client.request("GET", self.path, self.query)
        objects = {_key(obj): obj for obj in listing.get("items") or []}
        with self.lock:
            self.objects = objects
            self.version += 1
        self.synced.set()
        self.changed.set()
        return str(listing["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str | None:
        """Apply events until the stream ends: the version to resume from, or None to list again."""
        query = {**self.query, "watch": "1", "resourceVersion": version, "allowWatchBookmarks": "true"}
        query["timeoutSeconds"] = str(WATCH_SECONDS)
        for event in self._events(query):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    return None
                raise KubeError("WATCH", self.path, int(obj.get("code") or 0), str(obj.get("reason")), str(obj))
            version = str(obj["metadata"]["resourceVersion"])
            if kind == "BOOKMARK":
                continue
            with self.lock:
                if kind == "DELETED":
                    self.objects.pop(_key(obj), None)
                else:
                    self.objects[_key(obj)] = obj
                self.version += 1
            self.changed.set()
        return version

    def _events(self, query: Mapping[str, str]) -> Iterator[Json]:
        url = f"{self.client.server}{self.path}?{urlencode(dict(query))}"
        headers = {"Accept": "application/json"}
        self.client.api.update_params_for_auth(headers, [], ["BearerToken"], url, "GET", None)
        response = self.client.api.rest_client.request(
            "GET", url, headers=headers, _request_timeout=(10, WATCH_SECONDS + 30)
        ).response  # the urllib3 response, its body not read yet
        try:
            if response.status != 200:
                raise KubeError("WATCH", self.path, response.status, str(response.reason), "")
            buffered = b""
            for chunk in response.stream(amt=None, decode_content=False):
                buffered += chunk
                while b"\n" in buffered:
                    line, buffered = buffered.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
                if self.stopping.is_set():
                    return
        finally:
            response.release_conn()


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return str(meta.get("namespace") or ""), str(meta["name"])


def wait_synced(informers: list[Informer], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    return all(informer.synced.wait(max(0.0, deadline - time.monotonic())) for informer in informers)
