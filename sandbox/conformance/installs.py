"""The two installs `make conformance` compares, on fresh local clusters of their own, and how long
each takes: ocm-hub (`make up STACK=dev`, through python -m deploy) and OCM's own Helm charts
(`deploy/cluster-manager/chart` and `deploy/klusterlet/chart` of the go.sum-verified ocm module, with
the helm built from its pinned module).

Both are timed by the same observer (`Watch`), polling the hub from the moment the install starts:

- to a ready hub: from the install's start until the hub is ready as the suite itself checks it
  (`hub_not_ready`, test/framework/hub.go CheckHubReady, with every hub Deployment rolled out);
- to Joined and Available: from the moment the install starts registering the cluster (ocm-hub: the
  ManagedCluster its registration creates first appears; Helm: `helm install klusterlet` starts)
  until HubAccepted, ManagedClusterJoined and ManagedClusterConditionAvailable are all True.

Helm's way needs a hub administrator to accept the cluster (`clusteradm accept`: approve its CSR, set
hubAcceptsClient); the harness does that as fast as it polls, which is Helm's best case.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from providers import klusterlet
from providers.kube import Kube, KubeError, RetryPolicy

Json = dict[str, Any]
REPO_ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 0.2
CLUSTER = "managed-1"  # the vela cluster both installs register
STACK = "dev"
OPERATOR_NAMESPACE = "open-cluster-management"
HUB_NAMESPACE = "open-cluster-management-hub"
AGENT_NAMESPACE = "open-cluster-management-agent"
BOOTSTRAP_SECRET = "bootstrap-hub-kubeconfig"
OCM_IMAGES = "quay.io/open-cluster-management"
CLUSTER_MANAGER = "/apis/operator.open-cluster-management.io/v1/clustermanagers/cluster-manager"
MANAGED_CLUSTERS = "/apis/cluster.open-cluster-management.io/v1/managedclusters"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
# The hub Deployments CheckHubReady waits for, and the gates that add one.
HUB_DEPLOYMENTS = ("registration-controller", "registration-webhook", "work-webhook", "placement-controller")
GATED_DEPLOYMENTS = (("workConfiguration", "ManifestWorkReplicaSet", False, "work-controller"),)
CLUSTER_CONDITIONS = ("HubAcceptedManagedCluster", "ManagedClusterJoined", "ManagedClusterConditionAvailable")
INSTALL_TIMEOUT = 900.0
HELM_RELEASE_TIMEOUT = 300.0


class InstallError(RuntimeError):
    """An install did not finish; the message says which step, and where its log is."""


def log(message: str) -> None:
    print(f"[conformance] {message}", file=sys.stderr, flush=True)


def _conditions(obj: Mapping[str, Any] | None) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def _gate_enabled(spec: Mapping[str, Any], section: str, feature: str, default: bool) -> bool:
    for gate in (spec.get(section) or {}).get("featureGates") or []:
        if gate.get("feature") == feature:
            return bool(gate.get("mode") == "Enable")
    return default


def _rolled_out(deployment: Mapping[str, Any] | None) -> bool:
    """Every replica of the current template ready (the suite only compares ready with current replicas,
    which a Deployment created a moment ago passes with none)."""
    if deployment is None:
        return False
    want = (deployment.get("spec") or {}).get("replicas", 1)
    status = deployment.get("status") or {}
    current = status.get("observedGeneration") == (deployment.get("metadata") or {}).get("generation")
    return bool(
        current
        and status.get("replicas", 0) == want
        and status.get("updatedReplicas", 0) == want
        and status.get("readyReplicas", 0) == want
    )


def hub_not_ready(get: Callable[[str], Json | None]) -> str | None:
    """Why the hub is not ready as OCM's e2e framework checks it (None: ready): the ClusterManager at its
    generation, Applied and ValidFeatureGates not False, HubRegistrationDegraded, HubPlacementDegraded and
    Progressing False, and its Deployments (the work controller too when ManifestWorkReplicaSet is on)
    rolled out."""
    cm = get(CLUSTER_MANAGER)
    if cm is None:
        return "no ClusterManager"
    if (cm.get("status") or {}).get("observedGeneration") != (cm.get("metadata") or {}).get("generation"):
        return "ClusterManager generation not observed yet"
    conditions = _conditions(cm)
    for name in ("Applied", "ValidFeatureGates"):
        if conditions.get(name) == "False":
            return f"ClusterManager {name} is False"
    for name in ("HubRegistrationDegraded", "HubPlacementDegraded", "Progressing"):
        if conditions.get(name) != "False":
            return f"ClusterManager {name} is {conditions.get(name, 'unset')}"
    spec = cm.get("spec") or {}
    names = list(HUB_DEPLOYMENTS)
    names += [name for section, gate, default, name in GATED_DEPLOYMENTS if _gate_enabled(spec, section, gate, default)]
    for name in names:
        path = f"/apis/apps/v1/namespaces/{HUB_NAMESPACE}/deployments/cluster-manager-{name}"
        if not _rolled_out(get(path)):
            return f"Deployment cluster-manager-{name} not rolled out"
    return None


def cluster_ready(cluster: Mapping[str, Any] | None) -> bool:
    """HubAccepted, Joined and Available all True, as the suite's CheckManagedClusterStatus."""
    conditions = _conditions(cluster)
    return all(conditions.get(name) == "True" for name in CLUSTER_CONDITIONS)


