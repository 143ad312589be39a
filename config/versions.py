"""OCM release bundles: everything that changes with an OCM version lives here, as data.

Adding a release is one entry in RELEASES plus its ClusterManager CRD under
components/data/<version>/, checked by the conformance test against upstream.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_REGISTRY = "quay.io/open-cluster-management"

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


@dataclass(frozen=True)
class OcmRelease:
    """Facts of one OCM release that the hub install depends on."""

    version: str
    # Hub feature gates per ClusterManager section, with the controller's default.
    registration_gates: Mapping[str, bool]
    work_gates: Mapping[str, bool]
    addon_manager_gates: Mapping[str, bool]
    placement_gates: Mapping[str, bool]
    crd_file: str
    source: str = field(default="")

    def gates(self, section: str) -> Mapping[str, bool]:
        return {
            "registration": self.registration_gates,
            "work": self.work_gates,
            "addOnManager": self.addon_manager_gates,
            "placement": self.placement_gates,
        }[section]


RELEASES: Mapping[str, OcmRelease] = MappingProxyType(
    {
        "v1.3.1": OcmRelease(
            version="v1.3.1",
            # open-cluster-management-io/api v1.3.0 feature/feature.go (Default*FeatureGates)
            registration_gates=MappingProxyType(
                {
                    "DefaultClusterSet": True,
                    "V1beta1CSRAPICompatibility": False,
                    "ManagedClusterAutoApproval": False,
                    "ResourceCleanup": True,
                    "ClusterProfile": False,
                    "ClusterImporter": False,
                }
            ),
            work_gates=MappingProxyType(
                {
                    "NilExecutorValidating": False,
                    "ManifestWorkReplicaSet": False,
                    "CloudEventsDrivers": False,
                    "CleanUpCompletedManifestWork": False,
                }
            ),
            addon_manager_gates=MappingProxyType({"AddonManagement": True}),
            placement_gates=MappingProxyType({"PlacementDebugServer": False}),
            crd_file="v1.3.1/clustermanagers.crd.yaml",
            source="open-cluster-management-io/ocm v1.3.1 (805fa6103d8bc1761dbc9cb4e420def42703ec53)",
        ),
    }
)

DEFAULT_VERSION = "v1.3.1"
