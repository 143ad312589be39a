"""Which vela clusters become OCM ManagedClusters, and how each one joins."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from config.model import DnsSubdomain, LabelKey, LabelValue, Model, Seconds, Switch
from config.selector import selector_problem
from config.urls import checked_url

# vela-core keeps its cluster Secrets here; its cluster-gateway reads them from here.
VELA_NAMESPACE = "vela-system"
CREDENTIAL_TYPE_LABEL = "cluster.core.oam.dev/cluster-credential-type"
CLUSTERSET_LABEL = "cluster.open-cluster-management.io/clusterset"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def cluster_name_problem(name: str) -> str | None:
    """Why `name` cannot be a ManagedCluster (OCM makes a namespace of it), or None."""
    if len(name) > 63:
        return f"is {len(name)} characters; a ManagedCluster name becomes a namespace, at most 63"
    if not _DNS1123_LABEL.match(name):
        return "must be a DNS-1123 label (lowercase letters, digits and '-'), since OCM makes a namespace of it"
    return None


def _cluster_name(value: str) -> str:
    problem = cluster_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _selector(value: str) -> str:
    problem = selector_problem(value)
    if problem:
        raise ValueError(f"is not a Kubernetes label selector (a=b, a!=b, a in (x,y), !a): {problem}")
    return value.strip()


def _pattern(value: str) -> str:
    if not re.match(r"^[a-z0-9.*?\[\]-]+$", value):
        raise ValueError("must be a secret name or a glob pattern of one (letters a-z, digits, '.', '-', '*', '?')")
    return value


def _https(value: str) -> str:
    return checked_url(value, ("https",))


ClusterName = Annotated[str, AfterValidator(_cluster_name)]
NamePattern = Annotated[str, AfterValidator(_pattern)]
Selector = Annotated[str, AfterValidator(_selector)]
HttpsUrl = Annotated[str, AfterValidator(_https)]
KlusterletMode = Literal["Default", "Hosted"]


class ClusterDefaults(Model):
    labels: dict[LabelKey, LabelValue] = {}
    cluster_set: ClusterName = "default"
    mode: KlusterletMode = "Default"


class ClusterEntry(Model):
    """One vela cluster, by its secret name, with optional per-cluster settings."""

    name: DnsSubdomain = Field(description="Name of the vela cluster Secret.")
    managed_cluster_name: ClusterName | None = None
    labels: dict[LabelKey, LabelValue] = {}
    cluster_set: ClusterName | None = None
    mode: KlusterletMode | None = None
    import_: Switch = Field(
        default=False,
        alias="import",
        description="Adopt a ManagedCluster ocm-hub registered before (state lost): read it instead of creating it.",
    )
    allow_insecure: Switch = Field(
        default=False,
        description="Register this cluster although its vela Secret has no CA (vela's insecure cluster).",
    )


class RegistrationConfig(Model):
    discover: Switch = False
    secret_namespace: DnsSubdomain = VELA_NAMESPACE
    include: list[NamePattern] = Field(default=[], description="Discovered secret names (globs) to keep; all if empty.")
    exclude: list[NamePattern] = Field(default=[], description="Secret names (globs) never registered.")
    selector: Selector | None = None
    clusters: list[ClusterEntry] = Field(
        default=[], description="Clusters registered even without discover, and overrides."
    )
    defaults: ClusterDefaults = ClusterDefaults()
    hub_api_server: HttpsUrl | None = Field(
        default=None, description="Hub API URL the agents dial; defaults to the hub kubeconfig's server."
    )
    join_timeout: Seconds = 900
    wait_for_addons: Switch = Field(
        default=True, description="Wait until each enabled addon is Available on each cluster a run registers."
    )
    addon_timeout: Seconds = 600
    strict: Switch = Field(
        default=False,
        description="Stop on any unusable discovered Secret instead of skipping it (all or nothing).",
    )

    @property
    def active(self) -> bool:
        return self.discover or bool(self.clusters)