def getter(client: Kube) -> Callable[[str], Json | None]:
    def get(path: str) -> Json | None:
        try:
            return client.request("GET", path)
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    return get


@dataclass
class Times:
    """Seconds from the install's start (monotonic clock), None until seen."""

    hub_ready: float | None = None
    cluster_seen: float | None = None
    cluster_ready: float | None = None


class Watch:
    """Polls the hub from `start()` on, in a thread of its own, and records when each moment first
    happened. Transient API errors are polling misses, not failures."""

    def __init__(self, hub_kubeconfig: Path, cluster: str = CLUSTER) -> None:
        self._get = getter(Kube.from_file(str(hub_kubeconfig), retry=RetryPolicy(attempts=1), timeout=5.0))
        self._cluster = cluster
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="conformance-watch", daemon=True)
        self.started = 0.0
        self.times = Times()
        self.join_started: float | None = None  # set by an install that starts registering itself (Helm)

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def mark_join_started(self) -> None:
        self.join_started = time.monotonic() - self.started

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KubeError):
                self._look(time.monotonic() - self.started)
            self._stop.wait(POLL_SECONDS)

    def _look(self, now: float) -> None:
        times = self.times
        if times.hub_ready is None and hub_not_ready(self._get) is None:
            times.hub_ready = now
        if times.cluster_ready is None:
            cluster = self._get(f"{MANAGED_CLUSTERS}/{self._cluster}")
            if cluster is not None and times.cluster_seen is None:
                times.cluster_seen = now
            if cluster_ready(cluster):
                times.cluster_ready = now

    def wait(self, done: Callable[[Times], bool], timeout: float, what: str, alive: Callable[[], bool]) -> None:
        """Until done(times), the install process alive, bounded; progress every 30 s."""
        deadline = time.monotonic() + timeout
        said = time.monotonic()
        while not done(self.times):
            if not alive():
                raise InstallError(f"the install stopped before {what}")
            if time.monotonic() >= deadline:
                raise InstallError(f"{what}: not reached within {timeout:.0f}s")
            if time.monotonic() - said >= 30:
                log(f"waiting for {what} ({time.monotonic() - self.started:.0f}s)")
                said = time.monotonic()
            time.sleep(POLL_SECONDS)

    def durations(self) -> dict[str, float]:
        """Seconds to a ready hub, and from the start of the registration to Joined and Available."""
        times = self.times
        if times.hub_ready is None or times.cluster_ready is None:
            raise InstallError("the install is not timed yet: the hub or the cluster never became ready")
        join_start = self.join_started if self.join_started is not None else times.cluster_seen
        assert join_start is not None  # the cluster was seen before it was ready
        return {"hub_ready": times.hub_ready, "joined_available": times.cluster_ready - join_start}


