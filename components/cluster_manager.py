"""The `ClusterManager` custom resource: its spec from config, and a typed resource that keeps `status`.

pulumi-kubernetes' generic `CustomResource` drops `status` from its outputs in Python, so the
hub's conditions could not reach stack outputs; this class declares it, as generated resources do.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pulumi

from components import operator_manifests as manifests
from config.stack import StackConfig

API_VERSION = "operator.open-cluster-management.io/v1"
KIND = "ClusterManager"
_PROVIDER_VERSION = version("pulumi-kubernetes")


class ClusterManager(pulumi.CustomResource):
    """`operator.open-cluster-management.io/v1` ClusterManager, with `metadata` and `status` as outputs."""

    metadata: pulumi.Output[Any]
    spec: pulumi.Output[Any]
    status: pulumi.Output[Any]

    def __init__(self, resource_name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {**manifests.cluster_manager(cfg), "status": None}
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(version=_PROVIDER_VERSION), opts)
        super().__init__(f"kubernetes:{API_VERSION}:{KIND}", resource_name, props, opts)


def cluster_manager_spec(cfg: StackConfig) -> dict[str, Any]:
    """The CR spec: upstream's sample with the stack's settings (components/operator_manifests.py)."""
    spec: dict[str, Any] = manifests.cluster_manager(cfg)["spec"]
    return spec
