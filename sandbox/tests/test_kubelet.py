"""The local clusters' kubelet without a cluster: volumes written as the kubelet writes them, args
pointed at the pod's directories, and Services resolved to the process behind them (a fake API server)."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocmhub_testing.fakekube import DEFAULT_NAMESPACES, FakeKube
from providers.kube import Kube
from sandbox import kubelet, podnet

NAMESPACE = "open-cluster-management-hub"
CLUSTER_IP = "10.96.0.12"
TIMEOUT = 10.0


def _deployment() -> dict[str, Any]:
    container = {
        "name": "webhook",
        "args": ["/registration", "webhook-server", "--tls-cert-file=/serving-cert/tls.crt", "--port=9443"],
        "ports": [{"containerPort": 9443, "name": "https"}],
        "volumeMounts": [
            {"name": "cert", "mountPath": "/serving-cert"},
            {"name": "config", "mountPath": "/etc/config/hub.yaml", "subPath": "hub.yaml"},
        ],
    }
    return {
        "metadata": {"name": "registration-webhook", "namespace": NAMESPACE},
        "spec": {
            "selector": {"matchLabels": {"app": "webhook"}},
            "template": {
                "metadata": {"labels": {"app": "webhook", "tier": "hub"}},
                "spec": {
                    "containers": [container],
                    "volumes": [
                        {"name": "cert", "secret": {"secretName": "webhook-cert"}},
                        {"name": "config", "configMap": {"name": "hub-config", "optional": True}},
                    ],
                },
            },
        },
    }


def _service(target_port: object = 9443, selector: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "registration-webhook", "namespace": NAMESPACE},
        "spec": {
            "clusterIP": CLUSTER_IP,
            "clusterIPs": [CLUSTER_IP, "fd00::12"],
            "ports": [{"port": 443, "targetPort": target_port}],
            "selector": selector if selector is not None else {"app": "webhook"},
        },
    }


def _secret(data: dict[str, bytes]) -> dict[str, Any]:
    encoded = {key: base64.b64encode(value).decode() for key, value in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "webhook-cert", "namespace": NAMESPACE},
        "data": encoded,
    }


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """Unix socket paths are limited to 107 bytes: a directory of their own under /tmp."""
    path = Path(tempfile.mkdtemp(prefix="kubelet-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube(namespaces=[*DEFAULT_NAMESPACES, NAMESPACE]) as kube:
        yield kube


@pytest.fixture
def cluster(fake: FakeKube, tmp_path: Path) -> kubelet.Cluster:
    path = fake.write_kubeconfig(tmp_path / "hub.kubeconfig")
    return kubelet.Cluster("hub", path, Kube.from_file(str(path)))


@pytest.fixture
def runtime(cluster: kubelet.Cluster, tmp_path: Path, short_dir: Path) -> Iterator[kubelet.Runtime]:
    """The runtime's bridges and egress proxy on real sockets; no Deployment runs (no runner started)."""
    runtime = kubelet.Runtime(tmp_path / "kubelet", {"hub": cluster}, {}, lambda name: short_dir / f"{name}.egress")
    try:
        yield runtime
    finally:
        runtime.close()


def _volume_files(directory: Path) -> dict[str, bytes]:
    """What the process sees: every file under the volume by its path, the `..` bookkeeping left out."""
    found = {}
    for top, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = [name for name in dirs if not name.startswith("..")]
        for name in files:
            path = Path(top) / name
            if not path.relative_to(directory).parts[0].startswith(".."):
                found[path.relative_to(directory).as_posix()] = path.read_bytes()
    return found


def test_a_volume_is_swapped_whole_through_its_data_link(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    kubelet._write_atomic(volume, {"tls.crt": b"one", "tls.key": b"key", "nested/ca.crt": b"ca"})
    first = (volume / "..data").resolve()
    assert _volume_files(volume) == {"tls.crt": b"one", "tls.key": b"key", "nested/ca.crt": b"ca"}
    assert all((volume / name).readlink() == Path("..data") / name for name in ("tls.crt", "tls.key", "nested"))
    kubelet._write_atomic(volume, {"tls.crt": b"two"})
    assert _volume_files(volume) == {"tls.crt": b"two"}, "keys no longer in the volume are gone"
    assert not first.exists(), "the previous content is removed once the link points at the new one"
    stamped = [p for p in volume.iterdir() if p.name.startswith("..") and not p.is_symlink()]
    assert stamped == [(volume / "..data").resolve()]


def test_a_secret_volume_follows_its_secret_and_waits_for_a_required_one(
    fake: FakeKube, cluster: kubelet.Cluster, tmp_path: Path
) -> None:
    volume = kubelet.Volume({"secret": {"secretName": "webhook-cert"}}, tmp_path / "cert")
    assert not volume.sync(cluster.client, NAMESPACE), "a pod does not start without its required Secret"
    fake.put_object(_secret({"tls.crt": b"cert-1", "tls.key": b"key-1"}))
    assert volume.sync(cluster.client, NAMESPACE)
    assert _volume_files(volume.path) == {"tls.crt": b"cert-1", "tls.key": b"key-1"}
    fake.put_object(_secret({"tls.crt": b"cert-2"}))
    assert volume.sync(cluster.client, NAMESPACE)
    assert _volume_files(volume.path) == {"tls.crt": b"cert-2"}


def test_a_config_map_volume_maps_items_and_an_optional_missing_one_is_empty(
    fake: FakeKube, cluster: kubelet.Cluster, tmp_path: Path
) -> None:
    source = {"configMap": {"name": "hub-config", "optional": True, "items": [{"key": "config", "path": "hub.yaml"}]}}
    volume = kubelet.Volume(source, tmp_path / "config")
    assert volume.sync(cluster.client, NAMESPACE)
    assert _volume_files(volume.path) == {}
    fake.put_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "hub-config", "namespace": NAMESPACE},
            "data": {"config": "mode: Default\n", "unlisted": "x"},
        }
    )
    assert volume.sync(cluster.client, NAMESPACE)
    assert _volume_files(volume.path) == {"hub.yaml": b"mode: Default\n"}


def test_args_under_a_mount_path_point_at_the_pods_directories(
    runtime: kubelet.Runtime, cluster: kubelet.Cluster
) -> None:
    pod = runtime.new_pod(cluster, _deployment())
    (container,) = pod.template["spec"]["containers"]
    root = pod.directory / "root"
    args = ["webhook-server", "--tls-cert-file=/serving-cert/tls.crt", "/serving-cert", "--port=9443"]
    args += ["--config=/etc/config/hub.yaml", "--other=/serving-certificates/x"]
    assert pod._rewrite(container, args) == [
        "webhook-server",
        f"--tls-cert-file={root}/serving-cert/tls.crt",
        f"{root}/serving-cert",
        "--port=9443",
        f"--config={root}/etc/config/hub.yaml",
        "--other=/serving-certificates/x",
    ]
    assert (root / "serving-cert").readlink() == pod.volumes["cert"].path
    assert (root / "etc/config/hub.yaml").readlink() == pod.volumes["config"].path / "hub.yaml"
    assert (root / "tmp").is_dir(), "TMPDIR of the pod"


def test_the_registration_agent_is_told_where_its_hub_kubeconfig_is_mounted() -> None:
    agent = ["agent", "--bootstrap-kubeconfig=/spoke/bootstrap/kubeconfig"]
    assert kubelet.Runtime.mount_defaults(agent) == ["--hub-kubeconfig-dir=/spoke/hub-kubeconfig"]
    assert kubelet.Runtime.mount_defaults([*agent, "--hub-kubeconfig-dir=/elsewhere"]) == []
    assert kubelet.Runtime.mount_defaults(["agent", "--cluster-name=managed-1"]) == []
    assert kubelet.Runtime.mount_defaults(["webhook-server", "--bootstrap-kubeconfig=/x"]) == []


@pytest.mark.parametrize("target", [f"{CLUSTER_IP}:443", "[fd00::12]:443"])
def test_a_service_address_resolves_to_the_service_and_its_target_port(
    fake: FakeKube, runtime: kubelet.Runtime, cluster: kubelet.Cluster, target: str
) -> None:
    fake.put_object(_service())
    name, found = runtime.resolve(cluster, target)
    assert name == f"{NAMESPACE}/registration-webhook"
    assert found is not None
    assert found[1] == 9443
    assert runtime.resolve(cluster, f"{CLUSTER_IP}:8443") == ("", None), "a port the Service does not have"
    assert runtime.resolve(cluster, "10.96.0.99:443") == ("", None)


def _connect(egress: Path, target: str) -> tuple[socket.socket, bytes]:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(TIMEOUT)
    client.connect(str(egress))
    client.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = client.recv(1)
        if not chunk:
            break
        head += chunk
    return client, head


@pytest.mark.parametrize("target_port", [9443, "https"])
def test_the_egress_proxy_leads_a_service_call_to_the_pods_exposed_socket(
    fake: FakeKube, runtime: kubelet.Runtime, cluster: kubelet.Cluster, short_dir: Path, target_port: object
) -> None:
    """kube-apiserver's CONNECT to the Service's ClusterIP reaches the process behind its selector."""
    fake.put_object(_service(target_port))
    pod = runtime.new_pod(cluster, _deployment())
    pod.ports[9443] = short_dir / "pod-9443.sock"
    runner = kubelet.Runner(runtime, cluster)  # its loop not started: the pod is placed by hand
    runner.pods["webhook"] = pod
    runtime.runners.append(runner)

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.sendall(b"webhook says " + conn.recv(100))

    served = podnet.unix_listener(pod.ports[9443])
    podnet.serve(served, answer)
    try:
        client, head = _connect(short_dir / "hub.egress", f"{CLUSTER_IP}:443")
        with client:
            assert head == b"HTTP/1.1 200 Connection established\r\n\r\n"
            client.sendall(b"hello")
            assert client.recv(100) == b"webhook says hello"
    finally:
        served.close()
        runtime.runners.remove(runner)  # never started: nothing of it to stop
    assert (
        f"CONNECT {CLUSTER_IP}:443 ({NAMESPACE}/registration-webhook) -> {pod.ports[9443]}"
        in (runtime.workdir / "egress.log").read_text()
    )


def test_the_egress_proxy_answers_502_without_a_service_and_503_without_its_process(
    fake: FakeKube, runtime: kubelet.Runtime, short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kubelet, "SERVE_WAIT_SECONDS", 0.5)
    client, head = _connect(short_dir / "hub.egress", "10.96.0.99:443")
    client.close()
    assert head == b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"
    fake.put_object(_service())
    client, head = _connect(short_dir / "hub.egress", f"{CLUSTER_IP}:443")
    client.close()
    assert head == b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