def _run_logged(cmd: list[str], env: Mapping[str, str], log_path: Path, timeout: float) -> None:
    """Run cmd to completion, its output appended to log_path, each line with the seconds since cmd
    started (where an install's time goes); a failure names the log."""
    started = time.monotonic()
    with log_path.open("a", encoding="utf-8") as out:
        out.write(f"--- {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(
            cmd, env=dict(env), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(f"[{time.monotonic() - started:6.1f}s] {line}")
                out.flush()
            code = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if time.monotonic() - started >= timeout:
        raise InstallError(f"{cmd[0]} {cmd[1]} did not finish within {timeout:.0f}s (log: {log_path})")
    if code != 0:
        raise InstallError(f"{' '.join(cmd[:3])} failed with {code} (log: {log_path})")


def ocm_hub_env(state_dir: Path) -> dict[str, str]:
    """make up's environment for a stack of the harness's own: its Pulumi state beside its clusters."""
    backend = state_dir / "pulumi-state"
    backend.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PULUMI_BACKEND_URL": backend.as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", ""),
    }


def install_ocm_hub(hub_kubeconfig: Path, state_dir: Path, log_path: Path) -> dict[str, float]:
    """`make up STACK=dev YES=1 LOCAL=1` on the running local clusters, timed."""
    cmd = [sys.executable, "-m", "deploy", "up", "--stack", STACK, "--yes", "--local"]
    watch = Watch(hub_kubeconfig)
    log(f"ocm-hub: make up STACK={STACK} (log: {log_path})")
    watch.start()
    try:
        _run_logged(cmd, ocm_hub_env(state_dir), log_path, INSTALL_TIMEOUT)
        # make up waits for both itself; the observer may be one poll behind.
        watch.wait(lambda t: t.cluster_ready is not None and t.hub_ready is not None, 30, "the observer", lambda: True)
    finally:
        watch.stop()
    return watch.durations()


