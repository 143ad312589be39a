"""Start and stop the local Kubernetes clusters the end-to-end tests run against.

The one place that owns local clusters: `make cluster-up`/`cluster-down`, `make up` without a
reachable cluster, and the e2e fixtures all come through here. Each cluster is a real etcd,
kube-apiserver, kube-controller-manager and kube-scheduler plus kwok (fake nodes, so workloads
become Available without a container runtime), started by kwokctl's binary runtime from the
binaries sandbox/tools.py built: nothing is downloaded, everything listens on 127.0.0.1 only.

    python -m sandbox up [NAME ...]      start, or reuse when already healthy
    python -m sandbox down [NAME ...]    stop and remove the data
    python -m sandbox status [NAME ...]

Kubeconfigs land in .e2e/<name>.kubeconfig (self-contained: certificates inline); OCM_HUB_E2E_DIR
names another state directory, for another set of clusters (a parallel e2e worker's). Each
kube-apiserver sends its traffic to cluster services (admission webhooks, aggregated APIs) through
an HTTP CONNECT proxy on the Unix socket .e2e/<name>.egress.sock, its egress selector for
`cluster`. The clusters' kubelet (sandbox/kubelet.py, a detached process started and stopped with
the clusters) serves those sockets and runs the pods of the tools in POD_TOOLS (OCM's operator,
controllers, webhooks and agents; KubeVela's controller, gateway and hook Jobs; the addons') as local
processes wherever they are scheduled, so OCM and KubeVela really run on these clusters; kwok's stages
(sandbox/stages.py) play only the pods it leaves to kwok. KubeVela runs on the hub as its users have
it (sandbox/vela.py): installed by the real `vela install`, and with both clusters up, managed-1
joined by the real `vela cluster join`. Clusters started by name beyond the two (managed-2, for a
second join) are served by the kubelet too. A detached watchdog runs `down` after OCM_HUB_E2E_TTL
seconds (default 2 h; re-armed by every `up`), so a crashed run never leaves servers running forever.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes.config.config_exception import ConfigException

from providers.kube import Kube, KubeError, RetryPolicy
from sandbox import podnet, probes, stages, tools, vela

REPO_ROOT = Path(__file__).resolve().parents[1]

STATE_DIR_ENV = "OCM_HUB_E2E_DIR"  # another set of local clusters: each parallel e2e worker has its own
STATE_DIR = Path(os.environ.get(STATE_DIR_ENV) or REPO_ROOT / ".e2e").resolve()
KWOK_WORKDIR = STATE_DIR / "kwok"
KUBELET_DIR = STATE_DIR / "kubelet"
KUBELET_MODULE = "sandbox.kubelet"
CHARTS_URL = STATE_DIR / "charts.url"  # the clusters' Helm chart repository, served by the kubelet
KUBELET_START_TIMEOUT = 30.0
KUBELET_STOP_TIMEOUT = 90.0  # every process gets its grace period, in parallel
CLUSTERS = ("hub", "managed-1")
VELA_CLUSTER = "managed-1"  # joined to KubeVela on the hub by `vela cluster join`
VELA_LABELS = {"region": "local", "environment": "dev"}  # its `--labels`, as a vela user sets them
VELA_HOME = STATE_DIR / "vela-home"  # the vela CLI's $HOME (it writes $HOME/.vela on every start)
# The built tools a cluster runs on (the Pulumi ones are not needed to start a cluster).
CLUSTER_TOOLS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "kwokctl")
# KubeVela's tools that run in pods: all of them but the `vela` CLI.
VELA_POD_TOOLS = tuple(name for name in tools.VELA_TOOLS if name != "vela")
# What the kubelet runs in pods (sandbox/images.py maps images to them): OCM's operator and agents,
# KubeVela's, and the addons' managers and agents.
POD_TOOLS = (*tools.OCM_TOOLS, *VELA_POD_TOOLS, *tools.ADDON_TOOLS)
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok-controller")
FAKE_NODE = "kwok-node-0"
TTL_ENV = "OCM_HUB_E2E_TTL"
DEFAULT_TTL = 2 * 60 * 60
REARM_SLACK = 0.1  # of the lifetime: a cluster reused this soon after its watchdog was armed keeps it
CREATE_TIMEOUT = 180.0
READY_TIMEOUT = 60.0
LOG_TAIL_LINES = 40
UNIX_PATH_MAX = 108  # sun_path, terminating NUL included
# Every port of kwokctl's binary runtime that it would otherwise pick itself.
PORT_OPTIONS = (
    "kubeApiserverPort",
    "etcdPort",
    "etcdPeerPort",
    "kwokControllerPort",
    "kubeControllerManagerPort",
    "kubeSchedulerPort",
)


class ClusterError(RuntimeError):
    """A cluster did not come up; the message carries the tail of the failing component's log."""


