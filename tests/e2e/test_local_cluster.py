"""Stage 1 of the end-to-end harness: the local clusters are real enough for OCM.

Each test checks one thing later stages rely on: live API servers at the pinned release, reachable
only from this machine; workloads that become Available (scheduler, controller-manager and kwok
node working together); client certificates issued through CSRs (how OCM agents authenticate to
the hub); and OCM's ClusterManager CRD served with its schema enforced.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import sandbox.clusters
from providers.kube import Kube, KubeError

from .conftest import Cluster
from .kubeutil import condition, get, wait_for, wait_gone

CRD_NAME = "clustermanagers.operator.open-cluster-management.io"
CRD_DIR = "ocm/v1.3.1/operator/cluster-manager/config/crds"
CRD_FILE = f"{CRD_DIR}/0000_01_operator.open-cluster-management.io_clustermanagers.crd.yaml"
CLUSTER_MANAGERS = "/apis/operator.open-cluster-management.io/v1/clustermanagers"
DRY_RUN = {"dryRun": "All"}
TIMEOUT = 60.0


@pytest.fixture(params=sandbox.clusters.CLUSTERS)
def cluster(request: pytest.FixtureRequest, clusters: dict[str, Cluster]) -> Cluster:
    return clusters[str(request.param)]


@pytest.fixture
def namespace(hub: Cluster) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    hub.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    hub.client.delete("v1", "Namespace", name)


def test_api_server_is_ready_at_pinned_version(cluster: Cluster) -> None:
    cluster.client.request("GET", "/readyz")  # 200 only when every readiness check passes
    version = cluster.client.request("GET", "/version")
    if cluster.local:
        assert version["gitVersion"] == sandbox.clusters.kube_version()
    else:
        assert version["gitVersion"].startswith("v1.")


def test_cluster_listens_on_loopback_only(cluster: Cluster) -> None:
    if not cluster.local:
        pytest.skip("an external cluster's listeners are not ours to check")
    pids = sandbox.clusters.component_pids(cluster.name)
    assert set(pids) == set(sandbox.clusters.COMPONENTS), "every component should be running"
    listeners = {component: _listening_addresses(pid) for component, pid in pids.items()}
    assert all(listeners.values()), f"every component should listen somewhere: {listeners}"
    exposed = {
        component: sorted(f"{ip}:{port}" for ip, port in addrs if ip != "127.0.0.1")
        for component, addrs in listeners.items()
    }
    assert not any(exposed.values()), f"listening beyond 127.0.0.1: {exposed}"
    api_port = int(cluster.client.server.rsplit(":", 1)[1])
    assert ("127.0.0.1", api_port) in listeners["kube-apiserver"]


def test_deployment_becomes_available(hub: Cluster, namespace: str) -> None:
    hub.client.create(_deployment("web", namespace, replicas=2))
    deployment = wait_for(
        hub.client,
        hub.client.path("apps/v1", "Deployment", "web", namespace),
        lambda d: condition(d, "Available") == "True" and d["status"].get("availableReplicas") == 2,
        timeout=TIMEOUT,
        what="Deployment web Available with 2 replicas",
    )
    assert deployment["status"]["readyReplicas"] == 2
    pods = hub.client.request("GET", f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": "app=web"})["items"]
    assert {pod["spec"].get("nodeName") for pod in pods} == {sandbox.clusters.FAKE_NODE}
    assert {pod["status"].get("phase") for pod in pods} == {"Running"}


def test_approved_client_csr_is_signed_and_authenticates(hub: Cluster, tmp_path: Path) -> None:
    key, csr_pem = tmp_path / "agent.key", tmp_path / "agent.csr"
    user = f"e2e-agent-{uuid.uuid4().hex[:8]}"
    openssl = ["openssl", "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    subj = f"/O=e2e/CN={user}"
    subprocess.run([*openssl, "-keyout", key, "-out", csr_pem, "-subj", subj], check=True, capture_output=True)
    csr_path = hub.client.path("certificates.k8s.io/v1", "CertificateSigningRequest", user)
    hub.client.create(
        {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": user},
            "spec": {
                "request": base64.b64encode(csr_pem.read_bytes()).decode(),
                "signerName": "kubernetes.io/kube-apiserver-client",
                "usages": ["digital signature", "client auth"],
                "expirationSeconds": 3600,
            },
        },
    )
    try:
        csr = hub.client.request("GET", csr_path)
        csr["status"] = {
            "conditions": [
                {
                    "type": "Approved",
                    "status": "True",
                    "reason": "E2E",
                    "message": "approved by the e2e test",
                }
            ]
        }
        hub.client.put(f"{csr_path}/approval", csr)
        signed = wait_for(
            hub.client,
            csr_path,
            lambda c: bool(c.get("status", {}).get("certificate")),
            timeout=TIMEOUT,
            what="certificate issued for the approved CSR",
        )
    finally:
        hub.client.delete("certificates.k8s.io/v1", "CertificateSigningRequest", user)

    cert = tmp_path / "agent.crt"
    cert.write_bytes(base64.b64decode(signed["status"]["certificate"]))
    agent = Kube.from_file(str(_kubeconfig_with_client_cert(hub, cert, key, tmp_path)))
    review = agent.post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
        },
    )
    user_info = review["status"]["userInfo"]
    assert user_info["username"] == user
    assert "e2e" in user_info["groups"]


def test_cluster_manager_crd_is_established_and_enforces_its_schema(hub: Cluster, shared_dir: Path) -> None:
    """Create the CRD unless the hub has it already, and remove only what this test created."""
    crd = yaml.safe_load((shared_dir / CRD_FILE).read_text(encoding="utf-8"))
    assert crd["metadata"]["name"] == CRD_NAME
    crd_path = hub.client.path("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME)
    created = get(hub.client, crd_path) is None
    if created:
        hub.client.create(crd)
    try:
        wait_for(
            hub.client,
            crd_path,
            lambda c: condition(c, "Established") == "True",
            timeout=TIMEOUT,
            what=f"CRD {CRD_NAME} Established",
        )
        accepted = hub.client.request("POST", CLUSTER_MANAGERS, DRY_RUN, body=_cluster_manager(mode="Default"))
        assert accepted["spec"]["deployOption"]["mode"] == "Default"

        with pytest.raises(KubeError) as rejected:
            hub.client.request("POST", CLUSTER_MANAGERS, DRY_RUN, body=_cluster_manager(mode="Sideways"))
        assert rejected.value.status == 422
        assert rejected.value.reason == "Invalid"
        assert "spec.deployOption.mode" in str(rejected.value)
    finally:
        if created:
            hub.client.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME)
            wait_gone(hub.client, crd_path, timeout=TIMEOUT)


def _deployment(name: str, namespace: str, *, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                # kwok fakes the container lifecycle: the image is never pulled.
                "spec": {"containers": [{"name": name, "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    }


def _cluster_manager(*, mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "operator.open-cluster-management.io/v1",
        "kind": "ClusterManager",
        "metadata": {"name": "cluster-manager"},
        "spec": {"deployOption": {"mode": mode}},
    }


def _kubeconfig_with_client_cert(cluster: Cluster, cert: Path, key: Path, directory: Path) -> Path:
    source = yaml.safe_load(cluster.kubeconfig.read_text(encoding="utf-8"))
    context = next(c for c in source["contexts"] if c["name"] == source["current-context"])["context"]
    cluster_entry = next(c for c in source["clusters"] if c["name"] == context["cluster"])
    path = directory / "agent.kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster_entry],
                "users": [{"name": "agent", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
                "contexts": [{"name": "agent", "context": {"cluster": cluster_entry["name"], "user": "agent"}}],
                "current-context": "agent",
            }
        ),
        encoding="utf-8",
    )
    return path


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """TCP sockets in LISTEN state owned by pid, from /proc (Linux)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text(encoding="utf-8").splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:
                found.add(_decode_address(local))
    return found


def _decode_address(hex_address: str) -> tuple[str, int]:
    """/proc/net/tcp{,6} addresses are little-endian 32-bit words in hex, then the port."""
    ip_hex, port_hex = hex_address.split(":")
    raw = b"".join(bytes.fromhex(ip_hex[i : i + 8])[::-1] for i in range(0, len(ip_hex), 8))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address), int(port_hex, 16)
