"""What a registration reports: its ManagedCluster's conditions and its addons', as kubectl shows them.

The join waits on these, the provider's outputs and `make status` show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.kube import Kube

ADDON = ("addon.open-cluster-management.io/v1alpha1", "ManagedClusterAddOn")
ADDON_CONDITIONS = {"available": "Available", "degraded": "Degraded", "progressing": "Progressing"}
JOINED = "ManagedClusterJoined"
AVAILABLE = "ManagedClusterConditionAvailable"


def condition(obj: Mapping[str, Any] | None, kind: str) -> dict[str, str]:
    """One status condition as the outputs show it; `Missing` when the cluster never reported it."""
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == kind:
            return {
                "status": str(item.get("status", "Unknown")),
                "reason": str(item.get("reason", "")),
                "message": str(item.get("message", "")),
                "since": str(item.get("lastTransitionTime", "")),
            }
    return {"status": "Missing", "reason": "", "message": "", "since": ""}


def cluster_status(
    obj: Mapping[str, Any] | None, mode: str, addons: Mapping[str, Mapping[str, Any] | None] | None = None
) -> dict[str, Any]:
    """What `kubectl get managedclusters` and `kubectl get managedclusteraddon -n <cluster>` show."""
    spec = (obj or {}).get("spec") or {}
    return {
        "hubAccepted": bool(spec.get("hubAcceptsClient", False)),
        "clientUrls": [str(c.get("url", "")) for c in spec.get("managedClusterClientConfigs") or []],
        "joined": condition(obj, JOINED),
        "available": condition(obj, AVAILABLE),
        "klusterletMode": mode,
        "addons": {name: addon_status(live) for name, live in sorted((addons or {}).items())},
    }


def addon_status(obj: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """AVAILABLE / DEGRADED / PROGRESSING of one ManagedClusterAddOn (Missing when not reported)."""
    return {key: condition(obj, kind) for key, kind in ADDON_CONDITIONS.items()}


def read_addons(hub: Kube, cluster: str, names: tuple[str, ...]) -> dict[str, dict[str, Any] | None]:
    """The cluster's ManagedClusterAddOns by name; None for one not there (yet)."""
    if not names:
        return {}
    found = {item["metadata"]["name"]: item for item in hub.list(*ADDON, namespace=cluster)}
    return {name: found.get(name) for name in names}