def log(message: str) -> None:
    print(f"[sandbox] {message}", file=sys.stderr, flush=True)


def kubeconfig_path(name: str) -> Path:
    return STATE_DIR / f"{name}.kubeconfig"


def cluster_dir(name: str) -> Path:
    return KWOK_WORKDIR / "clusters" / name


def egress_socket(name: str) -> Path:
    """Where the cluster's kube-apiserver dials its `cluster` egress proxy (HTTP CONNECT)."""
    return STATE_DIR / f"{name}.egress.sock"


def _egress_path(name: str) -> Path:
    """The egress selector configuration kube-apiserver reads at start."""
    return STATE_DIR / f"{name}.egress.yaml"


def _egress_config(name: str) -> dict[str, object]:
    socket_path = str(egress_socket(name))
    if len(socket_path.encode()) >= UNIX_PATH_MAX:
        raise ClusterError(f"{name}: egress socket path too long for a Unix socket ({socket_path})")
    return {
        "apiVersion": "apiserver.k8s.io/v1beta1",
        "kind": "EgressSelectorConfiguration",
        "egressSelections": [
            {
                "name": "cluster",
                "connection": {"proxyProtocol": "HTTPConnect", "transport": {"uds": {"udsName": socket_path}}},
            }
        ],
    }


def kube_version() -> str:
    """The Kubernetes release the clusters run, as pinned in hack/tools/kubernetes/go.mod."""
    return next(tool for tool in tools.TOOLS if tool.name == "kube-apiserver").version()


def start(
    names: Iterable[str] = CLUSTERS, *, build: bool = False, ttl: float | None = None, with_vela: bool = True
) -> dict[str, Path]:
    """Make each named cluster healthy (reusing a healthy one) and return its kubeconfig path; a hub
    started or reused here gets KubeVela, and managed-1 (when it runs) is joined to it (with_vela=False:
    the hub as it is before KubeVela is installed).

    Without build=True missing binaries are an error rather than a half-hour build, so a test
    fixture fails fast and says what to run. Ctrl-C meanwhile stops the clusters this call began
    (nothing half-started is left running) and is raised again.
    """
    names = list(names)
    reused = {name for name in names if is_healthy(name)}
    try:
        return _start(names, build=build, ttl=ttl, with_vela=with_vela)
    except KeyboardInterrupt:
        log("interrupted: stopping the clusters this run started")
        with _uninterruptible():
            stop([name for name in names if name not in reused])
        raise


def _start(names: list[str], *, build: bool, ttl: float | None, with_vela: bool) -> dict[str, Path]:
    binaries = _binaries(build=build)
    lifetime = ttl if ttl is not None else float(os.environ.get(TTL_ENV, DEFAULT_TTL))
    result = {}
    with _locked():
        for name in names:
            started = time.monotonic()
            if is_healthy(name):
                log(f"{name}: reusing healthy cluster at {_server(name)}")
            else:
                _create(name, binaries)
                log(f"{name}: up at {_server(name)} in {time.monotonic() - started:.1f}s")
            _arm_watchdog(name, lifetime)
            result[name] = kubeconfig_path(name)
        _start_kubelet([name for name in _cluster_names() if is_healthy(name)])
        if with_vela and "hub" in names:
            _vela_on_hub()
    return result


def _cluster_names() -> list[str]:
    """The two clusters, then any other started by name in this state directory (sorted)."""
    clusters_dir = KWOK_WORKDIR / "clusters"
    others = sorted(p.name for p in clusters_dir.iterdir() if p.is_dir()) if clusters_dir.is_dir() else []
    return [*CLUSTERS, *(name for name in others if name not in CLUSTERS)]


