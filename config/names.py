"""Names and labels ocm-hub and vela agree on, and what a ManagedCluster name must be: plain Python, so the
provider process and `make up` (deploy/) read them without loading the config models (pydantic) or the
program."""

from __future__ import annotations

import re

# vela-core keeps its cluster Secrets here; its cluster-gateway reads them from here.
VELA_NAMESPACE = "vela-system"
CREDENTIAL_TYPE_LABEL = "cluster.core.oam.dev/cluster-credential-type"
CLUSTERSET_LABEL = "cluster.open-cluster-management.io/clusterset"
MAX_CONCURRENT_JOINS = 32
# The hub's ClusterManager, and its type as Pulumi records it in the state (deploy/ looks it up there).
CLUSTER_MANAGER_API_VERSION = "operator.open-cluster-management.io/v1"
CLUSTER_MANAGER_KIND = "ClusterManager"
CLUSTER_MANAGER_TYPE = f"kubernetes:{CLUSTER_MANAGER_API_VERSION}:{CLUSTER_MANAGER_KIND}"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def cluster_name_problem(name: str) -> str | None:
    """Why `name` cannot be a ManagedCluster (OCM makes a namespace of it), or None."""
    if len(name) > 63:
        return f"is {len(name)} characters; a ManagedCluster name becomes a namespace, at most 63"
    if not _DNS1123_LABEL.match(name):
        return "must be a DNS-1123 label (lowercase letters, digits and '-'), since OCM makes a namespace of it"
    return None
