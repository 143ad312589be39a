"""The local clusters without starting any: kwokctl's configuration, ports, the package's interface and
its command line on a state directory with no clusters."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sandbox
from sandbox import clusters, local_stack, tools

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30.0


def _binaries() -> dict[str, Path]:
    return tools.paths(clusters.CLUSTER_TOOLS)


def test_kwokctl_gets_every_port_and_runs_only_the_built_binaries_on_loopback() -> None:
    ports = dict(zip(clusters.PORT_OPTIONS, clusters._free_ports(len(clusters.PORT_OPTIONS)), strict=True))
    config = clusters._kwokctl_config("hub", ports, _binaries())
    options = config["options"]
    assert isinstance(options, dict)
    assert {key: options[key] for key in clusters.PORT_OPTIONS} == ports
    assert options["bindAddress"] == "127.0.0.1"
    assert options["runtime"] == "binary"
    assert options["kubeVersion"] == clusters.kube_version() == tools.select(["kube-apiserver"])[0].version()
    given = {key: value for key, value in options.items() if key.endswith("Binary")}
    assert sorted(given.values()) == sorted(str(path) for name, path in _binaries().items() if name != "kwokctl")
    assert Path(options["cacheDir"]).is_relative_to(clusters.KWOK_WORKDIR)


def test_the_apiserver_sends_cluster_traffic_to_the_egress_proxy_and_signs_csrs() -> None:
    config = clusters._kwokctl_config("managed-1", {}, _binaries())
    patches = {patch["name"]: patch["extraArgs"] for patch in config["componentsPatches"]}  # type: ignore[attr-defined]
    pki = clusters.cluster_dir("managed-1") / "pki"
    assert patches["kube-controller-manager"] == [
        {"key": "cluster-signing-cert-file", "value": str(pki / "ca.crt")},
        {"key": "cluster-signing-key-file", "value": str(pki / "ca.key")},
    ]
    egress_file = clusters.STATE_DIR / "managed-1.egress.yaml"
    assert patches["kube-apiserver"] == [{"key": "egress-selector-config-file", "value": str(egress_file)}]
    selections = clusters._egress_config("managed-1")["egressSelections"]
    assert isinstance(selections, list)
    (selection,) = selections
    assert selection["name"] == "cluster"
    assert selection["connection"]["transport"]["uds"]["udsName"] == str(clusters.egress_socket("managed-1"))


def test_an_egress_socket_path_too_long_for_unix_sockets_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clusters, "STATE_DIR", Path("/tmp") / ("d" * 100))
    with pytest.raises(clusters.ClusterError, match="egress socket path too long"):
        clusters._egress_config("hub")


def test_free_ports_are_distinct_and_free_on_loopback() -> None:
    ports = clusters._free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))


def test_kwokctl_runs_isolated_with_the_built_kubectl_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KWOK_KUBE_VERSION", "v0.0.1")
    env = clusters._kwokctl_env(_binaries())
    assert "KWOK_KUBE_VERSION" not in env
    assert env["KWOK_WORKDIR"] == str(clusters.KWOK_WORKDIR)
    assert env["PATH"].split(os.pathsep)[0] == str(_binaries()["kubectl"].parent)


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """A state directory where `hub`'s components are two sleeping processes (nothing answers /readyz)."""
    monkeypatch.setattr(clusters, "STATE_DIR", tmp_path)
    monkeypatch.setattr(clusters, "KWOK_WORKDIR", tmp_path / "kwok")
    procs = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    try:
        (clusters.cluster_dir("hub") / "pids").mkdir(parents=True)
        for component, proc in zip(("etcd", "kube-apiserver"), procs, strict=True):
            (clusters.cluster_dir("hub") / "pids" / f"{component}.pid").write_text(f"{proc.pid}\n")
        yield [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def test_pids_are_the_running_components_and_not_a_dead_one(stand_ins: list[int]) -> None:
    assert clusters.pids(["hub"]) == stand_ins
    assert clusters.pids(["managed-1"]) == []
    os.kill(stand_ins[0], 9)
    os.waitpid(stand_ins[0], 0)
    assert clusters.pids(["hub"]) == stand_ins[1:]


def test_a_cluster_missing_components_is_not_healthy(stand_ins: list[int]) -> None:
    assert not clusters.healthy(["hub"])
    assert clusters.status(["hub"])["hub"].startswith("unhealthy (not running: kube-controller-manager")


@pytest.fixture
def kubelet_stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[subprocess.Popen[bytes]]:
    """A process recorded as the clusters' kubelet (its command line names the module, as the real one's)."""
    monkeypatch.setattr(clusters, "STATE_DIR", tmp_path)
    monkeypatch.setattr(clusters, "KWOK_WORKDIR", tmp_path / "kwok")
    monkeypatch.setattr(clusters, "KUBELET_DIR", tmp_path / "kubelet")
    code = "import time; print('up', flush=True); time.sleep(60)"
    command = [sys.executable, "-c", code, "-m", clusters.KUBELET_MODULE, "serve", "hub"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    (tmp_path / "kubelet.json").write_text(f'{{"pid": {proc.pid}, "clusters": ["hub"]}}')
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"up\n", "its command line is its own once it runs"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_stopping_no_cluster_leaves_the_kubelet_running(kubelet_stand_in: subprocess.Popen[bytes]) -> None:
    assert clusters.kubelet_pid() == kubelet_stand_in.pid
    clusters.stop([])
    assert clusters.kubelet_pid() == kubelet_stand_in.pid
    clusters.stop(["managed-1"])
    assert kubelet_stand_in.wait(TIMEOUT) == -signal.SIGTERM, "the kubelet stops first, with SIGTERM"
    assert clusters.kubelet_pid() is None


def test_the_public_interface_is_the_clusters_and_the_local_stack() -> None:
    assert sandbox.start is clusters.start
    assert sandbox.ClusterError is clusters.ClusterError
    assert sandbox.LocalStack is local_stack.LocalStack
    assert sandbox.hub_kubeconfig() == clusters.STATE_DIR / "hub.kubeconfig"
    for name in sandbox.__all__:
        assert f"{name}" in (sandbox.__doc__ or ""), f"{name} is documented in sandbox/__init__.py"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = sandbox.nothing


def test_the_pods_network_helper_stays_small() -> None:
    """One runs per OCM process: importing it must not load the clusters (and Kubernetes' client)."""
    code = (
        "import sys, sandbox.podnet; print(sorted(m for m in sys.modules if m.startswith(('sandbox', 'kubernetes'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['sandbox', 'sandbox.podnet']"


def _cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, clusters.STATE_DIR_ENV: str(state)}
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_command_line_on_a_state_directory_without_clusters(tmp_path: Path) -> None:
    status = _cli(tmp_path, "status")
    assert (status.returncode, status.stdout) == (0, "hub: down\nmanaged-1: down\nocm-kubelet: down\n")
    check = _cli(tmp_path, "check")
    assert (check.returncode, check.stdout) == (1, "")
    pids = _cli(tmp_path, "pids")
    assert (pids.returncode, pids.stdout) == (0, "\n")
    down = _cli(tmp_path, "down")
    assert (down.returncode, down.stdout) == (0, "")


def test_down_with_no_name_stops_every_cluster_and_the_kubelet(kubelet_stand_in: subprocess.Popen[bytes]) -> None:
    """`make cluster-down` names no cluster: unlike stop([]), it stops everything there (managed-2 too)."""
    down = _cli(clusters.STATE_DIR, "down")
    assert down.returncode == 0, down.stderr
    assert kubelet_stand_in.wait(TIMEOUT) == -signal.SIGTERM


def _watchdog(name: str) -> int:
    """The live watchdog's pid, once the process it started shows as one (bounded)."""
    deadline = time.monotonic() + TIMEOUT
    while (pid := clusters._watchdog_pid(name)) is None:
        assert time.monotonic() < deadline, f"no watchdog for {name} within {TIMEOUT}s"
        time.sleep(0.05)
    return pid


def test_a_cluster_reused_soon_keeps_its_watchdog_and_a_longer_lifetime_gets_a_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each watchdog is a Python process started afresh: make up reusing the clusters does not start one."""
    monkeypatch.setenv(clusters.STATE_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(clusters, "STATE_DIR", tmp_path)
    try:
        clusters._arm_watchdog("hub", 3600)
        first = _watchdog("hub")
        clusters._arm_watchdog("hub", 3600)
        assert _watchdog("hub") == first, "a reuse within a tenth of the lifetime keeps it"
        clusters._arm_watchdog("hub", 7200)
        assert _watchdog("hub") != first, "a later deadline arms a new one"
    finally:
        clusters._disarm_watchdog("hub")
