"""The hub's upstream objects: the cluster-manager operator (upstream's registration-operator binary in hub mode)
and the ClusterManager CR.

Each is read from the release folder of `ocmVersion` (config/versions.py) and changed only by the
`Change`s below, each saying why. `tests/test_conformance.py` reads the same lists: the render must be
upstream plus these changes, and each change must really change something.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from config.model import NodePlacement, ResourceRequirements, Toleration
from config.stack import StackConfig
from config.versions import DROP, KEEP, RELEASES, Change, apply_changes

OPERATOR_NAMESPACE = "open-cluster-management"
HUB_NAMESPACE = "open-cluster-management-hub"
IMAGE_PULL_SECRET = "open-cluster-management-image-pull-credentials"
_CONTAINER = "spec.template.spec.containers[0]"
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}


def _operator_args(cfg: StackConfig) -> list[str]:
    args = ["/registration-operator", "hub"]
    if cfg.operator.enable_sync_labels:
        args.append("--enable-sync-labels")
    if not cfg.allow_teardown:
        args.append("--skip-remove-crds")
    return args


def _or_keep(value: Any) -> Any:
    return value if value else KEEP


def tolerations(items: Sequence[Toleration]) -> list[dict[str, Any]]:
    return [t.model_dump(by_alias=True, exclude_none=True) for t in items]


def resources(value: ResourceRequirements) -> dict[str, Any]:
    return {key: dict(v) for key, v in (("requests", value.requests), ("limits", value.limits)) if v}


OPERATOR_CHANGES: tuple[Change[StackConfig], ...] = (
    Change(
        "CustomResourceDefinition",
        "status",
        "status is the API server's; the file's placeholder is not sent",
        lambda cfg: DROP,
    ),
    Change(
        "ServiceAccount",
        "imagePullSecrets",
        "the stack's imagePullSecrets, after upstream's own",
        lambda cfg: (
            [{"name": n} for n in [IMAGE_PULL_SECRET, *cfg.image_pull_secrets]] if cfg.image_pull_secrets else KEEP
        ),
    ),
    Change(
        "Deployment",
        "metadata.annotations",
        "the await bound of pulumi-kubernetes, from readinessTimeout",
        lambda cfg: {"pulumi.com/timeoutSeconds": str(cfg.readiness_timeout)},
    ),
    Change("Deployment", "spec.replicas", "operator.replicas", lambda cfg: cfg.operator.replicas),
    Change(
        "Deployment",
        "spec.template.spec.nodeSelector",
        "operator.nodeSelector",
        lambda cfg: _or_keep(dict(cfg.operator.node_selector)),
    ),
    Change(
        "Deployment",
        "spec.template.spec.tolerations",
        "operator.tolerations",
        lambda cfg: _or_keep(tolerations(cfg.operator.tolerations)),
    ),
    Change(
        "Deployment",
        f"{_CONTAINER}.image",
        "pinned by the version bundle (upstream config says :latest)",
        lambda cfg: cfg.image("registrationOperator"),
    ),
    Change("Deployment", f"{_CONTAINER}.imagePullPolicy", "images.pullPolicy", lambda cfg: cfg.images.pull_policy),
    Change(
        "Deployment",
        f"{_CONTAINER}.args",
        "--skip-remove-crds unless allowTeardown, so deleting the ClusterManager cannot wipe the fleet; "
        "--enable-sync-labels from operator.enableSyncLabels",
        _operator_args,
    ),
    Change(
        "Deployment",
        f"{_CONTAINER}.env[1].value",
        "AGENT_IMAGE follows the operator image, as upstream's chart does",
        lambda cfg: cfg.image("registrationOperator"),
    ),
    Change(
        "Deployment", f"{_CONTAINER}.resources", "operator.resources", lambda cfg: resources(cfg.operator.resources)
    ),
    Change(
        "Deployment",
        "metadata.annotations",
        "not awaited by pulumi-kubernetes: the ClusterManager is created at once, as upstream's Helm chart does, "
        "and the hub's readiness (providers/hub_readiness.py) waits for this rollout with the hub's own",
        lambda cfg: SKIP_AWAIT,
    ),
)


def _gates(cfg: StackConfig, section: str, chosen: Mapping[str, str]) -> list[dict[str, str]]:
    """Every gate the release knows, with the stack's mode or the release default. Explicit, because
    pulumi-kubernetes compares the live list cut to the length of ours: a gate someone else sets on the
    live object (OCM's e2e suite does) shows in the plan, and is set back, only as an item we declare."""
    known = RELEASES[cfg.ocm_version].gates(section)
    return [
        {"feature": name, "mode": chosen.get(name, "Enable" if known[name] else "Disable")} for name in sorted(known)
    ]


def _placement_configuration(cfg: StackConfig) -> Any:
    """Only the gates the stack sets: spec.placementConfiguration is new in v1.3, and a hub at v1.2 previews
    (dry-runs) against its old CRD, so an explicit section would stop every plain upgrade's preview."""
    gates = cfg.cluster_manager.placement.feature_gates
    return {"featureGates": [{"feature": name, "mode": gates[name]} for name in sorted(gates)]} if gates else KEEP


def _registration_configuration(cfg: StackConfig) -> dict[str, Any]:
    registration = cfg.cluster_manager.registration
    result: dict[str, Any] = {"featureGates": _gates(cfg, "registration", registration.feature_gates)}
    if registration.auto_approve_users:
        result["autoApproveUsers"] = list(registration.auto_approve_users)
    return result


def _work_configuration(cfg: StackConfig) -> dict[str, Any]:
    return {"workDriver": "kube", "featureGates": _gates(cfg, "work", cfg.cluster_manager.work.feature_gates)}


def _node_placement(placement: NodePlacement) -> Any:
    result: dict[str, Any] = {}
    if placement.node_selector:
        result["nodeSelector"] = dict(placement.node_selector)
    if placement.tolerations:
        result["tolerations"] = tolerations(placement.tolerations)
    return result or KEEP


def _resource_requirement(cfg: StackConfig) -> dict[str, Any]:
    requirement = cfg.cluster_manager.resource_requirement
    result: dict[str, Any] = {"type": requirement.type}
    if requirement.resource_requirements is not None:
        result["resourceRequirements"] = resources(requirement.resource_requirements)
    return result


def _image(field: str, key: str) -> Change[StackConfig]:
    return Change(
        "ClusterManager",
        f"spec.{field}",
        f"{key} image pinned by the version bundle (the sample says :latest)",
        lambda cfg: cfg.image(key),
    )


PATCH_FORCE = {"pulumi.com/patchForce": "true"}

CLUSTER_MANAGER_CHANGES: tuple[Change[StackConfig], ...] = (
    Change(
        "ClusterManager",
        "metadata.annotations",
        "the stack's spec wins: `make up` takes back fields another client (OCM's e2e suite) wrote since",
        lambda cfg: PATCH_FORCE,
    ),
    _image("registrationImagePullSpec", "registration"),
    _image("workImagePullSpec", "work"),
    _image("placementImagePullSpec", "placement"),
    _image("addOnManagerImagePullSpec", "addOnManager"),
    Change(
        "ClusterManager",
        "spec.registrationConfiguration",
        "clusterManager.registration; every gate of the release with its mode",
        _registration_configuration,
    ),
    Change(
        "ClusterManager",
        "spec.workConfiguration",
        "clusterManager.work; the kube work driver and every gate of the release, explicit",
        _work_configuration,
    ),
    Change(
        "ClusterManager",
        "spec.addOnManagerConfiguration",
        "clusterManager.addOnManager; every gate of the release with its mode",
        lambda cfg: {"featureGates": _gates(cfg, "addOnManager", cfg.cluster_manager.add_on_manager.feature_gates)},
    ),
    Change(
        "ClusterManager",
        "spec.placementConfiguration",
        "clusterManager.placement",
        _placement_configuration,
    ),
    Change(
        "ClusterManager",
        "spec.nodePlacement",
        "clusterManager.nodePlacement",
        lambda cfg: _node_placement(cfg.cluster_manager.node_placement),
    ),
    Change("ClusterManager", "spec.resourceRequirement", "clusterManager.resourceRequirement", _resource_requirement),
)


def operator_objects(cfg: StackConfig) -> dict[str, dict[str, Any]]:
    """The release's hub operator objects by kind (one of each), with OPERATOR_CHANGES applied."""
    objects = RELEASES[cfg.ocm_version].operator_objects("cluster-manager")
    return {obj["kind"]: apply_changes(obj, OPERATOR_CHANGES, cfg) for obj in objects}


def cluster_manager(cfg: StackConfig) -> dict[str, Any]:
    """The release's sample ClusterManager with CLUSTER_MANAGER_CHANGES applied."""
    return apply_changes(RELEASES[cfg.ocm_version].sample("cluster-manager"), CLUSTER_MANAGER_CHANGES, cfg)
