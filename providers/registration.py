"""One registration of a vela cluster: its inputs as state keeps them, the marks it leaves on the hub, and
the clusters a join (providers/join.py) or an unjoin (providers/unjoin.py) works on.

State keeps a reference to the vela Secret, never its data: both read it when they need it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.names import MAX_CONCURRENT_JOINS
from providers import klusterlet as kl
from providers.kube import Kube
from providers.poll import Pacing
from providers.vela import VelaCluster, parse_secret

MANAGED_CLUSTER = ("cluster.open-cluster-management.io/v1", "ManagedCluster")
KLUSTERLET = ("operator.open-cluster-management.io/v1", "Klusterlet")
CSR = ("certificates.k8s.io/v1", "CertificateSigningRequest")
SECRET_ANNOTATION = "ocm-hub.io/vela-secret"
MODE_ANNOTATION = "ocm-hub.io/klusterlet-mode"
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


@dataclass
class Clusters:
    """The hub, how to reach a managed cluster from its kubeconfig, and how waits pace themselves."""

    hub: Kube
    connect: Callable[[Mapping[str, Any]], Kube] = Kube.from_kubeconfig
    pacing: Pacing = field(default_factory=Pacing)

    def log(self, message: str) -> None:
        self.pacing.log(message)

    def vela_cluster(self, reg: Registration) -> VelaCluster:
        """The vela cluster as its Secret on the hub says now; JoinError when the Secret is gone."""
        secret = self.hub.get("v1", "Secret", reg.secret_name, reg.secret_namespace)
        if secret is None:
            raise JoinError(
                f"cluster {reg.cluster}: vela cluster secret {reg.secret_namespace}/{reg.secret_name} does not exist"
            )
        return parse_secret(secret, allow_insecure=reg.insecure)
