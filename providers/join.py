"""Join and unjoin one vela cluster, as `clusteradm join` + `clusteradm accept` and `unjoin` do.

Every step is idempotent (server-side apply, delete treating 404 as done), so a create that failed
half-way converges on the next `pulumi up`. Every wait is bounded and says what it waited for.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.names import CLUSTERSET_LABEL, MAX_CONCURRENT_JOINS
from providers import klusterlet as kl
from providers.kube import Kube, KubeError
from providers.poll import Pacing, Unmet
from providers.vela import VelaCluster, parse_secret

MANAGED_CLUSTER = ("cluster.open-cluster-management.io/v1", "ManagedCluster")
MANAGED_CLUSTER_SET = ("cluster.open-cluster-management.io/v1beta2", "ManagedClusterSet")
KLUSTERLET = ("operator.open-cluster-management.io/v1", "Klusterlet")
CSR = ("certificates.k8s.io/v1", "CertificateSigningRequest")
LEASE = ("coordination.k8s.io/v1", "Lease")
ADDON = ("addon.open-cluster-management.io/v1alpha1", "ManagedClusterAddOn")
ADDON_CONDITIONS = {"available": "Available", "degraded": "Degraded", "progressing": "Progressing"}
SECRET_ANNOTATION = "ocm-hub.io/vela-secret"
MODE_ANNOTATION = "ocm-hub.io/klusterlet-mode"
JOINED = "ManagedClusterJoined"
AVAILABLE = "ManagedClusterConditionAvailable"
POD_GRACE_SECONDS = 60  # the default terminationGracePeriodSeconds (30 s), with room to spare
# Sets the hub manages itself; joining them needs no ManagedClusterSet from us.
HUB_MANAGED_SETS = frozenset({"default", "global"})
TOKEN_SECONDS = 3600
# Registrations created before `ocmVersion` was an input applied this release's klusterlet.
PRE_BUNDLE_VERSION = "v1.3.1"
# A registration planned offline (make render): its endpoint is read from the vela secret when it joins.
FROM_SECRET = "(read from the vela secret at deploy time)"


class JoinError(Exception):
    """A join or unjoin that cannot finish; the message names the cluster and the step."""


@dataclass(frozen=True)
class Registration:
    """The inputs of one registration, typed. Holds a reference to the vela secret, never its data."""

    cluster: str
    secret_namespace: str
    secret_name: str
    endpoint: str
    labels: Mapping[str, str]
    cluster_set: str
    mode: kl.Mode
    images: kl.Images
    hub_api_server: str | None
    timeout_seconds: int
    addons: tuple[str, ...] = ()
    wait_for_addons: bool = False
    addon_timeout_seconds: int = 600
    ocm_version: str = PRE_BUNDLE_VERSION
    annotations: Mapping[str, str] = field(default_factory=dict)  # vela's alias
    insecure: bool = False  # the stack's opt-in for a vela secret without a CA
    # How many registrations the provider process works on at once; not the cluster's, so never a diff.
    max_concurrent_joins: int = MAX_CONCURRENT_JOINS

    def props(self) -> dict[str, Any]:
        return {
            "clusterName": self.cluster,
            "secretNamespace": self.secret_namespace,
            "secretName": self.secret_name,
            "endpoint": self.endpoint,
            "labels": dict(self.labels),
            "clusterSet": self.cluster_set,
            "mode": self.mode,
            "images": {
                "operator": self.images.operator,
                "registration": self.images.registration,
                "work": self.images.work,
            },
            "hubApiServer": self.hub_api_server or "",
            "timeoutSeconds": self.timeout_seconds,
            "addons": list(self.addons),
            "waitForAddons": self.wait_for_addons,
            "addonTimeoutSeconds": self.addon_timeout_seconds,
            "ocmVersion": self.ocm_version,
            "maxConcurrentJoins": self.max_concurrent_joins,
            # only when set, so registrations made before these existed see no change
            **({"annotations": dict(self.annotations)} if self.annotations else {}),
            **({"insecure": True} if self.insecure else {}),
        }

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Registration:
        images = props["images"]
        return cls(
            cluster=str(props["clusterName"]),
            secret_namespace=str(props["secretNamespace"]),
            secret_name=str(props["secretName"]),
            endpoint=str(props["endpoint"]),
            labels={str(k): str(v) for k, v in (props.get("labels") or {}).items()},
            cluster_set=str(props["clusterSet"]),
            mode="Hosted" if props["mode"] == "Hosted" else "Default",
            images=kl.Images(str(images["operator"]), str(images["registration"]), str(images["work"])),
            hub_api_server=str(props.get("hubApiServer") or "") or None,
            timeout_seconds=int(props["timeoutSeconds"]),
            addons=tuple(str(a) for a in props.get("addons") or ()),
            wait_for_addons=bool(props.get("waitForAddons", False)),
            addon_timeout_seconds=int(props.get("addonTimeoutSeconds") or 600),
            ocm_version=str(props.get("ocmVersion") or PRE_BUNDLE_VERSION),
            annotations={str(k): str(v) for k, v in (props.get("annotations") or {}).items()},
            insecure=props.get("insecure") is True,
            max_concurrent_joins=int(props.get("maxConcurrentJoins") or MAX_CONCURRENT_JOINS),
        )


def condition(obj: Mapping[str, Any] | None, kind: str) -> dict[str, str]:
    """One status condition as the outputs show it; `Missing` when the cluster never reported it."""
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return {
                "status": str(item.get("status", "Unknown")),
                "reason": str(item.get("reason", "")),
                "message": str(item.get("message", "")),
                "since": str(item.get("lastTransitionTime", "")),
            }
    return {"status": "Missing", "reason": "", "message": "", "since": ""}


def cluster_status(
    obj: Mapping[str, Any] | None, mode: str, addons: Mapping[str, Mapping[str, Any] | None] | None = None
) -> dict[str, Any]:
    """What `kubectl get managedclusters` and `kubectl get managedclusteraddon -n <cluster>` show."""
    spec = (obj or {}).get("spec") or {}
    return {
        "hubAccepted": bool(spec.get("hubAcceptsClient", False)),
        "clientUrls": [str(c.get("url", "")) for c in spec.get("managedClusterClientConfigs") or []],
        "joined": condition(obj, JOINED),
        "available": condition(obj, AVAILABLE),
        "klusterletMode": mode,
        "addons": {name: addon_status(live) for name, live in sorted((addons or {}).items())},
    }


def addon_status(obj: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """AVAILABLE / DEGRADED / PROGRESSING of one ManagedClusterAddOn (Missing when not reported)."""
    return {key: condition(obj, kind) for key, kind in ADDON_CONDITIONS.items()}


def _reason(state: Mapping[str, str]) -> str:
    return f" ({state['reason']}: {state['message']})" if state["reason"] else ""


@dataclass
class Joiner:
    """The join protocol against one hub; `connect` opens a managed cluster from its kubeconfig."""

    hub: Kube
    connect: Callable[[Mapping[str, Any]], Kube] = Kube.from_kubeconfig
    pacing: Pacing = field(default_factory=Pacing)
    _vela: dict[str, VelaCluster] = field(default_factory=dict)

    def log(self, message: str) -> None:
        self.pacing.log(message)

    # -- the vela side -------------------------------------------------------------------------

    def vela_cluster(self, reg: Registration) -> VelaCluster:
        secret = self.hub.get("v1", "Secret", reg.secret_name, reg.secret_namespace)
        if secret is None:
            raise JoinError(
                f"cluster {reg.cluster}: vela cluster secret {reg.secret_namespace}/{reg.secret_name} does not exist"
            )
        return parse_secret(secret, allow_insecure=reg.insecure)

    # -- create / update -----------------------------------------------------------------------

    def join(self, reg: Registration) -> dict[str, Any]:
        """Register the cluster and wait, bounded, until it is Joined and Available."""
        vela = self.vela_cluster(reg)
        self.log(f"cluster {reg.cluster}: registering ({reg.mode} klusterlet)")
        self.apply_hub_side(reg, vela)
        token = self._bootstrap_token(reg)
        self.apply_klusterlet(reg, vela, token)
        self.wait_joined(reg)
        return self.status(reg, wait_addons=reg.wait_for_addons)

    def apply_hub_side(self, reg: Registration, vela: VelaCluster) -> None:
        if reg.cluster_set not in HUB_MANAGED_SETS:
            self.hub.apply(
                {
                    "apiVersion": MANAGED_CLUSTER_SET[0],
                    "kind": MANAGED_CLUSTER_SET[1],
                    "metadata": {"name": reg.cluster_set},
                }
            )
        self.hub.apply(self.managed_cluster(reg, vela))
        for obj in kl.bootstrap_objects(reg.cluster):
            self.hub.apply(obj)

    @staticmethod
    def managed_cluster(reg: Registration, vela: VelaCluster) -> dict[str, Any]:
        return {
            "apiVersion": MANAGED_CLUSTER[0],
            "kind": MANAGED_CLUSTER[1],
            "metadata": {
                "name": reg.cluster,
                "labels": {**reg.labels, CLUSTERSET_LABEL: reg.cluster_set},
                "annotations": {
                    **reg.annotations,
                    SECRET_ANNOTATION: f"{reg.secret_namespace}/{reg.secret_name}",
                    MODE_ANNOTATION: reg.mode,
                },
            },
            "spec": {
                "hubAcceptsClient": True,
                "managedClusterClientConfigs": [
                    {"url": vela.endpoint, **({"caBundle": base64.b64encode(vela.ca).decode()} if vela.ca else {})}
                ],
            },
        }

    def apply_klusterlet(self, reg: Registration, vela: VelaCluster, token: str | None) -> None:
        """The klusterlet operator and CR: on the managed cluster (Default) or on the hub (Hosted)."""
        target = self.hub if reg.mode == "Hosted" else self.connect(vela.kubeconfig())
        if reg.mode == "Default":
            existing = target.get(*KLUSTERLET, kl.klusterlet_name(reg.cluster, reg.mode))
            joined_as = ((existing or {}).get("spec") or {}).get("clusterName")
            if joined_as and joined_as != reg.cluster:
                raise JoinError(
                    f"cluster {reg.cluster}: the managed cluster already runs a klusterlet for cluster {joined_as!r}; "
                    "unjoin it first (clusteradm unjoin) or register it under that name"
                )
        for obj in kl.operator_objects(reg.images, reg.ocm_version):
            target.apply(obj)
        namespace = kl.agent_namespace(reg.cluster, reg.mode)
        target.apply(kl.namespace(namespace))
        if token is not None:
            server, ca = self._hub_endpoint(reg)
            target.apply(
                kl.kubeconfig_secret(kl.BOOTSTRAP_SECRET, namespace, kl.bootstrap_kubeconfig(server, ca, token))
            )
        if reg.mode == "Hosted":
            target.apply(kl.kubeconfig_secret(kl.EXTERNAL_MANAGED_SECRET, namespace, vela.kubeconfig()))
        target.apply(kl.klusterlet(kl.Agent(reg.cluster, reg.mode, reg.images, vela.endpoint), reg.ocm_version))

    def update(self, reg: Registration) -> dict[str, Any]:
        """Labels, cluster set, endpoint and klusterlet images, in place; no new bootstrap token."""
        vela = self.vela_cluster(reg)
        self.apply_hub_side(reg, vela)
        self.apply_klusterlet(reg, vela, None)
        self.wait_joined(reg)
        return self.status(reg, wait_addons=reg.wait_for_addons)

    def _bootstrap_token(self, reg: Registration) -> str:
        account = kl.bootstrap_account(reg.cluster)
        response = self.hub.post(
            f"/api/v1/namespaces/{kl.OPERATOR_NAMESPACE}/serviceaccounts/{account}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS},
            },
        )
        token = str((response.get("status") or {}).get("token") or "")
        if not token:
            raise JoinError(f"cluster {reg.cluster}: the hub issued no bootstrap token for {account}")
        return token

    def _hub_endpoint(self, reg: Registration) -> tuple[str, bytes]:
        """Where agents dial the hub, and the CA that proves it (kubeconfig's, else kube-root-ca.crt)."""
        if reg.mode == "Hosted":
            server = reg.hub_api_server or "https://kubernetes.default.svc:443"
        else:
            server = reg.hub_api_server or self.hub.server
        ca = self.hub.ca_data
        if not ca:
            root = self.hub.get("v1", "ConfigMap", "kube-root-ca.crt", kl.OPERATOR_NAMESPACE)
            ca = str(((root or {}).get("data") or {}).get("ca.crt", "")).encode()
        return server, ca

    # -- approval and waiting ------------------------------------------------------------------

    def approve_pending(self, reg: Registration) -> int:
        """Approve this cluster's CSRs from its own bootstrap identity; nobody else's."""
        approved = 0
        username = kl.bootstrap_username(reg.cluster)
        for csr in self.hub.list(*CSR, label_selector=f"{kl.CLUSTER_NAME_LABEL}={reg.cluster}"):
            if (csr.get("spec") or {}).get("username") != username:
                continue
            conditions = (csr.get("status") or {}).get("conditions") or []
            if any(c.get("type") in ("Approved", "Denied") for c in conditions):
                continue
            csr.setdefault("status", {})["conditions"] = [
                *conditions,
                {
                    "type": "Approved",
                    "status": "True",
                    "reason": "ApprovedByOcmHub",
                    "message": f"ocm-hub approved the bootstrap request of cluster {reg.cluster}",
                },
            ]
            name = csr["metadata"]["name"]
            self.hub.put(self.hub.path(*CSR, name) + "/approval", csr)
            self.log(f"cluster {reg.cluster}: approved CSR {name}")
            approved += 1
        return approved

    def wait_joined(self, reg: Registration) -> None:
        def look() -> Unmet | None:
            self.approve_pending(reg)
            live = self.hub.get(*MANAGED_CLUSTER, reg.cluster)
            joined, available = condition(live, JOINED), condition(live, AVAILABLE)
            if joined["status"] == "True" and available["status"] == "True":
                return None
            waiting, state = (JOINED, joined) if joined["status"] != "True" else (AVAILABLE, available)
            return Unmet(
                f"not {waiting.removeprefix('ManagedCluster').removeprefix('Condition')} after "
                f"{reg.timeout_seconds}s: condition {waiting} is {state['status']}{_reason(state)}",
                f"cluster {reg.cluster}: waiting for {JOINED}={joined['status']}, {AVAILABLE}={available['status']}",
            )

        unmet = self.pacing.until(look, reg.timeout_seconds)
        if unmet is not None:
            raise JoinError(
                f"cluster {reg.cluster}: {unmet.condition}; check the klusterlet agents and that they reach the hub API"
            )
        self.log(f"cluster {reg.cluster}: joined and available")

    def status(self, reg: Registration, *, wait_addons: bool = False) -> dict[str, Any]:
        """The cluster's status with its addons'; with `wait_addons`, first wait (bounded) until each
        enabled addon is Available, creating a ManagedClusterAddOn no install strategy has made."""
        if wait_addons and reg.addons:
            self._wait_addons(reg)
        live = self.hub.get(*MANAGED_CLUSTER, reg.cluster)
        return cluster_status(live, reg.mode, self.addons(reg.cluster, reg.addons))

    def addons(self, cluster: str, names: tuple[str, ...]) -> dict[str, dict[str, Any] | None]:
        if not names:
            return {}
        found = {item["metadata"]["name"]: item for item in self.hub.list(*ADDON, namespace=cluster)}
        return {name: found.get(name) for name in names}

    def _wait_addons(self, reg: Registration) -> None:
        def look() -> Unmet | None:
            live = self.addons(reg.cluster, reg.addons)
            for name, obj in live.items():
                if obj is None:
                    self._create_addon(reg.cluster, name)
            states = {name: condition(obj, "Available") for name, obj in live.items()}
            waiting = {name: state for name, state in states.items() if state["status"] != "True"}
            if not waiting:
                return None
            name, state = sorted(waiting.items())[0]
            return Unmet(
                f"addon {name} not Available after {reg.addon_timeout_seconds}s: condition Available is "
                f"{state['status']}{_reason(state)}; other addons still waiting: "
                f"{', '.join(sorted(waiting)[1:]) or 'none'}",
                f"cluster {reg.cluster}: waiting for addons {', '.join(sorted(waiting))} to be Available",
            )

        unmet = self.pacing.until(look, reg.addon_timeout_seconds)
        if unmet is not None:
            raise JoinError(f"cluster {reg.cluster}: {unmet.condition}")
        self.log(f"cluster {reg.cluster}: addons {', '.join(reg.addons)} available")

    def _create_addon(self, cluster: str, name: str) -> None:
        """Only where no install strategy made one; the hub makes the cluster namespace on acceptance."""
        try:
            self.hub.create(
                {"apiVersion": ADDON[0], "kind": ADDON[1], "metadata": {"name": name, "namespace": cluster}, "spec": {}}
            )
        except KubeError as err:
            if err.status not in (404, 409):  # namespace not there yet, or the addon-manager was quicker
                raise
        else:
            self.log(f"cluster {cluster}: created ManagedClusterAddOn {name} (no install strategy had)")

    # -- read / delete -------------------------------------------------------------------------

    def read(self, cluster: str) -> dict[str, Any] | None:
        return self.hub.get(*MANAGED_CLUSTER, cluster)

    def unjoin(self, reg: Registration) -> None:
        """Remove the klusterlet, then the ManagedCluster and the bootstrap identity. Gone is done."""
        self.log(f"cluster {reg.cluster}: unjoining")
        try:
            vela: VelaCluster | None = self.vela_cluster(reg)
        except JoinError:
            vela = None
        if reg.mode == "Hosted":
            self._remove_klusterlet(self.hub, reg, purge_operator=False)
        elif vela is None:
            self.log(
                f"cluster {reg.cluster}: vela secret {reg.secret_namespace}/{reg.secret_name} is gone, so the klusterlet "
                "on the managed cluster cannot be reached; remove it there with `clusteradm unjoin`"
            )
        else:
            self._remove_klusterlet(self.connect(vela.kubeconfig()), reg, purge_operator=True)
        self.hub.delete(*MANAGED_CLUSTER, reg.cluster)
        self._wait_gone(self.hub, MANAGED_CLUSTER, reg.cluster, None, reg)
        # The registration agent stops asking for a certificate once a cluster has "too many" CSRs on the
        # hub (seen in e2e after a few join/unjoin rounds); issued ones are spent once the cluster is gone.
        for csr in self.hub.list(*CSR, label_selector=f"{kl.CLUSTER_NAME_LABEL}={reg.cluster}"):
            self.hub.delete(*CSR, csr["metadata"]["name"])
        for obj in reversed(kl.bootstrap_objects(reg.cluster)):
            metadata = obj["metadata"]
            self.hub.delete(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))

    def _remove_klusterlet(self, target: Kube, reg: Registration, *, purge_operator: bool) -> None:
        name = kl.klusterlet_name(reg.cluster, reg.mode)
        target.delete(*KLUSTERLET, name)
        self._wait_gone(target, KLUSTERLET, name, None, reg)
        try:
            target.delete("v1", "Namespace", kl.agent_namespace(reg.cluster, reg.mode))
        except KubeError as err:
            if err.status != 409:  # 409: already terminating (a destroy re-run after a half-finished one)
                raise
        if purge_operator and not target.list(*KLUSTERLET):
            for obj in reversed(kl.operator_objects(reg.images, reg.ocm_version)):
                if obj["kind"] in ("Namespace", "CustomResourceDefinition"):
                    continue
                metadata = obj["metadata"]
                target.delete(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))
                if obj["kind"] == "Deployment" and self._pods_gone(target, obj, reg):
                    target.delete(*LEASE, kl.OPERATOR_LEASE, metadata["namespace"])

    def _pods_gone(self, kube: Kube, deployment: Mapping[str, Any], reg: Registration) -> bool:
        """Whether the operator's pods stopped (bounded wait). The klusterlet operator exits without
        releasing its leader lease, so a re-join within the lease's 137 s would wait it out: once no
        operator runs, the lease is garbage and goes too. Never fatal: a node that is down must not
        block the unjoin."""
        selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
        namespace = deployment["metadata"]["namespace"]

        def look() -> Unmet | None:
            return (
                Unmet("klusterlet operator pods still stopping")
                if kube.list("v1", "Pod", namespace, selector)
                else None
            )

        if self.pacing.until(look, min(reg.timeout_seconds, POD_GRACE_SECONDS)) is None:
            return True
        self.log(f"cluster {reg.cluster}: klusterlet operator pods still stopping; leaving its lease")
        return False

    def _wait_gone(
        self, kube: Kube, kind: tuple[str, str], name: str, namespace: str | None, reg: Registration
    ) -> None:
        def look() -> Unmet | None:
            live = kube.get(*kind, name, namespace)
            if live is None:
                return None
            finalizers = ", ".join((live.get("metadata") or {}).get("finalizers") or []) or "none"
            return Unmet(
                f"{kind[1]} {name} still exists after {reg.timeout_seconds}s (finalizers: {finalizers}); "
                "is the operator that removes it running?"
            )

        unmet = self.pacing.until(look, reg.timeout_seconds)
        if unmet is not None:
            raise JoinError(f"cluster {reg.cluster}: {unmet.condition}")