def preview_ocm_hub(state_dir: Path, log_path: Path) -> str:
    """What `make up` would change now: its preview (no terminal to confirm on previews and stops)."""
    cmd = [sys.executable, "-m", "deploy", "up", "--stack", STACK, "--local"]
    with log_path.open("a", encoding="utf-8") as out:
        out.write(f"--- {' '.join(cmd)} (preview)\n")
    proc = subprocess.run(
        cmd,
        env=ocm_hub_env(state_dir),
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    with log_path.open("a", encoding="utf-8") as out:
        out.write(proc.stdout + proc.stderr)
    return preview_summary(proc.stdout)


def reapply_ocm_hub(state_dir: Path, log_path: Path) -> None:
    """The next `make up STACK=dev YES=1`, which puts the stack's spec back over the suite's changes."""
    cmd = [sys.executable, "-m", "deploy", "up", "--stack", STACK, "--yes", "--local"]
    log(f"ocm-hub: make up STACK={STACK} again, after the suite (log: {log_path})")
    _run_logged(cmd, ocm_hub_env(state_dir), log_path, INSTALL_TIMEOUT)


def preview_summary(output: str) -> str:
    """The last `Resources:` block (the preview's: `make up` refreshes the ClusterManager first, which
    prints one too), on one line (`19 unchanged`, `~ 1 to update, 18 unchanged`); what pulumi said last
    when it printed none."""
    lines = output.splitlines()
    stripped = [line.strip() for line in lines]
    if "Resources:" not in stripped:
        said = [line for line in stripped if line]
        return f"no plan ({said[-1] if said else 'no output'})"
    start = len(stripped) - stripped[::-1].index("Resources:")
    block: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            break
        block.append(line.strip())
    return ", ".join(block)


def hub_gates(hub_kubeconfig: Path) -> dict[str, list[str]]:
    """The ClusterManager's feature gates per section, as `Feature=Mode`."""
    cm = getter(Kube.from_file(str(hub_kubeconfig)))(CLUSTER_MANAGER) or {}
    spec = cm.get("spec") or {}
    return {
        section: [
            f"{gate.get('feature')}={gate.get('mode')}" for gate in (spec.get(section) or {}).get("featureGates") or []
        ]
        for section in ("registrationConfiguration", "workConfiguration", "addOnManagerConfiguration")
        if (spec.get(section) or {}).get("featureGates")
    }


@dataclass(frozen=True)
class Charts:
    """OCM's own Helm charts, from the module the binaries are built from, and the helm built here."""

    helm: Path
    cluster_manager: Path
    klusterlet: Path
    version: str


def helm_env(state_dir: Path) -> dict[str, str]:
    """Helm's cache, config and data in the run's own directory, never the user's."""
    home = state_dir / "helm"
    return {
        **os.environ,
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }


def _accept(hub: Kube, cluster: str) -> None:
    """`clusteradm accept`: approve the cluster's pending CSRs and set hubAcceptsClient."""
    for csr in hub.request("GET", CSRS, {"labelSelector": f"open-cluster-management.io/cluster-name={cluster}"})[
        "items"
    ]:
        conditions = (csr.get("status") or {}).get("conditions") or []
        if any(c.get("type") in ("Approved", "Denied") for c in conditions):
            continue
        csr.setdefault("status", {})["conditions"] = [
            *conditions,
            {"type": "Approved", "status": "True", "reason": "ApprovedByConformance", "message": "accepted"},
        ]
        hub.request("PUT", f"{CSRS}/{csr['metadata']['name']}/approval", body=csr)
    cluster_obj = hub.request("GET", f"{MANAGED_CLUSTERS}/{cluster}")
    if not (cluster_obj.get("spec") or {}).get("hubAcceptsClient"):
        hub.request(
            "PATCH",
            f"{MANAGED_CLUSTERS}/{cluster}",
            body={"spec": {"hubAcceptsClient": True}},
            content_type="application/merge-patch+json",
        )


def install_helm(
    charts: Charts, hub_kubeconfig: Path, managed_kubeconfig: Path, state_dir: Path, log_path: Path
) -> dict[str, float]:
    """The hub and managed-1's klusterlet as OCM documents it with its charts, timed: cluster-manager on
    the hub (one operator replica, as the dev stack runs it and upstream's e2e installs it), then the
    klusterlet on managed-1 in Default mode (ocm-hub's default; the chart's own default is Singleton) with
    the hub's admin kubeconfig as its bootstrap kubeconfig (upstream's test/e2e-test.mk does the same),
    then `clusteradm accept`'s approval."""
    env = helm_env(state_dir)
    hub = Kube.from_file(str(hub_kubeconfig), retry=RetryPolicy(attempts=3), timeout=10.0)
    watch = Watch(hub_kubeconfig)
    common = ["--namespace", OPERATOR_NAMESPACE, "--create-namespace", "--set", f"images.tag={charts.version}"]
    log(f"helm: install cluster-manager and klusterlet (log: {log_path})")
    watch.start()
    try:
        _run_logged(
            [
                str(charts.helm),
                "install",
                "cluster-manager",
                str(charts.cluster_manager),
                "--kubeconfig",
                str(hub_kubeconfig),
                *common,
                "--set",
                "replicaCount=1",
            ],
            env,
            log_path,
            HELM_RELEASE_TIMEOUT,
        )
        watch.wait(lambda t: t.hub_ready is not None, INSTALL_TIMEOUT, "a ready hub", lambda: True)
        watch.mark_join_started()
        _run_logged(
            [
                str(charts.helm),
                "install",
                "klusterlet",
                str(charts.klusterlet),
                "--kubeconfig",
                str(managed_kubeconfig),
                *common,
                "--set-file",
                f"bootstrapHubKubeConfig={hub_kubeconfig}",
                "--set",
                f"klusterlet.clusterName={CLUSTER}",
                "--set",
                "klusterlet.mode=Default",
            ],
            env,
            log_path,
            HELM_RELEASE_TIMEOUT,
        )
        deadline = time.monotonic() + INSTALL_TIMEOUT
        while watch.times.cluster_ready is None:
            if time.monotonic() >= deadline:
                raise InstallError(
                    f"{CLUSTER} not Joined and Available within {INSTALL_TIMEOUT:.0f}s (log: {log_path})"
                )
            if watch.times.cluster_seen is not None:
                try:
                    _accept(hub, CLUSTER)
                except KubeError as err:
                    if err.status not in (404, 409):
                        raise
            time.sleep(POLL_SECONDS)
    finally:
        watch.stop()
    return watch.durations()


def admin_bootstrap_kubeconfig(hub_kubeconfig: Path) -> bytes:
    """The suite's own bootstrap kubeconfig: the hub's admin kubeconfig (self-contained), as upstream's
    test/e2e-test.mk gives it (`kubectl config view --minify --flatten`). The suite's Hosted klusterlets
    use it as their managed cluster's kubeconfig too, and install CRDs and namespaces with it."""
    return hub_kubeconfig.read_bytes()


def _bootstrap_secret(hub_kubeconfig: Path) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": BOOTSTRAP_SECRET, "namespace": AGENT_NAMESPACE},
        "data": {"kubeconfig": base64.b64encode(admin_bootstrap_kubeconfig(hub_kubeconfig)).decode()},
    }


