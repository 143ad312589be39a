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
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from providers import klusterlet as kl
from providers.join import Registration
from providers.kube import Kube, KubeError
from tests.dynamic_server import DynamicServer, dynamic_server
from tests.e2e.conftest import Cluster
from tests.e2e.kubeutil import get, wait_for
from tests.e2e.kubeutil import vela_secret as vela_secret_of

CLUSTER = "managed-1"
CRDS = (
    "ocm/v1.3.1/api-crds/cluster/v1/0000_00_clusters.open-cluster-management.io_managedclusters.crd.yaml",
    "ocm/v1.3.1/api-crds/cluster/v1beta2/0000_00_clusters.open-cluster-management.io_managedclustersets.crd.yaml",
    "ocm/v1.3.1/api-crds/addon/v1alpha1/0000_01_addon.open-cluster-management.io_managedclusteraddons.crd.yaml",
)
MC_PATH = f"/apis/cluster.open-cluster-management.io/v1/managedclusters/{CLUSTER}"


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


@pytest.fixture(scope="module")
def vela_secret(prepared_hub: Cluster, managed: Cluster) -> dict[str, Any]:
    """managed-1 as `vela cluster join` records it."""
    secret = vela_secret_of(CLUSTER, managed.kubeconfig)
    prepared_hub.client.apply(secret)
    return secret


class AgentStandIn:
    """Bootstraps like the registration agent (its own CSR, with the bootstrap token), then reports
    what the agents would: Joined and Available (the real ones run in test_ocm_live.py)."""

    def __init__(self, hub: Kube, managed: Kube, workdir: Path) -> None:
        self.hub, self.managed, self.workdir = hub, managed, workdir
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.csr_name = ""
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> AgentStandIn:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stop.wait(0.3):
            try:
                if self._step():
                    return
            except Exception as err:  # reported to the test, which fails on it
                self.errors.append(repr(err))

    def _step(self) -> bool:
        secret = get(self.managed, f"/api/v1/namespaces/{kl.DEFAULT_AGENT_NAMESPACE}/secrets/{kl.BOOTSTRAP_SECRET}")
        if secret is None:
            return False
        if not self.csr_name:
            kubeconfig = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
            bootstrap = Kube.from_kubeconfig(kubeconfig)
            created = bootstrap.create(self._csr())
            self.csr_name = created["metadata"]["name"]
            return False
        csr = get(self.hub, f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{self.csr_name}")
        if not csr or not (csr.get("status") or {}).get("certificate"):
            return False
        live = get(self.hub, MC_PATH)
        if live is None:
            return False
        live["status"] = {
            "conditions": [
                {
                    "type": kind,
                    "status": "True",
                    "reason": reason,
                    "message": "agent stand-in",
                    "lastTransitionTime": "2026-11-23T00:00:00Z",
                }
                for kind, reason in (
                    ("HubAcceptedManagedCluster", "HubClusterAdminAccepted"),
                    ("ManagedClusterJoined", "ManagedClusterJoined"),
                    ("ManagedClusterConditionAvailable", "ManagedClusterAvailable"),
                )
            ]
        }
        self.hub.put(MC_PATH + "/status", live)
        return True

    def _csr(self) -> dict[str, Any]:
        subject = f"/O=system:open-cluster-management:{CLUSTER}/CN=system:open-cluster-management:{CLUSTER}:agent"
        subprocess.run(
            [
                "openssl",
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                subject,
                "-keyout",
                "agent.key",
                "-out",
                "agent.csr",
            ],
            cwd=self.workdir,
            check=True,
            capture_output=True,
            timeout=60,
        )
        return {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"generateName": f"{CLUSTER}-", "labels": {kl.CLUSTER_NAME_LABEL: CLUSTER}},
            "spec": {
                "request": _b64((self.workdir / "agent.csr").read_bytes()),
                "signerName": "kubernetes.io/kube-apiserver-client",
                "usages": ["digital signature", "key encipherment", "client auth"],
                "expirationSeconds": 3600,
            },
        }


@pytest.fixture
def provider(prepared_hub: Cluster, tmp_path: Path) -> Iterator[DynamicServer]:
    with dynamic_server(tmp_path / "provider.log") as server:
        server.configure({"kubernetes:kubeconfig": str(prepared_hub.kubeconfig)})
        yield server


def _inputs(labels: dict[str, str]) -> dict[str, Any]:
    images = kl.Images(
        "quay.io/open-cluster-management/registration-operator:v1.3.1",
        "quay.io/open-cluster-management/registration:v1.3.1",
        "quay.io/open-cluster-management/work:v1.3.1",
    )
    return {
        "spec": Registration(
            CLUSTER, "vela-system", CLUSTER, "", labels, "default", "Default", images, None, 120
        ).props()
    }


def test_join_update_and_unjoin_against_real_api_servers(
    provider: DynamicServer, prepared_hub: Cluster, managed: Cluster, vela_secret: dict[str, Any], tmp_path: Path
) -> None:
    hub = prepared_hub.client
    with AgentStandIn(hub, managed.client, tmp_path) as agent:
        id_, outs = provider.create(_inputs({"env": "e2e", "tier": "gold"}))
    assert agent.errors == []
    assert outs["status"]["joined"]["status"] == "True"
    assert outs["status"]["available"]["status"] == "True"

    csr = get(hub, f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{agent.csr_name}")
    assert csr is not None
    assert csr["spec"]["username"] == kl.bootstrap_username(CLUSTER)  # set by the server from the token
    assert [c["reason"] for c in csr["status"]["conditions"] if c["type"] == "Approved"] == ["ApprovedByOcmHub"]
    assert csr["status"].get("certificate")  # signed by kube-controller-manager

    deployment = get(managed.client, "/apis/apps/v1/namespaces/open-cluster-management/deployments/klusterlet")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":v1.3.1")
    klusterlet = get(managed.client, "/apis/operator.open-cluster-management.io/v1/klusterlets/klusterlet")
    assert klusterlet is not None
    assert klusterlet["spec"]["clusterName"] == CLUSTER

    updated = provider.update(id_, outs, _inputs({"env": "e2e"}))
    live = get(hub, MC_PATH)
    assert live is not None
    assert "tier" not in live["metadata"]["labels"]  # server-side apply drops what we no longer own
    assert live["metadata"]["labels"]["env"] == "e2e"

    _, read = provider.read(id_, updated)
    assert read["status"]["joined"]["status"] == "True"

    provider.delete(id_, updated)
    assert get(hub, MC_PATH) is None
    assert get(managed.client, "/apis/operator.open-cluster-management.io/v1/klusterlets/klusterlet") is None
    assert get(managed.client, "/apis/apps/v1/namespaces/open-cluster-management/deployments/klusterlet") is None
    assert (
        get(hub, f"/api/v1/namespaces/open-cluster-management/serviceaccounts/{kl.bootstrap_account(CLUSTER)}") is None
    )

    text = repr(outs) + repr(updated) + provider.log()
    for key in ("tls.key", "tls.crt"):
        assert base64.b64decode(vela_secret["data"][key]).decode() not in text


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
        bootstrap.list("certificates.k8s.io/v1", "CertificateSigningRequest")
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
