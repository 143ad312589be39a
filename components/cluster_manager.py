"""The `ClusterManager` custom resource: its spec from config, and a typed resource that keeps `status`.

pulumi-kubernetes' generic `CustomResource` drops `status` from its outputs in Python, so the
hub's conditions could not reach stack outputs; this class declares it, as generated resources do.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

import pulumi

from components import operator_manifests as manifests
from config import names
from config.offline import is_offline
from config.stack import StackConfig
from providers.kube import HubConfigError, KubeError, hub_client

API_VERSION = names.CLUSTER_MANAGER_API_VERSION
KIND = names.CLUSTER_MANAGER_KIND
CRD_NAME = names.CLUSTER_MANAGER_CRD
_PROVIDER_VERSION = version("pulumi-kubernetes")


class ClusterManager(pulumi.CustomResource):
    """`operator.open-cluster-management.io/v1` ClusterManager, with `metadata` and `status` as outputs."""

    metadata: pulumi.Output[Any]
    spec: pulumi.Output[Any]
    status: pulumi.Output[Any]

    def __init__(self, resource_name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**manifests.cluster_manager(cfg), "status": None}
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(version=_PROVIDER_VERSION), opts)
        super().__init__(names.CLUSTER_MANAGER_TYPE, resource_name, props, opts)


def cluster_manager_spec(cfg: StackConfig) -> dict[str, Any]:
    """The CR spec: upstream's sample with the stack's settings (components/operator_manifests.py)."""
    spec: dict[str, Any] = manifests.cluster_manager(cfg)["spec"]
    return spec


def undeclared(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    """The paths in `value` that the CRD's structural schema does not declare: the API server refuses them."""
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in undeclared(item, schema.get("items", {}), f"{path}[{i}]")]
    if not isinstance(value, dict) or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if "properties" not in schema:
        values = schema.get("additionalProperties")
        if not isinstance(values, dict):
            return []
        return [p for key, item in value.items() for p in undeclared(item, values, f"{path}.{key}")]
    properties = schema["properties"]
    return [
        p
        for key, item in value.items()
        for p in (undeclared(item, properties[key], f"{path}.{key}") if key in properties else [f"{path}.{key}"])
    ]


def spec_schema(crd: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ClusterManager spec's schema in the CRD's v1 version."""
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == API_VERSION.rsplit("/", 1)[1]]
    schema: Mapping[str, Any] = served["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def preview_problem(cfg: StackConfig, kube_config: Mapping[str, Any]) -> str | None:
    """Why previewing the ClusterManager on this hub would fail, or None.

    pulumi-kubernetes previews a custom resource by a server-side dry-run against the hub's live CRD, even
    when the same deployment updates that CRD first (`pulumi up` would work): so a stack that raises
    `ocmVersion` and sets a field new in that release in one change cannot be previewed, and the API
    server's answer ("failed to create typed patch object ... field not declared in schema") names no way
    out. Asked in previews only, of a hub ocm-hub can read (else pulumi-kubernetes reports what is wrong).
    """
    if not pulumi.runtime.is_dry_run() or is_offline():
        return None
    from kubernetes.config import ConfigException  # the kubernetes client loads only when a hub is asked

    try:
        crd = hub_client(kube_config).get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME)
    except (HubConfigError, KubeError, ConfigException, OSError):
        return None
    if crd is None:
        return None
    fields = undeclared(cluster_manager_spec(cfg), spec_schema(crd), "spec")
    if not fields:
        return None
    return (
        f"the hub's ClusterManager CRD ({CRD_NAME}) does not declare {', '.join(fields)}, which this stack sets "
        f"at OCM {cfg.ocm_version}: the hub runs an older release. pulumi-kubernetes previews the ClusterManager "
        "against the hub's CRD, so this preview cannot pass before the new CRD is applied. Upgrade in two "
        f"changes: ocmVersion {cfg.ocm_version} alone first (pulumi up), then the settings that set "
        f"{', '.join(fields)}"
    )
