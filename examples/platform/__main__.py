"""A platform stack that composes ocm-hub: its own Kubernetes provider for the hub cluster, KubeVela's
namespace, the OCM hub on top, and the hub's outputs used by the rest of the platform.

Run from a checkout of ocm-hub with the repository root on PYTHONPATH (see the README, Composition).
"""

import pulumi
import pulumi_kubernetes as k8s

from components import OcmHub
from config import StackConfig
from config.addons import AddonConfig, AddonsConfig
from config.model import OperatorConfig

platform = pulumi.Config("platform")
hub_cluster = k8s.Provider("hub-cluster", kubeconfig=platform.require_secret("hubKubeconfig"))

vela = k8s.core.v1.Namespace(
    "vela-system", metadata={"name": "vela-system"}, opts=pulumi.ResourceOptions(provider=hub_cluster)
)

hub = OcmHub(
    "platform-ocm",
    StackConfig(
        operator=OperatorConfig(replicas=1),
        addons=AddonsConfig(cluster_proxy=AddonConfig(enabled=True), managed_service_account=AddonConfig(enabled=True)),
    ),
    pulumi.ResourceOptions(providers={"kubernetes": hub_cluster}, depends_on=[vela]),
)

# The rest of the platform waits for a ready hub, and tells its users which images run there.
k8s.core.v1.ConfigMap(
    "platform-ocm-facts",
    metadata={"name": "ocm-hub-facts", "namespace": vela.metadata.name},
    data={
        "ready": hub.ready.apply(str),
        "ocmVersion": hub.ocm_version,
        "registrationImage": hub.images["registration"],
    },
    opts=pulumi.ResourceOptions(provider=hub_cluster, depends_on=[hub]),
)

pulumi.export("hubReady", hub.ready)
pulumi.export("hubConditions", hub.conditions)
pulumi.export("addons", hub.addon_status)
