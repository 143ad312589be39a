"""The objects a join puts on each side: the klusterlet (operator, CR, bootstrap secrets) and the
hub's per-cluster bootstrap identity. Mirrors upstream OCM v1.3.1 deploy/klusterlet/config and the
cluster-manager chart's bootstrap role; the upstream files ship in data/ (see PROVENANCE.md).
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

DATA_DIR = Path(__file__).parent / "data"
OPERATOR_NAMESPACE = "open-cluster-management"
DEFAULT_AGENT_NAMESPACE = "open-cluster-management-agent"
BOOTSTRAP_SECRET = "bootstrap-hub-kubeconfig"
OPERATOR_LEASE = "klusterlet-lock"  # the klusterlet operator's leader-election Lease, in its namespace
EXTERNAL_MANAGED_SECRET = "external-managed-kubeconfig"
BOOTSTRAP_ROLE = "ocm-hub:bootstrap"
CLUSTER_NAME_LABEL = "open-cluster-management.io/cluster-name"
# Files of the klusterlet operator, in the order they must be applied.
_OPERATOR_FILES = (
    "crd.yaml",
    "namespace.yaml",
    "service_account.yaml",
    "cluster_role.yaml",
    "cluster_role_binding.yaml",
    "operator.yaml",
)

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


@cache
def _upstream(version: str, filename: str) -> tuple[dict[str, Any], ...]:
    text = (DATA_DIR / version / "klusterlet" / filename).read_text()
    return tuple(doc for doc in yaml.safe_load_all(text) if doc)


def operator_objects(images: Images, version: str = "v1.3.1") -> list[dict[str, Any]]:
    """The klusterlet operator as upstream ships it, with our image and one replica (as kustomize does)."""
    objects = []
    for filename in _OPERATOR_FILES:
        for doc in _upstream(version, filename):
            obj = copy.deepcopy(doc)
            obj.pop("status", None)
            if obj["kind"] == "Deployment":
                obj["spec"]["replicas"] = 1
                obj["spec"]["template"]["spec"]["containers"][0]["image"] = images.operator
            objects.append(obj)
    return objects


def klusterlet(cluster: str, mode: Mode, images: Images, external_url: str) -> dict[str, Any]:
    return {
        "apiVersion": "operator.open-cluster-management.io/v1",
        "kind": "Klusterlet",
        "metadata": {"name": klusterlet_name(cluster, mode)},
        "spec": {
            "clusterName": cluster,
            "namespace": DEFAULT_AGENT_NAMESPACE if mode == "Default" else f"open-cluster-management-{cluster}",
            "registrationImagePullSpec": images.registration,
            "workImagePullSpec": images.work,
            "imagePullSpec": images.operator,
            "deployOption": {"mode": mode},
            "externalServerURLs": [{"url": external_url}],
        },
    }


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


def bootstrap_kubeconfig(server: str, ca: bytes, token: str) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server}
    if ca:
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "hub", "cluster": cluster}],
        "users": [{"name": "bootstrap", "user": {"token": token}}],
        "contexts": [{"name": "bootstrap", "context": {"cluster": "hub", "user": "bootstrap", "namespace": "default"}}],
        "current-context": "bootstrap",
    }
