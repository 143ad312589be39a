"""Stopping pulumi when the local clusters it works on die.

pulumi would retry against dead API servers for minutes (pulumi-kubernetes' awaits, the hub's
readiness wait until readinessTimeout). So while it runs on the local clusters, a guard thread looks
at their processes each second; when one has ended and the clusters are confirmed unhealthy, it stops
pulumi as gently as pulumi still listens.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from deploy import procs

POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Ladder:
    """How long each step waits for pulumi to end before the next, harder one."""

    cancel: float = 5.0  # after the first SIGINT pulumi cancels: the operations in flight may finish
    terminate: float = 10.0  # after the second it terminates: records what it has, closes its plugins
    plugins: float = 5.0  # with a plugin it waits for killed, it ends by itself


def stop_gently(pid: int, sweep_plugins: Callable[[int], object], ladder: Ladder = Ladder()) -> str:
    """DeployError pulumi at `pid`; returns the step that ended it. SIGKILL comes last: killed while it
    writes the state, pulumi can leave it unreadable."""
    steps: list[tuple[str, Callable[[], object], float]] = [
        ("cancel", lambda: os.kill(pid, signal.SIGINT), ladder.cancel),
        ("terminate", lambda: os.kill(pid, signal.SIGINT), ladder.terminate),
        ("plugins", lambda: sweep_plugins(pid), ladder.plugins),
    ]
    for name, act, wait in steps:
        try:
            act()
        except ProcessLookupError:
            return "gone"
        if procs.wait_gone(pid, wait):
            return name
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return "kill"


@dataclass
class Watch:
    """What the guard looks at: the clusters' processes, whether the clusters are healthy, the
    pulumi to stop, and how (each a function, so tests give fakes)."""

    pids: Callable[[], list[int]]
    healthy: Callable[[], bool]
    pulumi: Callable[[], int | None]
    stop: Callable[[int], object]
    said: Callable[[str], object]


class Guard:
    """A thread watching the local clusters while pulumi runs; `tripped` once it found them dead."""

    def __init__(self, watch: Watch, poll: float = POLL_SECONDS) -> None:
        self._watch = watch
        self._poll = poll
        self._closed = threading.Event()
        self.tripped = False
        self._thread = threading.Thread(target=self._run, name="cluster-guard", daemon=True)

    def _run(self) -> None:
        try:
            self._look()
        except Exception as err:  # a thread's error would print a traceback: say it once instead
            self._watch.said(f"cannot watch the local clusters ({err}): pulumi runs unwatched")

    def _look(self) -> None:
        watched = self._watch.pids()
        while not self._closed.wait(self._poll):
            if all(procs.alive(pid) for pid in watched):
                continue
            if self._watch.healthy():  # restarted meanwhile: watch the new ones
                watched = self._watch.pids()
                continue
            self.tripped = True
            self._watch.said("the local clusters stopped during the run: stopping pulumi")
            self._stop_pulumi()
            return

    def _stop_pulumi(self) -> None:
        """pulumi may be between two steps of the SDK: the next one that starts is stopped too."""
        while True:
            pid = self._watch.pulumi()
            if pid is not None:
                self._watch.stop(pid)
                return
            if self._closed.wait(self._poll / 5):
                return

    @contextlib.contextmanager
    def watching(self) -> Iterator[Guard]:
        self._thread.start()
        try:
            yield self
        finally:
            self._closed.set()
            self._thread.join()
