"""Let the SDK's dynamic-provider server run as many calls at once as registrations may join.

pulumi 3.272's `python -m pulumi.dynamic` serves gRPC from `ThreadPoolExecutor(max_workers=4)`, and a join holds
its thread while it waits for the klusterlet: at most 4 registrations progressed, whatever the engine's
`--parallel`. The pool is a local of the server's `main()`, made before any provider is loaded; the provider runs
in that process, so it finds the pool on the main thread's stack and raises its bound (the executor starts
threads on demand, up to the bound).
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

SDK_SERVER = "pulumi.dynamic.__main__"

_lock = threading.Lock()
_found: list[ThreadPoolExecutor | None] = []  # the server's pool, once looked for


def widen(max_workers: int) -> int | None:
    """Raise the server's pool to `max_workers` threads (never lower it): its bound after, or None when this
    process is not the SDK's server or its pool cannot be found (then the SDK's 4 stay)."""
    with _lock:
        if not _found:
            _found.append(_server_pool())
            if _found[0] is None and _in_server():
                print(
                    "ocm-hub: the provider server's thread pool was not found; 4 registrations progress at once",
                    file=sys.stderr,
                    flush=True,
                )
        pool: Any = _found[0]
        if pool is None:
            return None
        if pool._max_workers < max_workers:
            with pool._shutdown_lock:
                pool._max_workers = max_workers
                # Calls queued while the pool was narrow get threads now, not at the next submit.
                for _ in range(pool._work_queue.qsize()):
                    pool._adjust_thread_count()
        return int(pool._max_workers)


def _in_server() -> bool:
    return getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None) == SDK_SERVER


def _server_pool() -> ThreadPoolExecutor | None:
    """The executor of the gRPC server that `pulumi.dynamic.__main__.main` started and waits on."""
    if not _in_server():
        return None
    main_globals = vars(sys.modules["__main__"])
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None and not (frame.f_code.co_name == "main" and frame.f_globals is main_globals):
        frame = frame.f_back
    server = frame.f_locals.get("server") if frame is not None else None
    pool = getattr(getattr(server, "_state", None), "thread_pool", None)
    return pool if isinstance(pool, ThreadPoolExecutor) and hasattr(pool, "_max_workers") else None
