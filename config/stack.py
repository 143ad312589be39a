"""The whole `ocm-hub:` namespace of a stack, and the values derived from it in one place."""

from __future__ import annotations

import re
from typing import cast

from pydantic import Field

from config.addons import (
    ADDON_NAMESPACE,
    CHARTS,
    AddonsConfig,
    Release,
    gateway_defaults,
    image_defaults,
    merge,
    placement_defaults,
)
from config.args import OcmHubArgs
from config.model import ClusterManagerConfig, DnsSubdomain, ImagesConfig, Model, OperatorConfig, Seconds, Switch
from config.registration import RegistrationConfig
from config.versions import DEFAULT_REGISTRY, DEFAULT_VERSION, IMAGE_NAMES, RELEASES


class StackConfig(Model):
    """Everything under the `ocm-hub:` namespace of a stack."""

    ocm_version: str = Field(
        default=DEFAULT_VERSION,
        description=f"OCM release, {' or '.join(RELEASES)}; selects the version bundle (`config/releases/`): image "
        "tags, known feature gates, every upstream object and the klusterlet of every registration.",
    )
    images: ImagesConfig = ImagesConfig()
    """Image registry, tag, pull policy and per-component overrides."""
    image_pull_secrets: list[DnsSubdomain] = []
    """More Secrets in the operator namespace to pull the images with; upstream's
    open-cluster-management-image-pull-credentials is always listed."""
    operator: OperatorConfig = OperatorConfig()
    """The cluster-manager operator Deployment."""
    cluster_manager: ClusterManagerConfig = ClusterManagerConfig()
    """The ClusterManager custom resource."""
    addons: AddonsConfig = AddonsConfig()
    """Addon Helm releases on the hub."""
    registration: RegistrationConfig = RegistrationConfig()
    """Vela clusters registered as ManagedClusters."""
    readiness_timeout: Seconds = 600
    """Bound on the operator's rollout and on the wait until the hub is ready: a duration such as 90s, 10m or 1h30m,
    or seconds; 30s to 6h."""
    allow_teardown: Switch = False
    """Let `pulumi destroy` remove the hub. When false, the ClusterManager CRD and CR and the registrations survive
    it and the operator never removes the hub CRDs, so the fleet cannot be wiped by accident."""

    def args(self) -> OcmHubArgs:
        """These settings as OcmHub's arguments: only what differs from the defaults, so they validate back
        to an equal StackConfig."""
        return cast(OcmHubArgs, self.model_dump(exclude_defaults=True))

    def image(self, key: str) -> str:
        """The image actually deployed for a component, by its config key (see IMAGE_NAMES)."""
        override: str | None = getattr(self.images.overrides, _snake(key))
        if override:
            return override
        return f"{self.images.registry}/{IMAGE_NAMES[key]}:{self.images.tag or self.ocm_version}"

    def all_images(self) -> dict[str, str]:
        return {key: self.image(key) for key in IMAGE_NAMES}

    def addon_releases(self) -> list[Release]:
        """Enabled addons as Helm releases: chart defaults, then ocm-hub's, then the stack's values."""
        registry = self.images.registry if self.images.registry != DEFAULT_REGISTRY else None
        releases = []
        enabled = self.addons.enabled()
        for key, addon in enabled.items():
            chart = CHARTS[key]
            ours = merge(image_defaults(key, registry), gateway_defaults() if key == "clusterGateway" else {})
            ours = merge(ours, placement_defaults(key, enabled))
            releases.append(
                Release(
                    key=key,
                    chart=chart.chart,
                    version=addon.version or chart.default_version,
                    repository=addon.repository or self.addons.repository,
                    namespace=ADDON_NAMESPACE,
                    values=merge(ours, addon.values),
                    timeout_seconds=addon.timeout,
                )
            )
        return releases


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
