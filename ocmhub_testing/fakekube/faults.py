"""Injected failures: what retry, timeout and idempotency tests arrange before they call the fake."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from .errors import ApiError, Json

DEFAULT_MESSAGES: dict[int, str] = {
    409: "the object has been modified; please apply your changes to the latest version and try again",
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected by fakekube",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
}


@dataclass
class Fault:
    """What the next `times` requests matching `method` and `path` get instead of (or after) their answer."""

    method: str
    path: re.Pattern[str]
    status: int | None = None
    times: int | None = 1
    """None: every matching request until the faults are cleared."""
    retry_after: int | None = None
    drop: bool = False
    delay: float = 0.0
    after_write: bool = False
    """Do the request first (the write happens), then fail the answer: the classic partial failure."""
    message: str | None = None
    hits: int = 0

    @property
    def spent(self) -> bool:
        return self.times is not None and self.hits >= self.times

    @property
    def fails(self) -> bool:
        """Replaces the answer (rather than only delaying it)."""
        return self.drop or self.status is not None

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and self.path.search(path) is not None

    def describe(self) -> str:
        parts = [f"delay {self.delay:g}s"] if self.delay else []
        if self.fails:
            parts.append("drop" if self.drop else str(self.status))
            parts += ["after write"] if self.after_write else []
        return " ".join(parts)

    def answer(self) -> tuple[int, Json, dict[str, str]]:
        """Status code, Status body and headers of the injected error."""
        assert self.status is not None
        retry_after = self.retry_after if self.retry_after is not None else (1 if self.status == 429 else None)
        extra = {"retryAfterSeconds": retry_after} if retry_after is not None else {}
        error = ApiError(
            self.status, self.message or DEFAULT_MESSAGES.get(self.status, f"injected {self.status}"), details=extra
        )
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return self.status, error.status(), headers


class Faults:
    """The armed faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if not (fault.fails or fault.delay > 0):
            raise ValueError("a fault needs a status, drop=True or a delay")
        if fault.after_write and not fault.fails:
            raise ValueError("after_write needs a status or drop=True to answer with")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.spent and fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
