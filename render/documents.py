"""Turn a recording into Kubernetes objects in a stable, reviewable order, with secrets masked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pulumi.runtime import rpc

from render.recording import Recording

MASK = "[secret]"
# Install order, as Helm applies kinds: what others depend on comes first.
_KIND_ORDER = [
    "Namespace",
    "CustomResourceDefinition",
    "ServiceAccount",
    "Secret",
    "ConfigMap",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "Service",
    "Deployment",
    "ClusterManager",
    "Release",
    "ManagedClusterRegistration",
]
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
REGISTRATION = "pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration"


def objects(recording: Recording) -> list[dict[str, Any]]:
    """Every Kubernetes object the program declares (provider resources excluded)."""
    found = []
    for r in recording.resources:
        if r.type == REGISTRATION:
            found.append(_mask(_registration(r.inputs)))
        elif r.custom and r.type.startswith("kubernetes:"):
            found.append(_mask(_helm_release(r.inputs) if r.type == HELM_RELEASE else dict(r.inputs)))
    return sorted(found, key=_sort_key)


def _registration(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A cluster registration (a dynamic resource): what it will join, and never a credential."""
    spec = dict(inputs.get("spec") or {})
    name = spec.pop("clusterName", None)
    return {"apiVersion": "ocm-hub/v1", "kind": "ManagedClusterRegistration", "metadata": {"name": name}, "spec": spec}


def _helm_release(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A Helm release as a document of its own, so reviewers see chart, repo, version and values."""
    return {
        "apiVersion": "helm.sh/v3",
        "kind": "Release",
        "metadata": {"name": inputs.get("name"), "namespace": inputs.get("namespace")},
        "spec": {
            "chart": inputs.get("chart"),
            "repository": (inputs.get("repositoryOpts") or {}).get("repo"),
            "version": inputs.get("version"),
            "values": inputs.get("values") or {},
            "timeoutSeconds": int(inputs.get("timeout") or 0),
        },
    }


def to_yaml(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=True, default_flow_style=False, explicit_start=True)


def _sort_key(obj: dict[str, Any]) -> tuple[int, str, str, str]:
    kind = str(obj.get("kind", ""))
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    metadata = obj.get("metadata") or {}
    return rank, kind, str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _mask(value: Any, in_secret_data: bool = False) -> Any:
    """Mask Pulumi secrets anywhere, and every value of a Secret's data, whatever its marking;
    give integers back their type."""
    if rpc.is_rpc_secret(value):
        return MASK
    if isinstance(value, dict):
        if in_secret_data:
            return {key: MASK for key in value}
        is_secret_kind = value.get("kind") == "Secret"
        return {key: _mask(item, is_secret_kind and key in ("data", "stringData")) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the engine's wire format carries every number as a double
    return value