def start_tools() -> tuple[str, ...]:
    """Every built tool start() needs: the clusters', the pods' and the vela CLI."""
    return (*CLUSTER_TOOLS, *POD_TOOLS, "vela")


@contextlib.contextmanager
def _uninterruptible() -> Iterator[None]:
    """A second Ctrl-C does not cut the cleanup of the first short (signals reach the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stop(names: Iterable[str] | None = None) -> None:
    """Stop each named cluster (None: every cluster of this state directory, managed-2 included) and
    delete its data; safe to call for clusters that are down.

    The kubelet goes first, so every process it runs stops while its API servers still answer; then it
    comes back for the clusters that remain (a cluster started for one test and stopped after it). No
    names: nothing stops, the kubelet neither (a test session that reused every cluster leaves them as
    it found them).
    """
    names = _cluster_names() if names is None else list(names)
    if not names:
        return
    with _locked():
        _stop_kubelet()
        for name in names:
            _stop(name)
        remaining = [name for name in _cluster_names() if is_healthy(name)]
        if remaining:
            _start_kubelet(remaining)


def status(names: Iterable[str] = CLUSTERS) -> dict[str, str]:
    states = {}
    for name in names:
        if not cluster_dir(name).exists():
            states[name] = "down"
        elif is_healthy(name):
            remaining = _watchdog_deadline(name) - time.time()
            left = f"{remaining:.0f} s" if remaining < 120 else f"{remaining / 60:.0f} min"
            expiry = f", stops in {left}" if remaining > 0 else ""
            states[name] = f"running at {_server(name)} ({kube_version()}{expiry})"
        else:
            dead = [c for c in COMPONENTS if not _component_running(name, c)]
            reason = "not running: " + ", ".join(dead) if dead else "/readyz failing"
            if not dead and not stages.in_use(cluster_dir(name) / "kwok.yaml"):
                reason = "made before the kubelet's kwok stages: `make cluster-down cluster-up` replaces it"
            states[name] = f"unhealthy ({reason})"
    pid = kubelet_pid()
    states["ocm-kubelet"] = f"running for {', '.join(kubelet_clusters())} (pid {pid})" if pid else "down"
    return states


def healthy(names: Iterable[str] = CLUSTERS) -> bool:
    """The named clusters and their kubelet all running: what a deployment on them needs."""
    return all(is_healthy(name) for name in names) and kubelet_pid() is not None


def pids(names: Iterable[str] = CLUSTERS) -> list[int]:
    """The processes a run on the clusters depends on: their components', then the kubelet's."""
    found = [pid for name in names for pid in component_pids(name).values()]
    kubelet = kubelet_pid()
    return [*found, kubelet] if kubelet is not None else found


def hub_kubeconfig() -> Path:
    return kubeconfig_path("hub")


def is_healthy(name: str) -> bool:
    """All component processes alive and the API server ready: safe to reuse."""
    if not kubeconfig_path(name).is_file() or not cluster_dir(name).is_dir():
        return False
    if not all(_component_running(name, component) for component in COMPONENTS):
        return False
    if not stages.in_use(cluster_dir(name) / "kwok.yaml"):
        return False
    try:
        return _readyz(_probe_client(name))
    except (OSError, ValueError, KubeError, ConfigException):
        return False


def component_pids(name: str) -> dict[str, int]:
    """Process ids kwokctl recorded for the cluster's components that are still running."""
    pids = {}
    for component in COMPONENTS:
        pid = _read_pid(cluster_dir(name) / "pids" / f"{component}.pid")
        if pid is not None and _alive(pid):
            pids[component] = pid
    return pids


def _binaries(*, build: bool) -> dict[str, Path]:
    """The cluster's binaries and the pods' (the kubelet runs those); built first when build=True."""
    wanted = start_tools()
    if build:
        return tools.ensure(wanted)
    missing = tools.missing(wanted)
    if missing:
        raise ClusterError(f"missing e2e binaries {missing}: run `make e2e-tools` (python -m sandbox.tools)")
    return tools.paths(CLUSTER_TOOLS)


