"""The request log, so tests and benchmarks can count the API calls a piece of code makes."""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    """The HTTP status answered; 0 when the connection was dropped without an answer."""
    verb: str
    """Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection), or discovery/health."""
    fault: str = ""
    """The injected fault that shaped this answer, if any."""

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.query, keep_blank_values=True))


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[RequestRecord] = []

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def count(
        self, verb: str | None = None, *, method: str | None = None, path: str | None = None, status: int | None = None
    ) -> int:
        """Requests matching every given filter; `path` is a regular expression searched in the path."""
        return sum(
            1
            for record in self.records()
            if (verb is None or record.verb == verb)
            and (method is None or record.method == method.upper())
            and (path is None or re.search(path, record.path))
            and (status is None or record.status == status)
        )

    def by_verb(self) -> Counter[str]:
        return Counter(record.verb for record in self.records())
