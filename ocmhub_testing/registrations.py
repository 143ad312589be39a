"""A registration as the provider receives it, and the vela cluster Secret it refers to."""

from __future__ import annotations

from typing import Any

from ocmhub_testing.fakekube import FakeKube
from ocmhub_testing.pki import Pki, vela_secret
from providers import klusterlet as kl
from providers.registration import Registration

TOKEN = "vela-test-token-0123456789"
REGISTRATION_IMAGES = kl.Images(
    "quay.io/open-cluster-management/registration-operator:v1.3.1",
    "quay.io/open-cluster-management/registration:v1.3.1",
    "quay.io/open-cluster-management/work:v1.3.1",
)


def registration_inputs(
    cluster: str = "prod-eu", mode: str = "Default", timeout: int = 20, **changes: Any
) -> dict[str, Any]:
    """A ManagedClusterRegistration's inputs as the engine sends them; `changes` override spec keys."""
    reg = Registration(
        cluster=cluster,
        secret_namespace="vela-system",
        secret_name=cluster,
        endpoint=None,
        labels={"env": "prod"},
        cluster_set="default",
        mode="Hosted" if mode == "Hosted" else "Default",
        images=REGISTRATION_IMAGES,
        hub_api_server=None,
        timeout_seconds=timeout,
    )
    return {"spec": {**reg.props(), "mode": mode, **changes}}


def add_vela_cluster(
    hub: FakeKube, managed: FakeKube, pki: Pki, name: str = "prod-eu", kind: str = "X509Certificate"
) -> dict[str, Any]:
    """A vela cluster Secret on the hub for `managed`, with TOKEN as its token credential."""
    secret = vela_secret(name, managed.url, pki, kind, token=TOKEN)
    hub.put_object(secret)
    return secret