def _create(name: str, binaries: dict[str, Path]) -> None:
    """Create a cluster from scratch; a half-started one is torn down, its log tails in the error."""
    if cluster_dir(name).exists() or kubeconfig_path(name).exists():
        log(f"{name}: removing a stale or unhealthy cluster")
        _stop(name)
    try:
        _install(name, binaries)
    except BaseException:
        _stop(name)
        raise


def _install(name: str, binaries: dict[str, Path]) -> None:
    config_path = STATE_DIR / f"{name}.kwokctl.yaml"
    ports = dict(zip(PORT_OPTIONS, _free_ports(len(PORT_OPTIONS)), strict=True))
    port = ports["kubeApiserverPort"]
    _egress_path(name).write_text(yaml.safe_dump(_egress_config(name)), encoding="utf-8")
    documents = [_kwokctl_config(name, ports, binaries), *stages.kwok_stages()]
    config_path.write_text(yaml.safe_dump_all(documents), encoding="utf-8")
    log(f"{name}: creating (kube-apiserver on 127.0.0.1:{port})")
    cmd = [
        str(binaries["kwokctl"]),
        "create",
        "cluster",
        f"--name={name}",
        f"--config={config_path}",
        "--runtime=binary",
        "--kubeconfig=",  # do not add a context to ~/.kube/config
    ]
    output = STATE_DIR / f"{name}.kwokctl.log"
    try:
        with output.open("w", encoding="utf-8") as out:
            proc = subprocess.run(
                cmd,
                env=_kwokctl_env(binaries),
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=CREATE_TIMEOUT,
                check=False,
            )
    except subprocess.TimeoutExpired:
        raise ClusterError(f"{name}: kwokctl create timed out\n{_tail(output)}{_logs(name)}") from None
    if proc.returncode != 0:
        raise ClusterError(f"{name}: kwokctl create failed\n{_tail(output)}{_logs(name)}")
    _check_offline(name, binaries)
    _write_kubeconfig(name, port)
    probe = _probe_client(name)
    _await(name, "kube-apiserver /readyz", ("kube-apiserver", "etcd"), lambda: _readyz(probe))
    _await(
        name,
        "default ServiceAccount",
        ("kube-controller-manager",),
        lambda: probe.get("v1", "ServiceAccount", "default", "default") is not None,
    )
    _ensure_fake_node(name, Kube.from_file(str(kubeconfig_path(name))))


def _kubelet_state() -> Path:
    return STATE_DIR / "kubelet.json"


