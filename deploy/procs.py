"""The processes of one run, seen through /proc: whether one still runs, waiting for one to end, and
the run token that marks everything pulumi starts (the language host, the program, plugins, the
dynamic providers' server), whatever process group it ends up in and whoever reaps it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from pathlib import Path

TOKEN_ENV = "OCM_HUB_RUN"  # in the environment of everything the run's pulumi starts
PROC = Path("/proc")


def alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie does not (nothing may reap the local clusters' components at once)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def wait_gone(pid: int, seconds: float) -> bool:
    """Whether `pid` has ended within `seconds` (its pidfd turns readable when it exits)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        deadline = time.monotonic() + seconds
        while alive(pid):  # a pidfd reports the exit; the loop covers a wake-up before it
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            select.select([pidfd], [], [], min(remaining, 0.5))
        return True
    finally:
        os.close(pidfd)


def carrying(token: str) -> list[int]:
    """The running processes whose environment holds this run's token."""
    entry = f"{TOKEN_ENV}={token}".encode()
    found = []
    for path in PROC.iterdir():
        if not path.name.isdigit():
            continue
        try:
            environ = (path / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if entry in environ.split(b"\0") and alive(int(path.name)):
            found.append(int(path.name))
    return sorted(found)


def parent(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[-1].split()[1])


def child_carrying(token: str) -> int | None:
    """This process's child that carries the token: the pulumi the Automation API runs now."""
    me = os.getpid()
    return next((pid for pid in carrying(token) if parent(pid) == me), None)


def sweep(token: str, spare: int | None = None) -> list[int]:
    """SIGKILL to every process carrying the token, but `spare`; returns those signalled."""
    killed = []
    for pid in carrying(token):
        if pid == spare:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed
