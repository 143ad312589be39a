"""Plays what the provider waits for, on the fake API servers: the klusterlet agents (bootstrap with the
secret's token, ask for a certificate, join once approved) and the operators' finalizer cleanup.

The CSR carries the username the token really belongs to (FakeKube.token_owner), the way an API
server fills `spec.username`, so a token for the wrong account is never approved.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml

from ocmhub_testing.fakekube import FakeKube
from providers import klusterlet as kl

CSR = ("certificates.k8s.io/v1", "CertificateSigningRequest")
MANAGED_CLUSTER = ("cluster.open-cluster-management.io/v1", "ManagedCluster")
KLUSTERLET = ("operator.open-cluster-management.io/v1", "Klusterlet")
ADDON = ("addon.open-cluster-management.io/v1alpha1", "ManagedClusterAddOn")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeAgent:
    """Watches `targets` (where klusterlets run) and `hub`; `available` is what the agent reports."""

    hub: FakeKube
    targets: list[FakeKube]
    available: str = "True"
    join: bool = True
    addon_available: str = "True"  # what the addon agents report on every ManagedClusterAddOn
    interval: float = 0.02
    join_seconds: float = 0.0  # how long the agents take from their bootstrap secret to a certificate request
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    errors: list[str] = field(default_factory=list)
    joined_at: dict[str, float] = field(default_factory=dict)  # cluster -> when it first reported Joined
    _bootstrapped: dict[tuple[int, str], float] = field(default_factory=dict)

    def __enter__(self) -> FakeAgent:
        self._thread = threading.Thread(target=self._run, name="fake-agent", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._pass()
            except Exception as err:
                self.errors.append(repr(err))

    def _pass(self) -> None:
        """One look at every target and the hub; each hub kind is listed once per pass, so a pass costs
        O(clusters), not O(clusters²) (a 100-cluster benchmark once spent its time here)."""
        hub = _Hub(
            clusters={c["metadata"]["name"]: c for c in self.hub.list_objects(*MANAGED_CLUSTER)},
            csrs=self.hub.list_objects(*CSR),
        )
        for target in self.targets:
            self._step(target, hub)
        for cluster in hub.clusters.values():
            if cluster["metadata"].get("deletionTimestamp"):
                self.hub.delete_object(*MANAGED_CLUSTER, cluster["metadata"]["name"])
        for addon in self.hub.list_objects(*ADDON):
            conditions = (addon.get("status") or {}).get("conditions") or []
            if not any(c["type"] == "Available" and c["status"] == self.addon_available for c in conditions):
                addon["status"] = {
                    "conditions": [
                        {
                            "type": "Available",
                            "status": self.addon_available,
                            "reason": "FakeAddonAvailable",
                            "message": "lease",
                            "lastTransitionTime": _now(),
                        },
                        {
                            "type": "Degraded",
                            "status": "False",
                            "reason": "FakeAddonHealthy",
                            "message": "",
                            "lastTransitionTime": _now(),
                        },
                    ]
                }
                self.hub.put_object(addon)

    def _step(self, target: FakeKube, hub: _Hub) -> None:
        for klusterlet in target.list_objects(*KLUSTERLET):
            metadata = klusterlet["metadata"]
            if metadata.get("deletionTimestamp"):
                # the klusterlet operator removes its agents, then its finalizer
                metadata["finalizers"] = []
                target.put_object(klusterlet)
                target.delete_object(*KLUSTERLET, metadata["name"])
                continue
            if self.join:
                self._join(target, klusterlet, hub)

    def _join(self, target: FakeKube, klusterlet: dict[str, Any], hub: _Hub) -> None:
        cluster = klusterlet["spec"]["clusterName"]
        mode = klusterlet["spec"]["deployOption"]["mode"]
        secret = target.get_object("v1", "Secret", kl.BOOTSTRAP_SECRET, kl.agent_namespace(cluster, mode))
        if secret is None:
            return
        # The agents take `join_seconds` from their bootstrap secret to their certificate request.
        bootstrapped = self._bootstrapped.setdefault((id(target), cluster), time.monotonic())
        if time.monotonic() - bootstrapped < self.join_seconds:
            return
        live = hub.clusters.get(cluster)
        wanted = {
            "HubAcceptedManagedCluster": "True",
            "ManagedClusterJoined": "True",
            "ManagedClusterConditionAvailable": self.available,
        }
        conditions = {c["type"]: c for c in ((live or {}).get("status") or {}).get("conditions") or []}
        if all(conditions.get(k, {}).get("status") == v for k, v in wanted.items()):
            return  # joined already: nothing to parse or write
        kubeconfig = yaml.load(secret_value(secret, "kubeconfig"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        owner = self.hub.token_owner(kubeconfig["users"][0]["user"]["token"])
        username = f"system:serviceaccount:{owner[0]}:{owner[1]}" if owner else "system:anonymous"
        csrs = [
            c
            for c in hub.csrs
            if c["metadata"].get("labels", {}).get(kl.CLUSTER_NAME_LABEL) == cluster
            and c["spec"]["username"] == username
        ]
        if not csrs:
            self.hub.put_object(
                {
                    "apiVersion": CSR[0],
                    "kind": CSR[1],
                    "metadata": {"name": f"{cluster}-csr", "labels": {kl.CLUSTER_NAME_LABEL: cluster}},
                    "spec": {"username": username, "signerName": "kubernetes.io/kube-apiserver-client", "request": ""},
                }
            )
            return
        approved = any(
            c.get("type") == "Approved" for csr in csrs for c in (csr.get("status") or {}).get("conditions") or []
        )
        if not approved or live is None or not live["spec"].get("hubAcceptsClient"):
            return
        if self.hub.get_object("v1", "Namespace", cluster) is None:  # the hub's controller makes it on acceptance
            self.hub.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": cluster}})
        live["status"] = {
            "conditions": [
                {
                    "type": kind,
                    "status": status,
                    "reason": f"Fake{kind}",
                    "message": "set by the fake agent",
                    "lastTransitionTime": _now(),
                }
                for kind, status in wanted.items()
            ]
        }
        self.hub.put_object(live)
        self.joined_at.setdefault(cluster, time.monotonic())

    def peak_joining(self) -> int:
        """Most clusters between bootstrap secret and Joined at one moment: how many joins progressed at once."""
        spans = [
            (start, self.joined_at.get(cluster, float("inf"))) for (_, cluster), start in self._bootstrapped.items()
        ]
        edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
        peak = current = 0
        for _, step in edges:
            current += step
            peak = max(peak, current)
        return peak


@dataclass(frozen=True)
class _Hub:
    """What one pass read from the hub."""

    clusters: dict[str, dict[str, Any]]
    csrs: list[dict[str, Any]]


def secret_value(secret: dict[str, Any], key: str) -> str:
    if key in (secret.get("stringData") or {}):
        return str(secret["stringData"][key])
    return base64.b64decode(secret["data"][key]).decode()
