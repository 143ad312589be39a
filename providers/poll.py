"""One bounded wait: look until done or a deadline, with backoff and progress lines.

Every wait of a join or an unjoin is this loop; what differs is what it looks at and what it says.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


def log_progress(message: str) -> None:
    """Progress on stderr: the engine shows provider output as debug messages (`pulumi up --debug`)."""
    print(f"ocm-hub: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Unmet:
    """Why a wait is not over: the condition named with its status and reason."""

    condition: str
    progress: str = ""  # the progress line (the wait adds its seconds so far); empty: none


@dataclass(frozen=True)
class Pacing:
    """How waits pace themselves; tests replace the clock and the sleep."""

    poll_seconds: float = 2.0  # the longest pause between two looks; the first ones are quicker
    progress_seconds: float = 15.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    log: Callable[[str], None] = log_progress

    def pauses(self) -> Iterator[float]:
        """0.1 s, growing by half each time, up to poll_seconds: quick answers are seen quickly."""
        pause = 0.1
        while True:
            yield min(pause, self.poll_seconds)
            pause *= 1.5

    def until(self, look: Callable[[], Unmet | None], timeout_seconds: float) -> Unmet | None:
        """Call `look` until it returns None (done: None) or `timeout_seconds` pass (the last Unmet)."""
        started = self.clock()
        deadline = started + timeout_seconds
        next_report = started + self.progress_seconds
        pauses = self.pauses()
        while True:
            unmet = look()
            if unmet is None:
                return None
            now = self.clock()
            if now >= deadline:
                return unmet
            if now >= next_report:
                if unmet.progress:
                    self.log(f"{unmet.progress} ({now - started:.0f}s of {timeout_seconds:g}s)")
                next_report = now + self.progress_seconds
            # Never past the deadline nor the next progress line: the bound holds, lines come every 15 s.
            self.sleep(min(next(pauses), deadline - now, next_report - now))
