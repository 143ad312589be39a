"""The `ClusterManager` custom resource: its spec from config, and a typed resource that keeps `status`.

pulumi-kubernetes' generic `CustomResource` drops `status` from its outputs in Python, so the
hub's conditions could not reach stack outputs; this class declares it, as generated resources do.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version
from typing import Any

import pulumi
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from components.hub_status import wait_for_annotation
from config.model import NodePlacement, ResourceRequirements, Toleration
from config.stack import StackConfig

API_VERSION = "operator.open-cluster-management.io/v1"
KIND = "ClusterManager"
NAME = "cluster-manager"
_PROVIDER_VERSION = version("pulumi-kubernetes")


class ClusterManager(pulumi.CustomResource):
    """`operator.open-cluster-management.io/v1` ClusterManager, with `metadata` and `status` as outputs."""

    metadata: pulumi.Output[Any]
    spec: pulumi.Output[Any]
    status: pulumi.Output[Any]

    def __init__(self, resource_name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": ObjectMetaArgs(
                name=NAME,
                annotations={
                    "pulumi.com/waitFor": wait_for_annotation(),
                    "pulumi.com/timeoutSeconds": str(cfg.readiness_timeout),
                },
            ),
            "spec": cluster_manager_spec(cfg),
            "status": None,
        }
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(version=_PROVIDER_VERSION), opts)
        super().__init__(f"kubernetes:{API_VERSION}:{KIND}", resource_name, props, opts)


def cluster_manager_spec(cfg: StackConfig) -> dict[str, Any]:
    """The CR spec. All four image pull specs are explicit: the CRD defaults are untagged (:latest)."""
    cm = cfg.cluster_manager
    spec: dict[str, Any] = {
        "registrationImagePullSpec": cfg.image("registration"),
        "workImagePullSpec": cfg.image("work"),
        "placementImagePullSpec": cfg.image("placement"),
        "addOnManagerImagePullSpec": cfg.image("addOnManager"),
        "deployOption": {"mode": cm.deploy_mode},
    }
    registration: dict[str, Any] = {}
    if cm.registration.feature_gates:
        registration["featureGates"] = _gates(cm.registration.feature_gates)
    if cm.registration.auto_approve_users:
        registration["autoApproveUsers"] = list(cm.registration.auto_approve_users)
    if registration:
        spec["registrationConfiguration"] = registration
    spec["workConfiguration"] = {"workDriver": "kube"}
    if cm.work.feature_gates:
        spec["workConfiguration"]["featureGates"] = _gates(cm.work.feature_gates)
    if cm.add_on_manager.feature_gates:
        spec["addOnManagerConfiguration"] = {"featureGates": _gates(cm.add_on_manager.feature_gates)}
    if cm.placement.feature_gates:
        spec["placementConfiguration"] = {"featureGates": _gates(cm.placement.feature_gates)}
    placement = _node_placement(cm.node_placement)
    if placement:
        spec["nodePlacement"] = placement
    requirement: dict[str, Any] = {"type": cm.resource_requirement.type}
    if cm.resource_requirement.resource_requirements is not None:
        requirement["resourceRequirements"] = _resources(cm.resource_requirement.resource_requirements)
    spec["resourceRequirement"] = requirement
    return spec


def _gates(gates: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"feature": name, "mode": gates[name]} for name in sorted(gates)]


def _node_placement(placement: NodePlacement) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if placement.node_selector:
        result["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        result["tolerations"] = [_toleration(t) for t in placement.tolerations]
    return result


def _toleration(toleration: Toleration) -> dict[str, Any]:
    return toleration.model_dump(by_alias=True, exclude_none=True)


def _resources(resources: ResourceRequirements) -> dict[str, Any]:
    return {
        key: dict(value) for key, value in (("requests", resources.requests), ("limits", resources.limits)) if value
    }
