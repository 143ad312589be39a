"""What "the hub is ready" means, in one place: the readiness wait (providers/hub_readiness.py) and the outputs use it.

The cluster-manager operator sets no `Available` condition (ocm v1.3.1
pkg/operator/operators/clustermanager/controllers); readiness is this set of conditions, each
observed at the ClusterManager's current generation, and — for the wait, which reads them — every hub
Deployment the operator lists in `status.relatedResources` rolled out. The operator's own checks count
pods of any ReplicaSet (Progressing: readyReplicas == replicas) and say nothing of a Deployment it
just created, so the Deployments are judged by `kubectl rollout status`'s rule instead.
"""

from collections.abc import Mapping
from typing import Any, TypedDict

# condition type -> the status it must have
READY_CONDITIONS: Mapping[str, str] = {
    "Applied": "True",
    "Progressing": "False",
    "HubRegistrationDegraded": "False",
    "HubPlacementDegraded": "False",
    "ValidFeatureGates": "True",
}


class Condition(TypedDict):
    """A status condition of the ClusterManager, trimmed to what a person reads."""

    type: str
    """Condition type, e.g. Applied or HubRegistrationDegraded."""
    status: str
    """True, False or Unknown."""
    reason: str
    """Machine-readable reason the operator gave."""
    message: str
    """The operator's explanation."""


def conditions(status: Mapping[str, Any] | None) -> list[Condition]:
    """The status conditions, trimmed to what a person reads, sorted by type for stable outputs."""
    items = (status or {}).get("conditions") or []
    return sorted(
        (
            Condition(
                type=str(c.get("type", "")),
                status=str(c.get("status", "Unknown")),
                reason=str(c.get("reason", "")),
                message=str(c.get("message", "")),
            )
            for c in items
        ),
        key=lambda c: c["type"],
    )


def not_ready_reasons(obj: Mapping[str, Any] | None) -> list[str]:
    """Why a ClusterManager object is not ready: one line per unmet condition; empty when ready."""
    if not obj:
        return ["ClusterManager not found"]
    status = obj.get("status") or {}
    generation = (obj.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    reasons = []
    if generation is not None and observed != generation:
        reasons.append(f"status.observedGeneration {observed} has not caught up with generation {generation}")
    by_type = {c["type"]: c for c in conditions(status)}
    for kind, wanted in READY_CONDITIONS.items():
        found = by_type.get(kind)
        if found is None:
            reasons.append(f"condition {kind} is missing (want {wanted})")
        elif found["status"] != wanted:
            reasons.append(f"condition {kind}={found['status']} (want {wanted}): {found['reason']}: {found['message']}")
    return reasons


def is_ready(obj: Mapping[str, Any] | None) -> bool:
    return not not_ready_reasons(obj)


def hub_deployments(status: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(namespace, name) of every Deployment the operator lists in `status.relatedResources`.

    The operator records each Deployment it applies there, in the status patch that also sets Applied,
    and drops the ones a disabled feature removes (ocm v1.2.1 clustermanager_runtime_reconcile.go,
    `SetRelatedResourcesStatusesWithObj`, `cleanResources`). They live where the operator runs — the
    cluster that holds the ClusterManager — in open-cluster-management-hub (Default) or the namespace
    named like the ClusterManager (Hosted); the namespace comes from the entry, so both modes work.
    """
    return [
        (str(entry["namespace"]), str(entry["name"]))
        for entry in (status or {}).get("relatedResources") or []
        if entry.get("group") == "apps"
        and entry.get("resource") == "deployments"
        and entry.get("namespace")
        and entry.get("name")
    ]


def rollout_reason(namespace: str, name: str, deployment: Mapping[str, Any] | None) -> str | None:
    """Why a Deployment has not rolled out, by `kubectl rollout status`'s rule (kubectl
    pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer); None once it has."""
    where = f"deployment {namespace}/{name}"
    if deployment is None:
        return f"{where}: not found"
    status = deployment.get("status") or {}
    generation = int((deployment.get("metadata") or {}).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    if generation > observed:
        return f"{where}: generation {generation} not yet observed by the deployment controller (observed {observed})"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return f"{where}: exceeded its progress deadline: {condition.get('message', '')}"
    desired = int((deployment.get("spec") or {}).get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < desired:
        return f"{where}: {updated} of {desired} replicas updated"
    if total > updated:
        return f"{where}: {total - updated} old replicas pending termination"
    if available < updated:
        return f"{where}: {available} of {updated} replicas available"
    return None
