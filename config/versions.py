"""OCM release bundles: everything that changes with an OCM version lives here, as data.

A release is one folder of upstream files, `releases/<version>/` (upstream's `deploy/<component>/config/`,
copied unchanged, with a PROVENANCE.md), plus one entry in RELEASES. Every upstream object ocm-hub
creates is read from that folder and changed only by the `Change` lists its builders declare
(`components/operator_manifests.py`, `providers/klusterlet.py`), which the conformance tests read too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar

import yaml

DEFAULT_REGISTRY = "quay.io/open-cluster-management"
RELEASES_DIR = Path(__file__).parent / "releases"

# Image keys as the config spells them, mapped to upstream image repository names.
IMAGE_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "registrationOperator": "registration-operator",
        "registration": "registration",
        "work": "work",
        "placement": "placement",
        "addOnManager": "addon-manager",
    }
)

Component = Literal["cluster-manager", "klusterlet"]

# The files of each component in a release folder, in the order they are applied.
OPERATOR_FILES: Mapping[Component, tuple[str, ...]] = MappingProxyType(
    {
        "cluster-manager": (
            "crds/0000_01_operator.open-cluster-management.io_clustermanagers.crd.yaml",
            "operator/namespace.yaml",
            "operator/service_account.yaml",
            "rbac/cluster_role.yaml",
            "rbac/cluster_role_binding.yaml",
            "operator/operator.yaml",
        ),
        "klusterlet": (
            "crds/0000_00_operator.open-cluster-management.io_klusterlets.crd.yaml",
            "operator/namespace.yaml",
            "operator/service_account.yaml",
            "rbac/cluster_role.yaml",
            "rbac/cluster_role_binding.yaml",
            "operator/operator.yaml",
        ),
    }
)
# The sample custom resource of each component, which the CR ocm-hub creates starts from.
SAMPLE_FILES: Mapping[Component, str] = MappingProxyType(
    {
        "cluster-manager": "samples/operator_open-cluster-management_clustermanagers.cr.yaml",
        "klusterlet": "samples/operator_open-cluster-management_klusterlets.cr.yaml",
    }
)


@dataclass(frozen=True)
class OcmRelease:
    """Facts of one OCM release that the hub install and the registrations depend on."""

    version: str
    # Hub feature gates per ClusterManager section, with the controller's default.
    registration_gates: Mapping[str, bool]
    work_gates: Mapping[str, bool]
    addon_manager_gates: Mapping[str, bool]
    placement_gates: Mapping[str, bool]
    source: str

    def gates(self, section: str) -> Mapping[str, bool]:
        return {
            "registration": self.registration_gates,
            "work": self.work_gates,
            "addOnManager": self.addon_manager_gates,
            "placement": self.placement_gates,
        }[section]

    @property
    def folder(self) -> Path:
        return RELEASES_DIR / self.version

    def operator_objects(self, component: Component) -> list[dict[str, Any]]:
        """The component's operator (CRD, namespace, RBAC, Deployment) as upstream ships it, in apply order."""
        return [doc for relative in OPERATOR_FILES[component] for doc in self.documents(component, relative)]

    def sample(self, component: Component) -> dict[str, Any]:
        (doc,) = self.documents(component, SAMPLE_FILES[component])
        return doc

    def documents(self, component: Component, relative: str) -> list[dict[str, Any]]:
        """Fresh copies: callers change them."""
        return copy.deepcopy(list(_documents(self.folder / component / relative)))


@cache
def _documents(path: Path) -> tuple[dict[str, Any], ...]:
    """Parsed with libyaml where it is built in: the same objects, and most of `make render`'s time in pure
    Python (the CRDs are 56 KB). Our own vendored files, so no bounds are needed."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(doc for doc in yaml.load_all(path.read_text(), Loader=loader) if doc)


# open-cluster-management.io/api feature/feature.go, Default{HubRegistration,HubWork,HubAddonManager}FeatureGates:
# api v1.2.0 (required by ocm v1.2.1) and v1.3.0 (required by ocm v1.3.1) declare the same. Placement's gates
# came with v1.3.0, as the ClusterManager's spec.placementConfiguration (absent from v1.2.1's CRD, so the API
# server refuses a ClusterManager that sets it there).
_HUB_REGISTRATION_GATES = MappingProxyType(
    {
        "DefaultClusterSet": True,
        "V1beta1CSRAPICompatibility": False,
        "ManagedClusterAutoApproval": False,
        "ResourceCleanup": True,
        "ClusterProfile": False,
        "ClusterImporter": False,
    }
)
_HUB_WORK_GATES = MappingProxyType(
    {
        "NilExecutorValidating": False,
        "ManifestWorkReplicaSet": False,
        "CloudEventsDrivers": False,
        "CleanUpCompletedManifestWork": False,
    }
)
_HUB_ADDON_MANAGER_GATES = MappingProxyType({"AddonManagement": True})
_HUB_PLACEMENT_GATES = MappingProxyType({"PlacementDebugServer": False})

RELEASES: Mapping[str, OcmRelease] = MappingProxyType(
    {
        "v1.2.1": OcmRelease(
            version="v1.2.1",
            registration_gates=_HUB_REGISTRATION_GATES,
            work_gates=_HUB_WORK_GATES,
            addon_manager_gates=_HUB_ADDON_MANAGER_GATES,
            placement_gates=MappingProxyType({}),
            source="open-cluster-management.io/ocm@v1.2.1 (863fcfcbb331095a402a9cd2117938ca75d047c7), api v1.2.0",
        ),
        "v1.3.1": OcmRelease(
            version="v1.3.1",
            registration_gates=_HUB_REGISTRATION_GATES,
            work_gates=_HUB_WORK_GATES,
            addon_manager_gates=_HUB_ADDON_MANAGER_GATES,
            placement_gates=_HUB_PLACEMENT_GATES,
            source="open-cluster-management-io/ocm v1.3.1 (805fa6103d8bc1761dbc9cb4e420def42703ec53), api v1.3.0",
        ),
    }
)

DEFAULT_VERSION = "v1.3.1"


# -- intended differences from upstream ----------------------------------------------------------

Context = TypeVar("Context")


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


KEEP = _Marker("KEEP")
"""A Change's value when the context leaves upstream's field as it is."""
DROP = _Marker("DROP")
"""A Change's value when the field is removed from upstream's object."""


@dataclass(frozen=True)
class Change(Generic[Context]):
    """One intended difference from an upstream object: set `path` of every `kind` object to `value(context)`.

    `path` is dotted with list indexes, e.g. `spec.template.spec.containers[0].image`.
    """

    kind: str
    path: str
    why: str
    value: Callable[[Context], Any]


def apply_changes(obj: dict[str, Any], changes: Iterable[Change[Context]], context: Context) -> dict[str, Any]:
    """Apply, in order, every change for the object's kind; returns the object for chaining."""
    for change in changes:
        if change.kind == obj["kind"]:
            set_path(obj, change.path, change.value(context))
    return obj


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.replace("]", "").replace("[", ".").split(".")
    target: Any = obj
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is KEEP:
        return
    if value is DROP:
        if isinstance(target, dict):
            target.pop(last, None)
        else:
            del target[last]
        return
    target[last] = copy.deepcopy(value)
