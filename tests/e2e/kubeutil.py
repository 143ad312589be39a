"""Polling helpers over the project's Kubernetes API layer (providers.kube), for the e2e tests.

`Kube.get` only knows the kinds the provider uses; tests also read Pods, Nodes and arbitrary paths,
so these take a plain API path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from providers.kube import Kube, KubeError

Json = dict[str, Any]


def get(client: Kube, path: str) -> Json | None:
    """The object at path, or None when it does not exist."""
    try:
        return client.request("GET", path)
    except KubeError as err:
        if err.status == 404:
            return None
        raise


def condition(obj: Json | None, kind: str) -> str | None:
    """The status of condition `kind` ("True"/"False"/"Unknown"), or None when absent."""
    for cond in (obj or {}).get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


def wait_for(
    client: Kube, path: str, predicate: Callable[[Json], bool], *, timeout: float, what: str, interval: float = 0.5
) -> Json:
    """Poll an object until predicate holds; the TimeoutError names what and the last state seen."""
    deadline = time.monotonic() + timeout
    last: object = "not found"
    while True:
        obj = get(client, path)
        if obj is not None:
            if predicate(obj):
                return obj
            last = obj.get("status", obj)
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s; last state: {last}")
        time.sleep(interval)


def wait_gone(client: Kube, path: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while get(client, path) is not None:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{path} still present after {timeout:.0f}s")
        time.sleep(0.5)
