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
# The hub's ClusterManager, its CRD, the name upstream's sample gives it (the one the hub has), and its
# type as Pulumi records it in the state (deploy/ looks it up there). policy/rules.py spells the type and
# the CRD again: the policy pack runs as a folder of its own, without this package.
OPERATOR_GROUP = "operator.open-cluster-management.io"
CLUSTER_MANAGER_API_VERSION = f"{OPERATOR_GROUP}/v1"
CLUSTER_MANAGER_KIND = "ClusterManager"
CLUSTER_MANAGER_CRD = f"clustermanagers.{OPERATOR_GROUP}"
CLUSTER_MANAGER_NAME = "cluster-manager"
CLUSTER_MANAGER_TYPE = f"kubernetes:{CLUSTER_MANAGER_API_VERSION}:{CLUSTER_MANAGER_KIND}"

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def cluster_name_problem(name: str) -> str | None:
    """Why `name` cannot be a ManagedCluster (OCM makes a namespace of it), or None."""
    if len(name) > 63:
        return f"is {len(name)} characters; a ManagedCluster name becomes a namespace, at most 63"
    if not _DNS1123_LABEL.match(name):
        return "must be a DNS-1123 label (lowercase letters, digits and '-'), since OCM makes a namespace of it"
    return None
