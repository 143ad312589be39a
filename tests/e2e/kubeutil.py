"""Polling helpers over the project's Kubernetes API layer (providers.kube), for the e2e tests, and
the vela cluster Secret of a live cluster.

`Kube.get` only knows the kinds the provider uses; tests also read Pods, Nodes and arbitrary paths,
so these take a plain API path.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from providers.kube import Kube, KubeError
from tests.pki import cluster_secret

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


def vela_secret(name: str, kubeconfig: Path) -> Json:
    """The cluster of `kubeconfig` as `vela cluster join` records it: endpoint, CA and client certificate."""
    config = yaml.safe_load(kubeconfig.read_text(encoding="utf-8"))
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    data = {
        "endpoint": base64.b64encode(cluster["server"].encode() + b"\n").decode(),
        "ca.crt": cluster["certificate-authority-data"],
        "tls.crt": user["client-certificate-data"],
        "tls.key": user["client-key-data"],
    }
    return cluster_secret(name, "X509Certificate", data)