def kubelet_pid() -> int | None:
    """The running kubelet's pid, if the recorded process is alive and is ours."""
    try:
        pid = int(json.loads(_kubelet_state().read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if _runs(pid, KUBELET_MODULE.encode()) else None


def chart_repository() -> str | None:
    """The URL of the local clusters' chart repository, while the kubelet serves it."""
    return CHARTS_URL.read_text(encoding="utf-8").strip() if kubelet_pid() and CHARTS_URL.is_file() else None


def kubelet_clusters() -> list[str]:
    try:
        return list(json.loads(_kubelet_state().read_text(encoding="utf-8"))["clusters"])
    except (OSError, ValueError, KeyError):
        return []


def _start_kubelet(names: list[str]) -> None:
    """Run OCM for these clusters: reuse a live kubelet serving exactly them, else start one."""
    if kubelet_pid() is not None and kubelet_clusters() == names:
        return
    charts_port = _charts_port()  # a kubelet started again (another cluster) keeps the stacks' chart URL
    _stop_kubelet()
    if not names:
        return
    KUBELET_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / "kubelet.log").open("a", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", KUBELET_MODULE, "serve", f"--charts-port={charts_port}", *names],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _kubelet_state().write_text(json.dumps({"pid": proc.pid, "clusters": names}), encoding="utf-8")
    deadline = time.monotonic() + KUBELET_START_TIMEOUT
    try:
        while not (CHARTS_URL.is_file() and all(probes.unix_socket_accepts(egress_socket(name)) for name in names)):
            if proc.poll() is not None or time.monotonic() >= deadline:
                state = f"exited with {proc.returncode}" if proc.returncode is not None else "not serving in time"
                raise ClusterError(f"kubelet {state}\n{_tail(STATE_DIR / 'kubelet.log')}")
            time.sleep(0.2)
    except BaseException:  # a half-started kubelet is never left behind, Ctrl-C included
        _stop_kubelet()
        raise
    log(f"kubelet running for {', '.join(names)} (pid {proc.pid}; logs in {KUBELET_DIR})")


def _charts_port() -> int:
    """The running kubelet's chart repository port, else 0 (any)."""
    url = chart_repository()
    return int(url.rsplit(":", 1)[1]) if url else 0


def _stop_kubelet() -> None:
    """SIGTERM (each OCM process gets its grace period), then SIGKILL for whatever is left of it."""
    pid = kubelet_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + KUBELET_STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            log(f"kubelet (pid {pid}) did not stop in {KUBELET_STOP_TIMEOUT:.0f}s; killing it")
            os.kill(pid, signal.SIGKILL)
        log("kubelet stopped")
    for leftover in podnet.leftovers(KUBELET_DIR):  # a killed kubelet's pods: sandboxes and containers
        with contextlib.suppress(ProcessLookupError):
            os.kill(leftover, signal.SIGKILL)
    _kubelet_state().unlink(missing_ok=True)


def _runs(pid: int, marker: bytes) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker in cmdline and _alive(pid)


def vela_cli() -> vela.Vela:
    """The vela CLI against the local hub."""
    return vela.Vela(kubeconfig_path("hub"), VELA_HOME, log)


def _vela_on_hub() -> None:
    """KubeVela installed on the hub, and managed-1 (when it runs) joined, each only when not done yet."""
    cli = vela_cli()
    try:
        cli.install()
        if is_healthy(VELA_CLUSTER) and not cli.joined(VELA_CLUSTER):
            cli.join(VELA_CLUSTER, kubeconfig_path(VELA_CLUSTER), VELA_LABELS)
    except vela.VelaError as err:
        raise ClusterError(f"hub: KubeVela: {err}\n(the pods' logs: {KUBELET_DIR / 'logs'})") from None


def _stop(name: str) -> None:
    _disarm_watchdog(name)
    if cluster_dir(name).exists():
        _kwokctl_delete(name)
        _kill_components(name)
        shutil.rmtree(cluster_dir(name), ignore_errors=True)
        log(f"{name}: stopped and removed")
    for path in _state_files(name):
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Serialise start/stop across processes (make, fixtures, watchdogs) sharing .e2e/."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _kwokctl_config(name: str, ports: dict[str, int], binaries: dict[str, Path]) -> dict[str, object]:
    """Every binary is a local path, so kwokctl never needs to download anything; every port is given."""
    pki = cluster_dir(name) / "pki"
    return {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "kubeVersion": kube_version(),
            "bindAddress": "127.0.0.1",
            **ports,
            "securePort": True,
            "kubeAuthorization": True,
            "kubeAdmission": True,
            "quietPull": True,
            "cacheDir": str(KWOK_WORKDIR / "cache"),
            "etcdBinary": str(binaries["etcd"]),
            "kubeApiserverBinary": str(binaries["kube-apiserver"]),
            "kubeControllerManagerBinary": str(binaries["kube-controller-manager"]),
            "kubeSchedulerBinary": str(binaries["kube-scheduler"]),
            "kubectlBinary": str(binaries["kubectl"]),
            "kwokControllerBinary": str(binaries["kwok"]),
        },
        # kwokctl does not enable CSR signing; OCM agents get their hub client certificates
        # through kubernetes.io/kube-apiserver-client CSRs, which need it.
        "componentsPatches": [
            {
                "name": "kube-controller-manager",
                "extraArgs": [
                    {"key": "cluster-signing-cert-file", "value": str(pki / "ca.crt")},
                    {"key": "cluster-signing-key-file", "value": str(pki / "ca.key")},
                ],
            },
            {
                "name": "kube-apiserver",
                "extraArgs": [{"key": "egress-selector-config-file", "value": str(_egress_path(name))}],
            },
        ],
    }


def _kwokctl_env(binaries: dict[str, Path]) -> dict[str, str]:
    """Isolate kwokctl: our workdir, no inherited KWOK_* settings, and our kubectl first on PATH.

    kwokctl runs `kubectl` to see whether the API server serves and downloads it when none is on
    PATH; putting the one we built first rules that out.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("KWOK_")}
    env["KWOK_WORKDIR"] = str(KWOK_WORKDIR)
    env["PATH"] = os.pathsep.join([str(binaries["kubectl"].parent), env.get("PATH", "")])
    return env


def _kwokctl_delete(name: str) -> None:
    kwokctl = tools.paths(["kwokctl"])["kwokctl"]
    if not kwokctl.is_file():
        return
    # kwokctl insists on a kubeconfig to remove its context from: give it ours, not ~/.kube/config.
    scratch = KWOK_WORKDIR / "kubeconfig"
    cmd = [str(kwokctl), "delete", "cluster", f"--name={name}", f"--kubeconfig={scratch}"]
    env = _kwokctl_env(tools.paths(["kubectl"]))
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        log(f"{name}: kwokctl delete timed out; killing the components directly")
        return
    if proc.returncode != 0:
        log(f"{name}: kwokctl delete failed; killing the components directly\n{proc.stdout}{proc.stderr}")


def _kill_components(name: str) -> None:
    """Fallback when kwokctl could not stop a component: kill the recorded pids, and only those."""
    for component, pid in component_pids(name).items():
        if _is_cluster_process(pid):
            log(f"{name}: killing leftover {component} (pid {pid})")
            os.kill(pid, signal.SIGKILL)


def _is_cluster_process(pid: int) -> bool:
    try:
        exe = Path(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return False
    return exe in {path.resolve() for path in tools.paths(CLUSTER_TOOLS).values()}


def _check_offline(name: str, binaries: dict[str, Path]) -> None:
    """Prove kwokctl used our binaries and fetched nothing (its download cache stays empty)."""
    cache = KWOK_WORKDIR / "cache"
    fetched = [str(p) for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    if fetched:
        raise ClusterError(f"{name}: kwokctl downloaded files: {fetched}")
    ours = {path.resolve() for path in binaries.values()}
    for link in (cluster_dir(name) / "bin").iterdir():
        if link.resolve() not in ours:
            raise ClusterError(f"{name}: kwokctl used {link} -> {link.resolve()}, not a built binary")


def _write_kubeconfig(name: str, port: int) -> None:
    pki = cluster_dir(name) / "pki"

    def inline(filename: str) -> str:
        return base64.b64encode((pki / filename).read_bytes()).decode()

    context = f"ocm-hub-e2e-{name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {
                    "server": f"https://127.0.0.1:{port}",
                    "certificate-authority-data": inline("ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": context,
                "user": {
                    "client-certificate-data": inline("admin.crt"),
                    "client-key-data": inline("admin.key"),
                },
            }
        ],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
        "current-context": context,
    }
    path = kubeconfig_path(name)
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def _ensure_fake_node(name: str, client: Kube) -> None:
    """One kwok node with room for the OCM workloads; kwok keeps it Ready and runs its pods."""
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": FAKE_NODE,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": FAKE_NODE,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "status": {
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
        },
    }
    if _node(client) is None:
        client.post("/api/v1/nodes", node)
    _await(name, f"node {FAKE_NODE} Ready", ("kwok-controller",), lambda: _node_ready(_node(client)))


def _node(client: Kube) -> dict[str, Any] | None:
    """The fake Node, or None; Nodes are the one kind here that the project's API layer has no use for."""
    try:
        return client.request("GET", f"/api/v1/nodes/{FAKE_NODE}")
    except KubeError as err:
        if err.status == 404:
            return None
        raise


def _node_ready(node: dict[str, Any] | None) -> bool:
    conditions = (node or {}).get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _await(name: str, what: str, suspects: Sequence[str], check: Callable[[], bool]) -> None:
    """Poll check for READY_TIMEOUT; on timeout fail with the logs of the suspect components."""
    deadline = time.monotonic() + READY_TIMEOUT
    error = ""
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, KubeError) as err:
            error = f" (last error: {err})"
        time.sleep(0.5)
    raise ClusterError(f"{name}: {what} not reached within {READY_TIMEOUT:.0f}s{error}\n" + _logs(name, suspects))


