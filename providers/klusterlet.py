"""The objects a join puts on each side: the klusterlet (operator, CR, bootstrap secrets) and the
hub's per-cluster bootstrap identity. The klusterlet operator and CR are the release's upstream files
(config/releases/<version>/klusterlet/) with only the Changes below; the bootstrap role is the
cluster-manager chart's.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from config import safe_yaml
from config.versions import DROP, RELEASES, Change, apply_changes

OPERATOR_NAMESPACE = "open-cluster-management"
DEFAULT_AGENT_NAMESPACE = "open-cluster-management-agent"
BOOTSTRAP_SECRET = "bootstrap-hub-kubeconfig"
HUB_KUBECONFIG_SECRET = "hub-kubeconfig-secret"  # what the registration agent writes once it has its certificate
OPERATOR_LEASE = "klusterlet-lock"  # the klusterlet operator's leader-election Lease, in its namespace
EXTERNAL_MANAGED_SECRET = "external-managed-kubeconfig"
BOOTSTRAP_ROLE = "ocm-hub:bootstrap"
CLUSTER_NAME_LABEL = "open-cluster-management.io/cluster-name"

Mode = Literal["Default", "Hosted"]


@dataclass(frozen=True)
class Images:
    operator: str
    registration: str
    work: str


def klusterlet_name(cluster: str, mode: Mode) -> str:
    """Default: the one klusterlet of the managed cluster; Hosted: one per cluster on the hub."""
    return "klusterlet" if mode == "Default" else f"klusterlet-{cluster}"


def agent_namespace(cluster: str, mode: Mode) -> str:
    """Where the bootstrap secret goes: the agent namespace (Hosted: named like the klusterlet)."""
    return DEFAULT_AGENT_NAMESPACE if mode == "Default" else klusterlet_name(cluster, mode)


def bootstrap_account(cluster: str) -> str:
    return f"ocm-hub-bootstrap-{cluster}"


def bootstrap_username(cluster: str) -> str:
    """The identity whose CSRs, and only those, ocm-hub approves for this cluster."""
    return f"system:serviceaccount:{OPERATOR_NAMESPACE}:{bootstrap_account(cluster)}"


@dataclass(frozen=True)
class Agent:
    """One cluster's klusterlet: what its CR says."""

    cluster: str
    mode: Mode
    images: Images
    external_url: str


OPERATOR_CHANGES: tuple[Change[Images], ...] = (
    Change("CustomResourceDefinition", "status", "status is the API server's", lambda images: DROP),
    Change(
        "Deployment",
        "spec.template.spec.containers[0].image",
        "the hub's operator image (upstream config says :latest)",
        lambda images: images.operator,
    ),
)

KLUSTERLET_CHANGES: tuple[Change[Agent], ...] = (
    Change(
        "Klusterlet", "metadata.name", "one per cluster in Hosted mode", lambda a: klusterlet_name(a.cluster, a.mode)
    ),
    Change("Klusterlet", "spec.clusterName", "the ManagedCluster's name", lambda a: a.cluster),
    Change(
        "Klusterlet",
        "spec.namespace",
        "agents of a Hosted cluster get their own namespace",
        lambda a: DEFAULT_AGENT_NAMESPACE if a.mode == "Default" else f"open-cluster-management-{a.cluster}",
    ),
    Change("Klusterlet", "spec.registrationImagePullSpec", "the hub's release", lambda a: a.images.registration),
    Change("Klusterlet", "spec.workImagePullSpec", "the hub's release", lambda a: a.images.work),
    Change("Klusterlet", "spec.imagePullSpec", "the hub's release", lambda a: a.images.operator),
    Change(
        "Klusterlet", "spec.deployOption", "Default or Hosted (the sample says Singleton)", lambda a: {"mode": a.mode}
    ),
    Change(
        "Klusterlet",
        "spec.externalServerURLs",
        "the cluster's endpoint as vela knows it",
        lambda a: [{"url": a.external_url}],
    ),
)


def operator_objects(images: Images, version: str) -> list[dict[str, Any]]:
    """The release's klusterlet operator, in apply order, with OPERATOR_CHANGES."""
    return [apply_changes(obj, OPERATOR_CHANGES, images) for obj in RELEASES[version].operator_objects("klusterlet")]


def klusterlet(agent: Agent, version: str) -> dict[str, Any]:
    """The release's sample Klusterlet with KLUSTERLET_CHANGES."""
    return apply_changes(RELEASES[version].sample("klusterlet"), KLUSTERLET_CHANGES, agent)


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def kubeconfig_secret(name: str, namespace_name: str, kubeconfig: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace_name},
        "stringData": {"kubeconfig": yaml.safe_dump(kubeconfig, sort_keys=True)},
    }


def bootstrap_role() -> dict[str, Any]:
    """What an agent may do before it is accepted (the cluster-manager chart's bootstrap role)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": BOOTSTRAP_ROLE},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
            {
                "apiGroups": ["certificates.k8s.io"],
                "resources": ["certificatesigningrequests"],
                "verbs": ["create", "get", "list", "watch"],
            },
            {
                "apiGroups": ["cluster.open-cluster-management.io"],
                "resources": ["managedclusters"],
                "verbs": ["get", "create", "list", "watch"],
            },
            {
                "apiGroups": ["cluster.open-cluster-management.io"],
                "resources": ["managedclustersets/join"],
                "verbs": ["create"],
            },
        ],
    }


def bootstrap_objects(cluster: str) -> list[dict[str, Any]]:
    """One bootstrap identity per cluster, so approving its CSRs approves that cluster only."""
    account = bootstrap_account(cluster)
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": account, "namespace": OPERATOR_NAMESPACE, "labels": {CLUSTER_NAME_LABEL: cluster}},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{BOOTSTRAP_ROLE}:{cluster}", "labels": {CLUSTER_NAME_LABEL: cluster}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": BOOTSTRAP_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": OPERATOR_NAMESPACE}],
        },
    ]


@dataclass(frozen=True)
class Bootstrap:
    """What the agents bootstrap with: where the hub is, the CA that proves it, and a token."""

    server: str
    ca: bytes
    token: str


def bootstrap_kubeconfig(bootstrap: Bootstrap) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": bootstrap.server}
    if bootstrap.ca:
        cluster["certificate-authority-data"] = base64.b64encode(bootstrap.ca).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "hub", "cluster": cluster}],
        "users": [{"name": "bootstrap", "user": {"token": bootstrap.token}}],
        "contexts": [{"name": "bootstrap", "context": {"cluster": "hub", "user": "bootstrap", "namespace": "default"}}],
        "current-context": "bootstrap",
    }


def hub_endpoint(secret: Mapping[str, Any] | None) -> tuple[str, bytes] | None:
    """The hub address and CA an agent kubeconfig Secret names (its current context's cluster, as the agents
    read it), or None when there is no such Secret or it holds no readable kubeconfig."""
    data = (secret or {}).get("data") or {}
    try:
        if "kubeconfig" in data:
            text = base64.b64decode(data["kubeconfig"]).decode()
        else:
            text = str(((secret or {}).get("stringData") or {})["kubeconfig"])
        kubeconfig = safe_yaml.load(text, f"Secret {((secret or {}).get('metadata') or {}).get('name')}")
        contexts = {c["name"]: c["context"] for c in kubeconfig.get("contexts") or []}
        name = contexts[kubeconfig["current-context"]]["cluster"]
        (cluster,) = [c["cluster"] for c in kubeconfig.get("clusters") or [] if c["name"] == name]
        ca = base64.b64decode(cluster.get("certificate-authority-data") or "")
    except (KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError):
        return None
    return str(cluster["server"]), ca
