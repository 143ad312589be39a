"""Optional OCM addons, installed as Helm releases: their config, chart facts and rules.

Chart facts (names, default versions, known top-level values) come from the published charts
copied into config/charts/ (see PROVENANCE.md there), so values can be checked before any resource.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from config import safe_yaml
from config.model import Model, Seconds, Switch
from config.names import VELA_NAMESPACE
from config.urls import LOOPBACK_HOSTS, checked_url

ADDON_NAMESPACE = "open-cluster-management-addon"
DEFAULT_REPOSITORY = "https://open-cluster-management.io/helm-charts"
CHARTS_DIR = Path(__file__).parent / "charts"

_SEMVER = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


@dataclass(frozen=True)
class Chart:
    """One addon chart as published in the OCM Helm repository."""

    key: str  # config key under ocm-hub:addons
    chart: str  # chart name, also the Helm release name
    addon: str  # the ClusterManagementAddOn / ManagedClusterAddOn name the chart installs
    default_version: str
    subcharts: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()

    @property
    def values_file(self) -> Path:
        return CHARTS_DIR / f"{self.chart}-{self.default_version}.values.yaml"


CHARTS: Mapping[str, Chart] = MappingProxyType(
    {
        "clusterProxy": Chart(
            "clusterProxy", "cluster-proxy", "cluster-proxy", "0.11.0", subcharts=("cluster-proxy-common",)
        ),
        "managedServiceAccount": Chart(
            "managedServiceAccount", "managed-serviceaccount", "managed-serviceaccount", "0.10.0"
        ),
        "clusterGateway": Chart(
            "clusterGateway",
            "cluster-gateway-addon-manager",
            "cluster-gateway",
            "1.4.0",
            requires=("clusterProxy", "managedServiceAccount"),
        ),
    }
)


@cache
def chart_value_keys(key: str) -> frozenset[str]:
    """Top-level keys the chart's values.yaml declares (plus subchart names and `global`)."""
    chart = CHARTS[key]
    values: dict[str, Any] = safe_yaml.load(chart.values_file.read_text(), str(chart.values_file)) or {}
    return frozenset(values) | frozenset(chart.subcharts) | {"global"}


def _version(value: str) -> str:
    if not _SEMVER.match(value):
        raise ValueError("must be a chart version such as 0.11.0")
    return value


def _repository(value: str) -> str:
    """https:// or oci:// only: a chart fetched over plain http can be swapped on the way. A mirror on
    this machine's loopback (the local clusters' chart repository) is the exception: nothing travels
    a network there."""
    if urlsplit(value).hostname in LOOPBACK_HOSTS:
        return checked_url(value, ("https", "oci", "http"))
    return checked_url(value, ("https", "oci"))


ChartVersion = Annotated[str, AfterValidator(_version)]
Repository = Annotated[str, AfterValidator(_repository)]


class AddonConfig(Model):
    """One addon's Helm release on the hub."""

    enabled: Switch = False
    """Install this addon; clusterGateway needs clusterProxy and managedServiceAccount enabled too."""
    version: ChartVersion | None = Field(
        default=None,
        description="Chart version; defaults to the one ocm-hub ships facts for (`config/charts/`): "
        + ", ".join(f"{key} {chart.default_version}" for key, chart in CHARTS.items())
        + ".",
    )
    repository: Repository | None = None
    """Helm repository of this addon; defaults to addons.repository."""
    values: dict[str, Any] = {}
    """Helm values over ocm-hub's defaults; top-level keys must exist in the chart's values.yaml (or be a subchart
    or `global`). The only values that may be `secure:`."""
    timeout: Seconds = 600
    """Helm release timeout: a duration such as 10m, or seconds; 30s to 6h."""


class AddonsConfig(Model):
    """The addon Helm releases, installed once the hub is ready."""

    repository: Repository = DEFAULT_REPOSITORY
    """Helm repository of every addon: https:// or oci:// (plain http:// only on the loopback), with a host, no
    query or fragment, and no `user:password@` (refused without showing it)."""
    cluster_proxy: AddonConfig = AddonConfig()
    """The cluster-proxy addon."""
    managed_service_account: AddonConfig = AddonConfig()
    """The managed-serviceaccount addon."""
    cluster_gateway: AddonConfig = AddonConfig()
    """KubeVela's cluster-gateway addon manager (needs clusterProxy and managedServiceAccount)."""

    def by_key(self) -> dict[str, AddonConfig]:
        return {
            "clusterProxy": self.cluster_proxy,
            "managedServiceAccount": self.managed_service_account,
            "clusterGateway": self.cluster_gateway,
        }

    def enabled(self) -> dict[str, AddonConfig]:
        return {key: addon for key, addon in self.by_key().items() if addon.enabled}


@dataclass(frozen=True)
class Release:
    """A resolved Helm release: what the component declares and the render shows."""

    key: str
    chart: str
    version: str
    repository: str
    namespace: str
    values: Mapping[str, Any]
    timeout_seconds: int


def gateway_defaults() -> dict[str, Any]:
    """cluster-gateway addon-manager values that keep every vela cluster reachable.

    The addon-manager re-points APIService v1alpha1.cluster.core.oam.dev at the gateway it runs in
    `installNamespace`, and `vela cluster` derives its secret namespace from that Service. With both
    namespaces `vela-system`, vela keeps writing and the new gateway keeps reading the same secrets.
    Manual secret management stops the addon-manager from writing its own secrets over vela's, and
    direct egress reaches clusters the way vela-core's gateway does today.
    """
    return {
        "clusterGateway": {"installNamespace": VELA_NAMESPACE, "secretNamespace": VELA_NAMESPACE},
        "manualSecretManagement": True,
        "konnectivityEgress": False,
    }


def placement_defaults(key: str, enabled: Collection[str]) -> dict[str, Any]:
    """cluster-proxy installs by managed-serviceaccount's Placement when both are on.

    Both charts create ManagedClusterSetBinding `global` in the release namespace, and Helm lets only
    one release own an object: the second install fails ("exists and cannot be imported into the
    current release"). managed-serviceaccount's chart also declares Placement `global` (the global
    cluster set, as cluster-proxy's own placement selects); named as cluster-proxy's placement, the
    cluster-proxy chart renders neither its binding nor its placement.
    """
    if key == "clusterProxy" and "managedServiceAccount" in enabled:
        return {"installByPlacement": {"placementName": "global", "placementNamespace": ADDON_NAMESPACE}}
    return {}


def image_defaults(key: str, registry: str | None) -> dict[str, Any]:
    """Point the OCM addon images at the hub's registry override, where the chart lets us."""
    if registry is None:
        return {}
    if key == "clusterProxy":
        image = f"{registry}/cluster-proxy"
        return {"registry": registry, "proxyServerImage": image, "proxyAgentImage": image}
    if key == "managedServiceAccount":
        return {"image": f"{registry}/managed-serviceaccount"}
    return {}


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's own rule: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged
