"""Polling helpers over the project's Kubernetes API layer (providers.kube), for the e2e tests, and
what the local clusters' kubelet (sandbox/kubelet.py) did.

`Kube.get` only knows the kinds the provider uses; tests also read Pods, Nodes and arbitrary paths,
so these take a plain API path.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sandbox.clusters
from providers.kube import Kube
from sandbox import kubelet, tools
from sandbox.kubelet import get as get  # the e2e tests read any API path the same way

Json = dict[str, Any]


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


def kubelet_running(client: Kube, namespace: str, deployment: str, *, timeout: float) -> None:
    """Until the local clusters' kubelet runs the Deployment's processes (at once when timeout is 0)."""
    deadline = time.monotonic() + timeout
    while not kubelet.running(client, namespace, deployment):
        if time.monotonic() >= deadline:
            raise TimeoutError(f"the kubelet does not run {namespace}/{deployment} after {timeout:.0f}s")
        time.sleep(0.5)


@dataclass
class KubeletLog:
    """What the kubelet logged since this object was made: egress routes and sync errors."""

    egress_from: int = field(default_factory=lambda: _size("egress.log"))
    errors_from: int = field(default_factory=lambda: _size("errors.log"))

    def new_egress(self) -> list[str]:
        return _lines("egress.log", self.egress_from)

    def new_errors(self) -> list[str]:
        return _lines("errors.log", self.errors_from)

    @contextlib.contextmanager
    def reporting(self) -> Iterator[None]:
        """Print the tail of every OCM process's log when the body fails: the test's own evidence."""
        try:
            yield
        except BaseException:
            print(kubelet.report(sandbox.clusters.KUBELET_DIR), file=sys.stderr, flush=True)
            raise


def _size(name: str) -> int:
    path = sandbox.clusters.KUBELET_DIR / name
    return path.stat().st_size if path.is_file() else 0


def _lines(name: str, offset: int) -> list[str]:
    path = sandbox.clusters.KUBELET_DIR / name
    if not path.is_file():
        return []
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read().decode("utf-8", errors="replace").splitlines()


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> str:
    """kubectl, built from its pinned module: a client no one here wrote."""
    done = subprocess.run(
        [str(tools.paths(["kubectl"])["kubectl"]), "--kubeconfig", str(kubeconfig), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout
