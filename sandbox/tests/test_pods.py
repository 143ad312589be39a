"""One pod as the local kubelet runs it, without a cluster: its volumes written as the kubelet writes
them, its environment, and a real pod (sandbox, container root, service-account mount, exit code,
status) run from a pod spec."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox import images, podnet, pods

NAMESPACE = "e2e-ns"
TIMEOUT = 20.0


class FakeSources(pods.Sources):
    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}
        self.config_maps: dict[str, dict[str, Any]] = {}
        self.tokens: list[tuple[str | None, int]] = []

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.secrets.get(f"{namespace}/{name}")

    def config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.config_maps.get(f"{namespace}/{name}")

    def token(self, pod: dict[str, Any], audience: str | None, seconds: int) -> tuple[str, float] | None:
        self.tokens.append((audience, seconds))
        return f"token-{len(self.tokens)}", time.time() + seconds


def _pod(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-0", "namespace": NAMESPACE, "uid": "0123456789", "labels": {"app": "web"}},
        "spec": {"containers": containers, "nodeName": "kwok-node-0", "serviceAccountName": "runner", **spec},
        "status": {"conditions": [{"type": "PodScheduled", "status": "True"}]},
    }


def _files(directory: Path) -> dict[str, bytes]:
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
    pods.write_atomic(volume, {"tls.crt": b"one", "tls.key": b"key", "nested/ca.crt": b"ca"})
    first = (volume / "..data").resolve()
    assert _files(volume) == {"tls.crt": b"one", "tls.key": b"key", "nested/ca.crt": b"ca"}
    assert all((volume / name).readlink() == Path("..data") / name for name in ("tls.crt", "tls.key", "nested"))
    pods.write_atomic(volume, {"tls.crt": b"two"})
    assert _files(volume) == {"tls.crt": b"two"}, "keys no longer in the volume are gone"
    assert not first.exists(), "the previous content is removed once the link points at the new one"


def test_secret_and_config_map_volumes_wait_for_required_sources_and_follow_them(tmp_path: Path) -> None:
    sources = FakeSources()
    pod = _pod([])
    secret = pods.Volume({"secret": {"secretName": "cert"}}, tmp_path / "cert")
    assert not secret.sync(pod, sources), "a pod does not start without its required Secret"
    sources.secrets[f"{NAMESPACE}/cert"] = {"data": {"tls.crt": "Y2VydA=="}}
    assert secret.sync(pod, sources)
    assert _files(secret.path) == {"tls.crt": b"cert"}
    config = pods.Volume(
        {"configMap": {"name": "cfg", "optional": True, "items": [{"key": "a", "path": "dir/a.yaml"}]}}, tmp_path / "c"
    )
    assert config.sync(pod, sources)
    assert _files(config.path) == {}, "optional and missing: empty"
    sources.config_maps[f"{NAMESPACE}/cfg"] = {"data": {"a": "x: 1\n", "b": "unlisted"}, "binaryData": {"c": "AAE="}}
    assert config.sync(pod, sources)
    assert _files(config.path) == {"dir/a.yaml": b"x: 1\n"}
    assert not config.writable
    assert pods.Volume({"emptyDir": {}}, tmp_path / "e").writable


def test_the_service_account_mount_is_a_projected_token_ca_and_namespace(tmp_path: Path) -> None:
    sources = FakeSources()
    sources.config_maps[f"{NAMESPACE}/kube-root-ca.crt"] = {"data": {"ca.crt": "CA"}}
    volume = pods.Volume(
        {
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {
                        "downwardAPI": {
                            "items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]
                        }
                    },
                ]
            }
        },
        tmp_path / "sa",
    )
    assert volume.sync(_pod([]), sources)
    assert _files(volume.path) == {"token": b"token-1", "ca.crt": b"CA", "namespace": NAMESPACE.encode()}
    assert volume.sync(_pod([]), sources)
    assert sources.tokens == [(None, 3607)], "not refreshed before 80% of its life"
    volume.token_expires = time.time() - 1
    assert volume.sync(_pod([]), sources)
    assert _files(volume.path)["token"] == b"token-2"


def test_environment_references_fields_and_sources_as_the_kubelet_resolves_them() -> None:
    pod = _pod([], hostname="")
    assert pods.field_value(pod, "metadata.labels['app']") == "web"
    assert pods.field_value(pod, "metadata.labels") == 'app="web"'
    assert pods.field_value(pod, "spec.serviceAccountName") == "runner"
    assert pods.expand("--ns=$(POD_NAMESPACE) $$(x) $(MISSING)", {"POD_NAMESPACE": "a"}) == "--ns=a $(x) $(MISSING)"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pods-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _context(tmp_path: Path, sources: FakeSources, statuses: list[dict[str, Any]], short_dir: Path) -> pods.Context:
    services = podnet.unix_listener(short_dir / "services.sock")

    def sandbox_args(runtime: pods.PodRuntime) -> list[str]:
        args = ["--control", str(runtime.control), "--services", str(short_dir / "services.sock")]
        return [
            *args,
            "--cluster",
            "hub",
            "--hostname",
            runtime.hostname,
            "--pod-ip",
            runtime.pod_ip,
            "--pod-dir",
            str(runtime.directory),
        ]

    def network(runtime: pods.PodRuntime) -> None:
        pods.write_file(runtime.network_dir() / "hosts", f"127.0.0.1 localhost\n{runtime.pod_ip} {runtime.hostname}\n")
        pods.write_file(runtime.network_dir() / "resolv.conf", "")
        pods.write_file(runtime.network_dir() / "hostname", runtime.hostname + "\n")

    (tmp_path / "logs").mkdir()
    context = pods.Context(
        cluster="hub",
        api_port=6443,
        sources=sources,
        sandbox_args=sandbox_args,
        network=network,
        service_ports=lambda _pod: set(),
        ports=set,
        patch_status=lambda _pod, status: statuses.append(status),
        logs=tmp_path / "logs",
        log=lambda _message: None,
    )
    context.services = services  # type: ignore[attr-defined]  # kept open for the pod's lifetime
    return context


def test_a_pod_runs_in_its_own_root_with_its_service_account_and_ends_by_its_exit_code(
    tmp_path: Path, short_dir: Path
) -> None:
    sources = FakeSources()
    sources.config_maps[f"{NAMESPACE}/kube-root-ca.crt"] = {"data": {"ca.crt": "CA"}}
    code = (
        "import os, socket, sys\n"
        "sa = '/var/run/secrets/kubernetes.io/serviceaccount'\n"
        "print(open(sa + '/namespace').read(), open(sa + '/token').read(), socket.gethostname())\n"
        "print(os.environ['KUBERNETES_SERVICE_HOST'], os.environ['KUBERNETES_SERVICE_PORT'], os.environ['POD_IP'])\n"
        "print(open('/etc/hosts').read().split()[-1], os.getcwd(), sorted(os.listdir('/usr/local')))\n"
        "open('/written', 'w').write('the root is writable')\n"
        "sys.exit(3)\n"
    )
    container = {
        "name": "main",
        "image": f"{images.PYTHON_IMAGE}:{images.python_tag()}",
        "args": ["-c", code],
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "volumeMounts": [
            {"name": "sa", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}
        ],
    }
    projected = [
        {"serviceAccountToken": {"path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
    ]
    pod = _pod([container], restartPolicy="Never", volumes=[{"name": "sa", "projected": {"sources": projected}}])
    program = images.resolve_container(container, images.builds(()))
    assert program is not None
    statuses: list[dict[str, Any]] = []
    context = _context(tmp_path, sources, statuses, short_dir)
    runtime = pods.PodRuntime(context, pod, {"main": program}, tmp_path / "pod", "10.244.0.3", short_dir / "pod.ctl")
    try:
        deadline = time.monotonic() + TIMEOUT
        while runtime.phase not in ("Succeeded", "Failed"):
            assert time.monotonic() < deadline, (tmp_path / "logs" / "hub.e2e-ns.web-0.main.log").read_text()
            runtime.tick()
            time.sleep(0.1)
    finally:
        runtime.stop()
    log = (tmp_path / "logs" / "hub.e2e-ns.web-0.main.log").read_text().splitlines()
    assert log[-3:] == [f"{NAMESPACE} token-1 web-0", "127.0.0.1 6443 10.244.0.3", "web-0 / []"], log
    assert runtime.phase == "Failed"
    final = statuses[-1]
    assert final["phase"] == "Failed"
    (state,) = final["containerStatuses"]
    assert state["state"]["terminated"]["exitCode"] == 3
    assert state["imageID"] == f"sandbox://python@{images.python_tag()}"
    assert {c["type"]: c["status"] for c in final["conditions"]}["Ready"] == "False"
    assert not (tmp_path / "pod" / "containers" / "main" / "root" / "written").exists(), (
        "the root was the container's own"
    )
    assert runtime.sandbox is None, "a pod that ended keeps no sandbox"


def test_an_exec_probe_runs_in_the_container_and_readiness_follows_it(tmp_path: Path, short_dir: Path) -> None:
    """The probe's command runs in the container's root and network: Ready once it finds what the
    process wrote in its own /tmp, and restarts count when the process exits under restartPolicy Always."""
    code = "import time\ntime.sleep(1)\nopen('/tmp/ready', 'w').write('yes')\ntime.sleep(2)\n"
    container = {
        "name": "main",
        "image": f"{images.PYTHON_IMAGE}:{images.python_tag()}",
        "args": ["-c", code],
        "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1},
    }
    program = images.resolve_container(container, images.builds(()))
    assert program is not None
    statuses: list[dict[str, Any]] = []
    context = _context(tmp_path, FakeSources(), statuses, short_dir)
    runtime = pods.PodRuntime(
        context, _pod([container]), {"main": program}, tmp_path / "pod", "10.244.0.4", short_dir / "p.ctl"
    )

    def ready() -> str:
        conditions = {c["type"]: c["status"] for c in statuses[-1]["conditions"]} if statuses else {}
        return str(conditions.get("Ready"))

    seen: list[tuple[str, int]] = []
    try:
        deadline = time.monotonic() + TIMEOUT
        while not seen or seen[-1][1] == 0:
            assert time.monotonic() < deadline, seen
            runtime.tick()
            if statuses and (not seen or seen[-1] != (ready(), statuses[-1]["containerStatuses"][0]["restartCount"])):
                seen.append((ready(), statuses[-1]["containerStatuses"][0]["restartCount"]))
            time.sleep(0.1)
    finally:
        runtime.stop()
    assert seen[:3] == [("False", 0), ("True", 0), ("False", 1)], "unready, ready once the probe found it, restarted"