def _probe_client(name: str) -> Kube:
    """A client that asks once with a short timeout: health checks must answer fast, not retry."""
    return Kube.from_file(str(kubeconfig_path(name)), retry=RetryPolicy(attempts=1), timeout=5.0)


def _readyz(client: Kube) -> bool:
    """/readyz answers 200 only when every readiness check passes; anything else raises KubeError."""
    client.request("GET", "/readyz")
    return True


def _logs(name: str, components: Sequence[str] = COMPONENTS) -> str:
    """Tails of the given components' logs, dead components first, for failure messages."""
    dead = [c for c in COMPONENTS if not _component_running(name, c)]
    ordered = [c for c in COMPONENTS if c in dead] + [c for c in components if c not in dead]
    parts = []
    for component in ordered:
        state = "NOT RUNNING" if component in dead else "running"
        log_file = cluster_dir(name) / "logs" / f"{component}.log"
        parts.append(f"--- {name}/{component} ({state}): {log_file}\n{_tail(log_file)}")
    return "\n".join(parts)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        content = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)\n"
    return "\n".join(content[-lines:]) + "\n"


def _server(name: str) -> str:
    try:
        return Kube.from_file(str(kubeconfig_path(name))).server
    except (OSError, ValueError, ConfigException):
        return "?"


