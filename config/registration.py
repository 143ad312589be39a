"""Which vela clusters become OCM ManagedClusters, and how each one joins."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from config.model import Count, DnsSubdomain, LabelKey, LabelValue, Model, Seconds, Switch
from config.names import MAX_CONCURRENT_JOINS, VELA_NAMESPACE, cluster_name_problem
from config.selector import selector_problem
from config.urls import checked_url


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
    """Settings of every registered cluster that its entry does not override."""

    labels: dict[LabelKey, LabelValue] = {}
    """Labels set on every ManagedCluster."""
    cluster_set: ClusterName = "default"
    """ManagedClusterSet of every ManagedCluster; created unless it is default or global."""
    mode: KlusterletMode = "Default"
    """Klusterlet mode: Default (agents on the managed cluster) or Hosted (agents on the hub)."""


class ClusterEntry(Model):
    """One vela cluster, by its secret name, with optional per-cluster settings."""

    name: DnsSubdomain
    """Name of the vela cluster Secret (required)."""
    managed_cluster_name: ClusterName | None = None
    """ManagedCluster name; defaults to the secret name, which must then be a DNS-1123 label."""
    labels: dict[LabelKey, LabelValue] = {}
    """Labels of this ManagedCluster, over the defaults."""
    cluster_set: ClusterName | None = None
    """ManagedClusterSet of this cluster, over the default."""
    mode: KlusterletMode | None = None
    """Klusterlet mode of this cluster, over the default."""
    import_: Switch = Field(default=False, alias="import")
    """Adopt a ManagedCluster ocm-hub registered before (state lost): read it instead of creating it."""
    allow_insecure: Switch = False
    """Register this cluster although its vela Secret has no CA (vela's insecure cluster): TLS is not verified,
    and every preview warns."""


class RegistrationConfig(Model):
    """Which of vela's clusters become OCM ManagedClusters, and how."""

    discover: Switch = False
    """Register every vela cluster Secret found on the hub, filtered by include, exclude and selector."""
    secret_namespace: DnsSubdomain = VELA_NAMESPACE
    """Namespace of vela's cluster Secrets."""
    include: list[NamePattern] = []
    """Discovered secret names (globs) to keep; all if empty."""
    exclude: list[NamePattern] = []
    """Discovered secret names (globs) never registered."""
    selector: Selector | None = None
    """Label selector the discovered Secrets must match, parsed as the API server parses one: `a=b`, `a!=b`,
    `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>3`."""
    clusters: list[ClusterEntry] = []
    """Clusters registered even without discover, and per-cluster overrides."""
    defaults: ClusterDefaults = ClusterDefaults()
    """Settings of every cluster its entry does not override."""
    hub_api_server: HttpsUrl | None = None
    """https URL of the hub API the agents dial (a host, no query or fragment, no `user:password@`: refused without
    showing it); defaults to the hub kubeconfig's server. A change updates each registration: its agents get a
    new bootstrap kubeconfig, bootstrap again, and the update waits (joinTimeout) until they dial the new URL."""
    join_timeout: Seconds = 900
    """Bound on each join and unjoin wait: a duration such as 15m, or seconds; 30s to 6h. A setting: changing it
    updates no registration (each uses it from its next create or update)."""
    wait_for_addons: Switch = True
    """Wait until each enabled addon is Available on each cluster a run registers. A setting, as joinTimeout."""
    addon_timeout: Seconds = 600
    """Bound on the wait for a cluster's addons: a duration such as 10m, or seconds; 30s to 6h. A setting, as
    joinTimeout."""
    strict: Switch = False
    """Stop the run on any unusable discovered Secret instead of skipping it (all or nothing)."""
    max_concurrent_joins: Annotated[Count, Field(ge=1, le=256)] = MAX_CONCURRENT_JOINS
    """How many registrations join or unjoin at once, 1 to 256 (the engine's `--parallel`, 4 per core by default,
    bounds them too: set it or PULUMI_PARALLEL as high); calls to the hub share one rate limit whatever this is.
    A setting, as joinTimeout."""

    @property
    def active(self) -> bool:
        return self.discover or bool(self.clusters)
