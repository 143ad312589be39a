"""The registration provider against real API servers: the local hub and managed-1 (or the hub named by
OCM_HUB_TEST_KUBECONFIG), driven through the SDK's dynamic-provider server as the engine does.

What is real here: authentication of the bootstrap token (the CSR's username is the server's, not
ours), the least-privilege bootstrap role (the agent stand-in creates its CSR with that token only),
approval and signing by kube-controller-manager, server-side apply of upstream's klusterlet
manifests against real schemas, and field ownership (a label dropped from config is removed).
What the OCM agents would do after that — report Joined/Available — is played by the stand-in below,
so these checks need no OCM; test_ocm_live.py joins through the real agents.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from providers import klusterlet as kl
from providers.kube import Kube, KubeError
from tests.e2e.conftest import Cluster
from tests.e2e.kubeutil import wait_for

CLUSTER = "managed-1"
CRDS = (
    "ocm/v1.3.1/api-crds/cluster/v1/0000_00_clusters.open-cluster-management.io_managedclusters.crd.yaml",
    "ocm/v1.3.1/api-crds/cluster/v1beta2/0000_00_clusters.open-cluster-management.io_managedclustersets.crd.yaml",
    "ocm/v1.3.1/api-crds/addon/v1alpha1/0000_01_addon.open-cluster-management.io_managedclusteraddons.crd.yaml",
)
MC_PATH = f"/apis/cluster.open-cluster-management.io/v1/managedclusters/{CLUSTER}"
RBAC_BOUND = 30.0  # seconds for a new binding to reach the API server's authorizer


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


@pytest.fixture(scope="module")
def prepared_hub(hub: Cluster, shared_dir: Path) -> Cluster:
    """The hub as ocm-hub leaves it before registration: OCM CRDs, namespaces and the bootstrap role."""
    for relative in CRDS:
        crd = yaml.safe_load((shared_dir / relative).read_text())
        crd.pop("status", None)
        hub.client.apply(crd)
        wait_for(
            hub.client,
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}",
            lambda obj: any(
                c["type"] == "Established" and c["status"] == "True"
                for c in (obj.get("status") or {}).get("conditions") or []
            ),
            timeout=60,
            what="CRD Established",
        )
    for namespace in ("vela-system", "open-cluster-management"):
        hub.client.apply(kl.namespace(namespace))
    hub.client.apply(kl.bootstrap_role())
    return hub


def _allowed_within(call: Callable[[], object], bound: float) -> None:
    """The API server authorizes from its RBAC informers: a binding just made is seen a moment later
    (seconds on a loaded machine). A 403 past the bound is the answer."""
    deadline = time.monotonic() + bound
    while True:
        try:
            call()
            return
        except KubeError as err:
            if err.status != 403 or time.monotonic() >= deadline:
                raise
        time.sleep(0.5)


def test_bootstrap_identity_cannot_do_more_than_bootstrap(prepared_hub: Cluster, tmp_path: Path) -> None:
    """The token the agent gets may ask for a certificate, and nothing else of note."""
    hub = prepared_hub.client
    for obj in kl.bootstrap_objects("probe"):
        hub.apply(obj)
    try:
        token = hub.post(
            f"/api/v1/namespaces/open-cluster-management/serviceaccounts/{kl.bootstrap_account('probe')}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}},
        )["status"]["token"]
        config = yaml.safe_load(prepared_hub.kubeconfig.read_text())
        config["users"][0]["user"] = {"token": token}
        bootstrap = Kube.from_kubeconfig(config)
        _allowed_within(lambda: bootstrap.list("certificates.k8s.io/v1", "CertificateSigningRequest"), RBAC_BOUND)
        for method, path in (
            ("GET", "/api/v1/namespaces/vela-system/secrets"),
            ("DELETE", f"{MC_PATH}"),
            ("GET", "/api/v1/namespaces/kube-system/secrets"),
        ):
            with pytest.raises(KubeError) as caught:
                bootstrap.request(method, path)
            assert caught.value.status == 403, (method, path)
    finally:
        for obj in kl.bootstrap_objects("probe"):
            hub.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))
