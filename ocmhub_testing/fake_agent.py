"""Plays what the provider waits for, on the fake API servers: the klusterlet agents (bootstrap with the
secret's token, ask for a certificate, join once approved, bootstrap again when the bootstrap secret names
another hub) and the operators' finalizer cleanup.

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
    _endpoints: dict[tuple[int, str, str, str], tuple[str, bytes] | None] = field(default_factory=dict)
    _attempts: dict[tuple[int, str], list[tuple[str, bytes]]] = field(default_factory=dict)

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
        """As OCM v1.2.1's registration agent: with a hub kubeconfig (`hub-kubeconfig-secret`) for the hub
        its bootstrap kubeconfig names, it reports the cluster's conditions; without one, or with one for
        another server or CA (the bootstrap secret changed: the real agent restarts, compares them and
        bootstraps again), it asks for a certificate with the bootstrap token and, once approved and the
        cluster accepted, writes `hub-kubeconfig-secret` naming the bootstrap kubeconfig's hub."""
        cluster = klusterlet["spec"]["clusterName"]
        namespace = kl.agent_namespace(cluster, klusterlet["spec"]["deployOption"]["mode"])
        secret = target.get_object("v1", "Secret", kl.BOOTSTRAP_SECRET, namespace)
        if secret is None:
            return
        # The agents take `join_seconds` from their bootstrap secret to their certificate request.
        bootstrapped = self._bootstrapped.setdefault((id(target), cluster), time.monotonic())
        if time.monotonic() - bootstrapped < self.join_seconds:
            return
        live = hub.clusters.get(cluster)
        endpoint = self._endpoint(target, secret)
        if endpoint is None:  # a bootstrap kubeconfig the agent cannot read: it never gets further
            return
        if self._endpoint(target, target.get_object("v1", "Secret", kl.HUB_KUBECONFIG_SECRET, namespace)) == endpoint:
            self._report(cluster, live)
            return
        kubeconfig = yaml.load(secret_value(secret, "kubeconfig"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        owner = self.hub.token_owner(kubeconfig["users"][0]["user"]["token"])
        username = f"system:serviceaccount:{owner[0]}:{owner[1]}" if owner else "system:anonymous"
        name = self._csr_name(target, cluster, endpoint)
        csr = next((c for c in hub.csrs if c["metadata"]["name"] == name), None)
        if csr is None:
            self.hub.put_object(
                {
                    "apiVersion": CSR[0],
                    "kind": CSR[1],
                    "metadata": {"name": name, "labels": {kl.CLUSTER_NAME_LABEL: cluster}},
                    "spec": {"username": username, "signerName": "kubernetes.io/kube-apiserver-client", "request": ""},
                }
            )
            return
        approved = any(c.get("type") == "Approved" for c in (csr.get("status") or {}).get("conditions") or [])
        if not approved or live is None or not live["spec"].get("hubAcceptsClient"):
            return
        # As upstream's BaseKubeConfigFromBootStrap: the bootstrap kubeconfig's current cluster, same name,
        # server and CA (what the agent compares at its next start), with the agent's own certificate.
        contexts = {c["name"]: c["context"] for c in kubeconfig["contexts"]}
        hub_cluster = contexts[kubeconfig["current-context"]]["cluster"]
        hub_kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [c for c in kubeconfig["clusters"] if c["name"] == hub_cluster],
            "users": [{"name": "default-auth", "user": {"client-certificate": "tls.crt", "client-key": "tls.key"}}],
            "contexts": [
                {
                    "name": "default-context",
                    "context": {"cluster": hub_cluster, "user": "default-auth", "namespace": "configuration"},
                }
            ],
            "current-context": "default-context",
        }
        target.put_object(kl.kubeconfig_secret(kl.HUB_KUBECONFIG_SECRET, namespace, hub_kubeconfig))
        self._report(cluster, live)

    def _endpoint(self, target: FakeKube, secret: dict[str, Any] | None) -> tuple[str, bytes] | None:
        """A kubeconfig Secret's hub, parsed once per version of the Secret (a pass reads every cluster's)."""
        if secret is None:
            return None
        metadata = secret["metadata"]
        key = (id(target), metadata.get("namespace", ""), metadata["name"], metadata.get("resourceVersion", ""))
        if key not in self._endpoints:
            self._endpoints[key] = kl.hub_endpoint(secret)
        return self._endpoints[key]

    def _csr_name(self, target: FakeKube, cluster: str, endpoint: tuple[str, bytes]) -> str:
        """One certificate request per bootstrap: `<cluster>-csr`, then `<cluster>-csr-2`… at each new hub."""
        attempts = self._attempts.setdefault((id(target), cluster), [])
        if endpoint not in attempts:
            attempts.append(endpoint)
        index = attempts.index(endpoint)
        return f"{cluster}-csr" if index == 0 else f"{cluster}-csr-{index + 1}"

    def _report(self, cluster: str, live: dict[str, Any] | None) -> None:
        """The cluster's conditions, once it is accepted; nothing written when they are already so."""
        if live is None or not live["spec"].get("hubAcceptsClient"):
            return
        wanted = {
            "HubAcceptedManagedCluster": "True",
            "ManagedClusterJoined": "True",
            "ManagedClusterConditionAvailable": self.available,
        }
        conditions = {c["type"]: c for c in (live.get("status") or {}).get("conditions") or []}
        if all(conditions.get(k, {}).get("status") == v for k, v in wanted.items()):
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
