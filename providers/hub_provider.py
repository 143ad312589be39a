"""What both dynamic providers (registrations, the hub's readiness) share: reaching the hub. Both are
constructed under providers/sdk_patches.py's `serialized_once`.

The provider object the engine pickles holds nothing: dill pickles each provider class by reference
(`providers.managed_cluster.ManagedClusterProvider`, `providers.hub_readiness.HubReadinessProvider`),
so those names are part of every stack's state. Hub access comes from the resource's secret
`hubKubeconfig` input when a composing program passes its own hub (OcmHub's `hub_kubeconfig`), else
from the stack's provider configuration (`kubernetes:kubeconfig`, `kubernetes:context`, else
KUBECONFIG), read in `configure`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import ConfigureRequest, ResourceProvider

from providers.kube import Kube, hub_client

HUB_KUBECONFIG = "hubKubeconfig"


class HubProvider(ResourceProvider):
    """A provider that works on the hub: the resource's own `hubKubeconfig`, else the stack's."""

    def configure(self, req: ConfigureRequest) -> None:
        # The SDK's provider server answers a failed call with `traceback.format_exc()`, which the engine
        # prints as the error. configure runs only in that server: no frames, so the error is our message.
        sys.tracebacklimit = 0
        self._hub_config = {
            "kubeconfig": req.config.get("kubernetes:kubeconfig"),
            "context": req.config.get("kubernetes:context"),
        }

    def hub(self, props: Mapping[str, Any]) -> Kube:
        kubeconfig = props.get(HUB_KUBECONFIG)
        return hub_client({"kubeconfig": kubeconfig} if kubeconfig else getattr(self, "_hub_config", {}))


def hub_access(props: Mapping[str, Any]) -> dict[str, Any]:
    """Kept in the outputs because delete and refresh receive only those; secret, like the input."""
    return {HUB_KUBECONFIG: props[HUB_KUBECONFIG]} if props.get(HUB_KUBECONFIG) else {}


def with_hub_kubeconfig(
    props: dict[str, Any], hub_kubeconfig: pulumi.Input[str] | None, opts: pulumi.ResourceOptions | None
) -> pulumi.ResourceOptions | None:
    """A composing program's own hub kubeconfig as a secret input (and output) of the resource."""
    if hub_kubeconfig is None:
        return opts
    props[HUB_KUBECONFIG] = pulumi.Output.secret(hub_kubeconfig)
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=[HUB_KUBECONFIG]))
