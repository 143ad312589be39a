"""What both dynamic providers (registrations, the hub's readiness) share: reaching the hub, and being
serialized once per program.

The provider object the engine pickles holds nothing: dill pickles each provider class by reference
(`providers.managed_cluster.ManagedClusterProvider`, `providers.hub_readiness.HubReadinessProvider`),
so those names are part of every stack's state. Hub access comes from the resource's secret
`hubKubeconfig` input when a composing program passes its own hub (OcmHub's `hub_kubeconfig`), else
from the stack's provider configuration (`kubernetes:kubeconfig`, `kubernetes:context`, else
KUBECONFIG), read in `configure`.
"""

from __future__ import annotations

import contextlib
import pickle
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi
import pulumi.dynamic.dynamic as dynamic_module
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


_PICKLER_LOCK = threading.Lock()
_SERIALIZED: dict[type, str] = {}


@contextlib.contextmanager
def pickler_restored() -> Iterator[None]:
    """Undo what `serialize_provider` leaves behind on `pickle._Pickler`.

    pulumi 3.272's `serialize_provider` wraps `pickle._Pickler._batch_setitems` on every dynamic
    resource and never unwraps it, so each construction nests one more wrapper: quadratic cost, then
    RecursionError past ~300 resources (../shared/research/pulumi-dynamic-scale.md). Restoring the
    class attributes after each serialization keeps it one wrapper deep.
    """
    pickler: Any = pickle._Pickler
    saved = {name: pickler.__dict__[name] for name in ("_batch_setitems", "save_dict") if name in pickler.__dict__}
    with _PICKLER_LOCK:
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(pickler, name, value)


@contextlib.contextmanager
def serialized_once() -> Iterator[None]:
    """Serialize each provider class once per program instead of once per resource.

    Our providers hold no state until the engine configures them, so every instance pickles to the
    same bytes; `pulumi.dynamic.Resource` looks `serialize_provider` up at call time, so swapping in
    a cached one for the duration of a construction is enough. 1,000 registrations then cost one
    dill serialization, not 1,000.
    """
    original = dynamic_module.serialize_provider

    def cached(provider: ResourceProvider) -> str:
        key = type(provider)
        if key not in _SERIALIZED:
            with pickler_restored():
                _SERIALIZED[key] = original(provider)
        return _SERIALIZED[key]

    dynamic_module.serialize_provider = cached
    try:
        yield
    finally:
        dynamic_module.serialize_provider = original


def with_hub_kubeconfig(
    props: dict[str, Any], hub_kubeconfig: pulumi.Input[str] | None, opts: pulumi.ResourceOptions | None
) -> pulumi.ResourceOptions | None:
    """A composing program's own hub kubeconfig as a secret input (and output) of the resource."""
    if hub_kubeconfig is None:
        return opts
    props[HUB_KUBECONFIG] = pulumi.Output.secret(hub_kubeconfig)
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=[HUB_KUBECONFIG]))
