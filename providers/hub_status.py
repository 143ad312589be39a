"""What "the hub is ready" means, in one place: the readiness wait (providers/hub_readiness.py) and the outputs use it.

The cluster-manager operator sets no `Available` condition (ocm v1.3.1
pkg/operator/operators/clustermanager/controllers); readiness is this set of conditions, each
observed at the ClusterManager's current generation.
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