def ocm_hub_klusterlet_on_hub(hub_kubeconfig: Path, version: str) -> None:
    """The klusterlet operator on the hub as ocm-hub installs one on a cluster it registers (the release's
    upstream files with providers/klusterlet.py's changes), and the suite's bootstrap kubeconfig beside it."""
    hub = Kube.from_file(str(hub_kubeconfig))
    images = klusterlet.Images(
        f"{OCM_IMAGES}/registration-operator:{version}",
        f"{OCM_IMAGES}/registration:{version}",
        f"{OCM_IMAGES}/work:{version}",
    )
    for obj in klusterlet.operator_objects(images, version):
        hub.apply(obj)
    hub.apply(klusterlet.namespace(AGENT_NAMESPACE))
    hub.apply(_bootstrap_secret(hub_kubeconfig))
    log("ocm-hub: the klusterlet operator on the hub, as ocm-hub installs it on a managed cluster")


def helm_klusterlet_on_hub(charts: Charts, hub_kubeconfig: Path, state_dir: Path, log_path: Path) -> None:
    """The klusterlet chart on the hub with no Klusterlet, as upstream's test/e2e-test.mk installs it."""
    cmd = [
        str(charts.helm),
        "install",
        "klusterlet",
        str(charts.klusterlet),
        "--kubeconfig",
        str(hub_kubeconfig),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--create-namespace",
        "--set",
        f"images.tag={charts.version}",
        "--set-file",
        f"bootstrapHubKubeConfig={hub_kubeconfig}",
        "--set",
        "klusterlet.create=false",
    ]
    _run_logged(cmd, helm_env(state_dir), log_path, HELM_RELEASE_TIMEOUT)
    log("helm: the klusterlet chart on the hub (klusterlet.create=false)")


def secret_kubeconfig(secret: Mapping[str, Any] | None) -> Json | None:
    """The kubeconfig a bootstrap Secret holds, parsed; None without one."""
    data = ((secret or {}).get("data") or {}).get("kubeconfig")
    if not data:
        return None
    parsed = yaml.safe_load(base64.b64decode(data))
    return parsed if isinstance(parsed, dict) else None