def _component_running(name: str, component: str) -> bool:
    pid = _read_pid(cluster_dir(name) / "pids" / f"{component}.pid")
    return pid is not None and _alive(pid)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _free_ports(count: int) -> list[int]:
    """Distinct ports the kernel picks at random: clusters created at once (parallel e2e lanes) do not
    collide, as they do on the ports kwokctl picks itself (counting down from 32767, the same in every run)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _state_files(name: str) -> list[Path]:
    suffixes = (
        ".kubeconfig",
        ".kwokctl.yaml",
        ".kwokctl.log",
        ".watchdog.json",
        ".watchdog.log",
        ".egress.yaml",
        ".egress.sock",
    )
    return [STATE_DIR / f"{name}{suffix}" for suffix in suffixes]


def _watchdog_file(name: str) -> Path:
    return STATE_DIR / f"{name}.watchdog.json"


def _watchdog_deadline(name: str) -> float:
    try:
        return float(json.loads(_watchdog_file(name).read_text(encoding="utf-8"))["deadline"])
    except (OSError, ValueError, KeyError):
        return 0.0


def _watchdog_pid(name: str) -> int | None:
    try:
        pid = int(json.loads(_watchdog_file(name).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    is_ours = cmdline[1:4] == [b"-m", b"sandbox", b"watchdog"]
    return pid if is_ours and _alive(pid) else None


def _arm_watchdog(name: str, ttl: float) -> None:
    """(Re)start the detached process that tears the cluster down once its lifetime is over. A live one
    whose deadline is within a tenth of the lifetime of the new one stays: starting another Python
    costs about a second of CPU, at the moment `make up` starts Pulumi."""
    deadline = time.time() + ttl
    if _watchdog_pid(name) is not None and _watchdog_deadline(name) >= deadline - ttl * REARM_SLACK:
        return
    _disarm_watchdog(name)
    with (STATE_DIR / f"{name}.watchdog.log").open("a", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "watchdog", f"--deadline={deadline}", name],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _watchdog_file(name).write_text(json.dumps({"pid": proc.pid, "deadline": deadline}), encoding="utf-8")


def _disarm_watchdog(name: str) -> None:
    pid = _watchdog_pid(name)
    if pid is not None and pid != os.getpid():
        os.kill(pid, signal.SIGTERM)
    _watchdog_file(name).unlink(missing_ok=True)


def run_watchdog(name: str, deadline: float) -> None:
    """Sleep until the deadline, then stop the cluster unless a newer watchdog replaced us."""
    while (remaining := deadline - time.time()) > 0:
        time.sleep(min(remaining, 60.0))
    if _watchdog_pid(name) == os.getpid():
        log(f"{name}: lifetime over, stopping")
        stop([name])
