"""A platform stack that composes ocm-hub: its own Kubernetes provider for the hub cluster, KubeVela's
namespace, the OCM hub on top, and the hub's outputs used by the rest of the platform.

Run from a checkout of ocm-hub with the repository root on PYTHONPATH (see the README, Composition).
"""

import pulumi
import pulumi_kubernetes as k8s

from components import OcmHub

platform = pulumi.Config("platform")
hub_kubeconfig = platform.require_secret("hubKubeconfig")
hub_cluster = k8s.Provider("hub-cluster", kubeconfig=hub_kubeconfig)

vela = k8s.core.v1.Namespace(
    "vela-system", metadata={"name": "vela-system"}, opts=pulumi.ResourceOptions(provider=hub_cluster)
)

hub = OcmHub(
    "platform-ocm",
    {
        "operator": {"replicas": 1},
        "addons": {"cluster_proxy": {"enabled": True}, "managed_service_account": {"enabled": True}},
        "registration": {"clusters": [{"name": "edge-1", "labels": {"platform": "edge"}}]},
        # The registration provider reaches the hub with the platform's kubeconfig, not the stack's config.
        "hub_kubeconfig": hub_kubeconfig,
    },
    pulumi.ResourceOptions(providers={"kubernetes": hub_cluster}, depends_on=[vela]),
)

# The rest of the platform waits for a ready hub, and tells its users which images run there.
k8s.core.v1.ConfigMap(
    "platform-ocm-facts",
    metadata={"name": "ocm-hub-facts", "namespace": vela.metadata.name},
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
