"""A Python platform program composing OcmHub through the SDK `pulumi package add` generates from
ocm-hub's package/ (no checkout on PYTHONPATH). `make e2e` type-checks it with mypy against the SDK
generated from the package (tests/e2e/test_sdks.py), so a schema change that breaks it fails there.
"""

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_ocm_hub as ocm

platform = pulumi.Config("platform")
hub_kubeconfig = platform.require_secret("hubKubeconfig")
hub_cluster = k8s.Provider("hub-cluster", kubeconfig=hub_kubeconfig)

hub = ocm.OcmHub(
    "platform-ocm",
    operator=ocm.OperatorConfigArgs(replicas=1),
    addons=ocm.AddonsConfigArgs(cluster_proxy=ocm.AddonConfigArgs(enabled=True)),
    registration=ocm.RegistrationConfigArgs(
        clusters=[ocm.ClusterEntryArgs(name="managed-1", labels={"platform": "edge"})], wait_for_addons=False
    ),
    readiness_timeout="5m",
    allow_teardown=False,
    hub_kubeconfig=hub_kubeconfig,
    opts=pulumi.ResourceOptions(providers={"kubernetes": hub_cluster}),
)

ready: pulumi.Output[bool] = hub.hub_ready
reasons: pulumi.Output[Sequence[str]] = hub.not_ready_reasons
pulumi.export("hubReady", ready)
pulumi.export("notReadyReasons", reasons)
pulumi.export("ocmVersion", hub.ocm_version)
pulumi.export("fleetSummary", hub.fleet_summary)
