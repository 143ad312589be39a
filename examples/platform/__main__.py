"""A platform stack that composes ocm-hub: its own Kubernetes provider for the hub cluster, its own
namespace, the OCM hub on top, and the hub's outputs used by the rest of the platform.

Run from a checkout of ocm-hub with the repository root on PYTHONPATH (see the README, Composition).
Config (namespace `platform`): `hubKubeconfig` (secret), `clusters` (the vela clusters to register),
`addons` (as a stack file's `ocm-hub:addons`; default cluster-proxy and managed-serviceaccount from the
published chart repository), `waitForAddons`
(default true) and `allowTeardown` (default false).
"""

import pulumi
import pulumi_kubernetes as k8s

from components import OcmHub
from config.args import AddonsConfig, ClusterEntry

platform = pulumi.Config("platform")
hub_kubeconfig = platform.require_secret("hubKubeconfig")
hub_cluster = k8s.Provider("hub-cluster", kubeconfig=hub_kubeconfig)

namespace = k8s.core.v1.Namespace(
    "platform", metadata={"name": "platform"}, opts=pulumi.ResourceOptions(provider=hub_cluster)
)

DEFAULT_ADDONS: AddonsConfig = {"cluster_proxy": {"enabled": True}, "managed_service_account": {"enabled": True}}
addons: AddonsConfig = platform.get_object("addons") or DEFAULT_ADDONS
clusters: list[ClusterEntry] = [
    {"name": name, "labels": {"platform": "edge"}} for name in platform.get_object("clusters") or []
]
hub = OcmHub(
    "platform-ocm",
    {
        "operator": {"replicas": 1},
        "addons": addons,
        "registration": {"clusters": clusters, "wait_for_addons": platform.get_bool("waitForAddons") is not False},
        "allow_teardown": platform.get_bool("allowTeardown") or False,
        # The registration provider reaches the hub with the platform's kubeconfig, not the stack's config.
        "hub_kubeconfig": hub_kubeconfig,
    },
    pulumi.ResourceOptions(providers={"kubernetes": hub_cluster}),
)

# The rest of the platform waits for a ready hub, and tells its users which images run there.
k8s.core.v1.ConfigMap(
    "platform-ocm-facts",
    metadata={"name": "ocm-hub-facts", "namespace": namespace.metadata.name},
    data={
        "ready": hub.hub_ready.apply(str),
        "ocmVersion": hub.ocm_version,
        "registrationImage": hub.images["registration"],
    },
    opts=pulumi.ResourceOptions(provider=hub_cluster, depends_on=[hub]),
)

pulumi.export("hubReady", hub.hub_ready)
pulumi.export("hubConditions", hub.cluster_manager_conditions)
pulumi.export("addons", hub.addons)
pulumi.export("fleet", hub.fleet_summary)
pulumi.export("clusters", hub.clusters)
