"""The local clusters' kubelet for OCM: OCM's own operator and agents run as local processes.

kwok marks pods Running without running anything. This daemon, started with the local clusters by
sandbox/clusters.py and stopped with them, runs what the OCM pods would: for every Deployment of
any namespace whose container runs an OCM binary (the container's first arg: /registration-operator,
/registration, /work, /placement, /addon), one process per container, with the Deployment's own args,
so whatever the operators render is what runs, and conditions such as the ClusterManager's come from
the real operator. What a kubelet would provide is provided the same way where it matters:

- scheduling: a process runs only for a pod that is bound to a node and not being deleted, and the
  pod is held (a finalizer) until the process stopped;
- identity: a kubeconfig with a token of the pod's ServiceAccount (TokenRequest), so upstream's RBAC
  is what the process has; `--kubeconfig`/`--namespace` are passed where the command takes them,
  in place of the in-cluster configuration;
- volumes: Secret, ConfigMap and emptyDir volumes materialised in a directory per pod, Secrets and
  ConfigMaps kept in sync as the kubelet does (atomic `..data` swap), mount paths in args rewritten
  to those directories, TMPDIR pointing at the pod's /tmp;
- network: each process in its own network namespace (sandbox/podnet.py), reaching the API servers
  through Unix-socket bridges and exposing its container ports as Unix sockets only;
- Services: each cluster's kube-apiserver sends its `cluster` egress (admission webhooks) to an HTTP
  CONNECT proxy here (sandbox/clusters.py configures it), which maps a Service's ClusterIP and port
  to the exposed port of the pod its selector matches (the apiserver dials ClusterIPs, as it does
  without --enable-aggregator-routing);
- restarts: a process that exits is started again after a pause, as with restartPolicy Always.

    python -m sandbox.kubelet serve NAME ...    run until SIGTERM (sandbox.clusters starts it detached)

The same process serves the clusters' Helm chart repository (sandbox/chart_repo.py), its URL in
.e2e/charts.url. State lives in .e2e/kubelet/: logs/<cluster>.<namespace>.<deployment>.<container>.log per process,
egress.log (every CONNECT and where it went), errors.log (what the sync loop could not do).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from providers.kube import Kube, KubeError
from sandbox import clusters, podnet, tools
from sandbox.chart_repo import ChartRepo

Json = dict[str, Any]
# The container's first arg (its entry point in the upstream images) -> built tool name.
ENTRY_POINTS = {
    "/registration-operator": "registration-operator",
    "/registration": "registration",
    "/work": "work",
    "/placement": "placement",
    "/addon": "addon",
}
SYNC_SECONDS = 1.0
RESTART_SECONDS = 5.0
STOP_SECONDS = 15.0
# How long a webhook call from kube-apiserver waits for the process behind the Service to listen
# (within the 10 s webhook timeout OCM sets), and how often it looks.
SERVE_WAIT_SECONDS = 8.0
SERVE_POLL_SECONDS = 0.2
# Held on kwok's pods while their process runs: like a kubelet, a pod is gone only once its container
# stopped, so whoever waits for the pods (the unjoin does) waits for the process too.
PROCESS_FINALIZER = "e2e.ocm-hub.io/process"
TOKEN_SECONDS = 3600
LOG_TAIL_LINES = 30
PODNET_MODULE = "sandbox.podnet"
# Where `python -m sandbox.podnet` finds the package: the repository, the pods' working directory.
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Cluster:
    name: str
    kubeconfig: Path
    client: Kube


def log(message: str) -> None:
    print(f"[kubelet] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def get(client: Kube, path: str) -> Json | None:
    """The object at an API path, or None when it does not exist."""
    try:
        return client.request("GET", path)
    except KubeError as err:
        if err.status == 404:
            return None
        raise


def _server_port(cluster: Cluster) -> int:
    server = cluster.client.server
    return int(server.rsplit(":", 1)[1])


def _write_atomic(directory: Path, files: Mapping[str, bytes]) -> None:
    """Swap a whole volume's content at once, as the kubelet does: files live in a timestamped
    directory, `..data` points at the current one, and each key is a symlink through `..data`."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = directory / f"..{time.time_ns()}"
    stamp.mkdir()
    for name, content in files.items():
        (stamp / name).parent.mkdir(parents=True, exist_ok=True)
        (stamp / name).write_bytes(content)
    current = directory / "..data"
    old = current.resolve() if current.is_symlink() else None
    swap = directory / "..data_tmp"
    swap.unlink(missing_ok=True)
    swap.symlink_to(stamp.name)
    swap.replace(current)
    top = {name.split("/", 1)[0] for name in files}
    for name in top:
        if not (directory / name).is_symlink():
            (directory / name).symlink_to(Path("..data") / name)
    for entry in directory.iterdir():
        if not entry.name.startswith("..") and entry.name not in top:
            entry.unlink()
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@dataclass
class Volume:
    """One Secret/ConfigMap/emptyDir volume of a pod, materialised in `path`."""

    source: Json
    path: Path
    content: dict[str, bytes] | None = None

    def sync(self, client: Kube, namespace: str) -> bool:
        """Bring the directory up to date; False while a required Secret or ConfigMap is missing."""
        if "secret" in self.source:
            spec, path = (
                self.source["secret"],
                f"/api/v1/namespaces/{namespace}/secrets/{self.source['secret']['secretName']}",
            )
        elif "configMap" in self.source:
            spec, path = (
                self.source["configMap"],
                f"/api/v1/namespaces/{namespace}/configmaps/{self.source['configMap']['name']}",
            )
        else:  # emptyDir; projected tokens and the like, for which the pod's kubeconfig stands in
            self.path.mkdir(parents=True, exist_ok=True)
            return True
        obj = get(client, path)
        if obj is None and not spec.get("optional"):
            return False
        raw = (obj or {}).get("data") or {}
        data = {k: base64.b64decode(v) if "secret" in self.source else v.encode() for k, v in raw.items()}
        if spec.get("items"):
            data = {item["path"]: data[item["key"]] for item in spec["items"] if item["key"] in data}
        if data != self.content:
            _write_atomic(self.path, data)
            self.content = data
        return True


@dataclass
class Process:
    """One container of a pod: a process in its own network namespace, restarted when it exits."""

    label: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    exited_at: float | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            out.write(f"--- start {self.restarts}: {' '.join(self.command)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )

    def check(self) -> None:
        """Restart after RESTART_SECONDS when the process has exited."""
        if self.proc is None or self.proc.poll() is None:
            return
        now = time.monotonic()
        if self.exited_at is None:
            self.exited_at = now
            log(f"{self.label} exited with {self.proc.returncode}; restarting in {RESTART_SECONDS:.0f}s")
        elif now - self.exited_at >= RESTART_SECONDS:
            self.exited_at = None
            self.restarts += 1
            self.start()

    def stop(self) -> None:
        """SIGTERM to the session we started, then SIGKILL if it lingers."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(STOP_SECONDS)
        self.proc = None


@dataclass
class Pod:
    """What a kubelet would run for one Deployment generation; processes start once volumes exist."""

    runtime: Runtime
    cluster: Cluster
    deployment: Json
    key: str
    directory: Path
    volumes: dict[str, Volume] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    ports: dict[int, Path] = field(default_factory=dict)  # container port -> exposed Unix socket
    waiting_since: float = field(default_factory=time.monotonic)
    reported: float = 0.0

    @property
    def namespace(self) -> str:
        return str(self.deployment["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.deployment["metadata"]["name"])

    @property
    def template(self) -> Json:
        spec: Json = self.deployment["spec"]["template"]
        return spec

    @property
    def started(self) -> bool:
        return bool(self.processes)

    def tick(self) -> None:
        """Sync volumes; start the processes once everything they mount exists; restart dead ones."""
        ready = all(volume.sync(self.cluster.client, self.namespace) for volume in self.volumes.values())
        pods = self._pods()
        live = [pod for pod in pods if pod["spec"].get("nodeName") and not pod["metadata"].get("deletionTimestamp")]
        if self.started:
            if not live:  # its pod is being deleted (or is gone): stop, as the kubelet would, then let it go
                log(f"{self.cluster.name}/{self.namespace}/{self.name}: pod terminating, stopping its processes")
                self.stop()
                return
            self._hold_pods(live)
            for process in self.processes:
                process.check()
            return
        if live and ready and self._launch():  # like a kubelet: only for a pod bound to a node and not deleting
            return
        waited = time.monotonic() - self.waiting_since
        if waited - self.reported >= 15:
            self.reported = waited
            log(
                f"{self.cluster.name}/{self.namespace}/{self.name}: waiting {waited:.0f}s for its pod, volumes or account"
            )

    def _launch(self) -> bool:
        kubeconfig = self._token_kubeconfig()
        if kubeconfig is None:
            return False
        pod_name = f"{self.name}-local-{self.key}"
        for container in self.template["spec"]["containers"]:
            args = [str(arg) for arg in container.get("args") or container.get("command") or []]
            tool = ENTRY_POINTS.get(args[0]) if args else None
            if tool is None:
                continue
            args = self._rewrite(container, args[1:])
            args += self.runtime.in_cluster_flags(tool, args, kubeconfig, self.namespace)
            env = self._env(container, kubeconfig, pod_name)
            expose = []
            for port in container.get("ports") or []:
                number = int(port["containerPort"])
                socket_path = self.runtime.sockets / f"{self.key}-{number}.sock"
                self.ports[number] = socket_path
                expose += ["--expose", f"{socket_path}={number}"]
            command = [
                "unshare",
                "--user",
                "--map-root-user",
                "--net",
                "--",
                sys.executable,
                "-m",
                PODNET_MODULE,
                *self.runtime.inbound_args(),
                *expose,
                "--",
                str(self.runtime.binaries[tool]),
                *args,
            ]
            label = f"{self.cluster.name}/{self.namespace}/{self.name}/{container['name']}"
            log_path = self.runtime.logs / f"{self.cluster.name}.{self.namespace}.{self.name}.{container['name']}.log"
            process = Process(label, command, env, log_path)
            process.start()
            self.processes.append(process)
            log(f"{label}: started `{tool} {' '.join(args[:2])} ...` (log {log_path})")
        return True

    def _token_kubeconfig(self) -> Path | None:
        """The ServiceAccount's token in a kubeconfig: the pod's identity, without in-cluster config."""
        account = self.template["spec"].get("serviceAccountName") or "default"
        try:
            response = self.cluster.client.post(
                f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token",
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {"expirationSeconds": TOKEN_SECONDS},
                },
            )
        except KubeError as err:
            # No account yet, or its namespace is terminating: no pod could be created now either.
            if err.status == 404 or (err.status == 403 and "being terminated" in str(err)):
                return None
            raise
        config = yaml.safe_load(self.cluster.kubeconfig.read_text(encoding="utf-8"))
        config["users"][0]["user"] = {"token": response["status"]["token"]}
        config["contexts"][0]["context"]["namespace"] = self.namespace
        path = self.directory / "kubeconfig"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        path.chmod(0o600)
        return path

    def _mounts(self, container: Json) -> list[tuple[str, Path]]:
        """(mount path, local path), outer mounts first so nested ones land inside them."""
        mounts = []
        for mount in container.get("volumeMounts") or []:
            volume = self.volumes.get(mount["name"])
            if volume is not None:
                local = volume.path / mount["subPath"] if mount.get("subPath") else volume.path
                mounts.append((str(mount["mountPath"]).rstrip("/"), local))
        return sorted(mounts, key=lambda item: len(item[0]))

    def _rewrite(self, container: Json, args: list[str]) -> list[str]:
        """Point paths under mount paths at the pod's directories; mirror the mounts under root/."""
        root = self.directory / "root"
        for mount_path, local in self._mounts(container):
            link = root / mount_path.lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(local)
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        mount_paths = [mount_path for mount_path, _ in self._mounts(container)]
        rewritten = []
        for arg in [*args, *self.runtime.mount_defaults(args)]:
            flag, eq, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
            if any(value == m or value.startswith(m + "/") for m in mount_paths):
                value = str(root) + value
            rewritten.append(flag + eq + value)
        return rewritten

    def _env(self, container: Json, kubeconfig: Path, pod_name: str) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(kubeconfig), "HOME": str(self.directory)}
        env["TMPDIR"] = str(self.directory / "root" / "tmp")
        fields = {"metadata.name": pod_name, "metadata.namespace": self.namespace, "spec.nodeName": "kwok-node-0"}
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = str(item["value"])
            elif "fieldRef" in (item.get("valueFrom") or {}):
                env[item["name"]] = fields.get(item["valueFrom"]["fieldRef"]["fieldPath"], "")
        return env

    def _pods(self) -> list[Json]:
        labels = self.deployment["spec"]["selector"].get("matchLabels") or {}
        selector = ",".join(f"{key}={value}" for key, value in labels.items())
        return self.cluster.client.list("v1", "Pod", self.namespace, selector)

    def _hold_pods(self, pods: list[Json]) -> None:
        for pod in pods:
            finalizers = pod["metadata"].get("finalizers") or []
            if PROCESS_FINALIZER not in finalizers:
                self._set_finalizers(pod, [*finalizers, PROCESS_FINALIZER])

    def _release_pods(self) -> None:
        for pod in self._pods():
            finalizers = pod["metadata"].get("finalizers") or []
            if PROCESS_FINALIZER in finalizers:
                self._set_finalizers(pod, [f for f in finalizers if f != PROCESS_FINALIZER])

    def _set_finalizers(self, pod: Json, finalizers: list[str]) -> None:
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": pod["metadata"]["resourceVersion"]}}
        try:
            self.cluster.client.merge_patch("v1", "Pod", pod["metadata"]["name"], patch, self.namespace)
        except KubeError as err:
            # Gone, changed since listed, or deleted meanwhile (no new finalizers then): the next tick sees it.
            if err.status not in (404, 409, 422):
                raise

    def stop(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes.clear()
        for path in self.ports.values():
            path.unlink(missing_ok=True)
        self.ports.clear()
        self._release_pods()


def _stop_all(pods: list[Pod]) -> None:
    """In parallel, as a node stops its pods: each may take its grace period."""
    threads = [threading.Thread(target=pod.stop, name=f"stop-{pod.name}") for pod in pods]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2 * STOP_SECONDS + 30)


class Runner:
    """Runs the OCM Deployments of one cluster, following them as they change."""

    def __init__(self, runtime: Runtime, cluster: Cluster) -> None:
        self.runtime, self.cluster = runtime, cluster
        self.pods: dict[str, Pod] = {}  # "<namespace>/<name>" -> pod of its current generation
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name=f"runner-{cluster.name}", daemon=True)

    def _loop(self) -> None:
        while not self.stopping.wait(SYNC_SECONDS):
            try:
                self._tick()
            except Exception as err:  # a transient API failure must not end the loop; errors.log keeps it
                self.runtime.record_error(f"{self.cluster.name}: {err!r}")

    def _tick(self) -> None:
        seen: dict[str, Json] = {}
        listing = get(self.cluster.client, "/apis/apps/v1/deployments")
        for item in (listing or {}).get("items") or []:
            deleting = bool(item["metadata"].get("deletionTimestamp"))
            if self._runs_ocm(item) and not deleting and (item["spec"].get("replicas", 1) or 0) > 0:
                seen[f"{item['metadata']['namespace']}/{item['metadata']['name']}"] = item
        gone = []
        with self.lock:
            for key, pod in list(self.pods.items()):
                live = seen.get(key)
                if live is None or live["spec"]["template"] != pod.template:  # a rollout, as for real
                    log(f"{self.cluster.name}/{key}: {'gone' if live is None else 'changed'}, stopping its processes")
                    gone.append(pod)
                    del self.pods[key]
            for key, item in seen.items():
                if key not in self.pods:
                    self.pods[key] = self.runtime.new_pod(self.cluster, item)
            pods = list(self.pods.values())
        _stop_all(gone)
        for pod in pods:
            if not self.stopping.is_set():
                pod.tick()

    @staticmethod
    def _runs_ocm(deployment: Json) -> bool:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            args = container.get("args") or container.get("command") or []
            if args and args[0] in ENTRY_POINTS:
                return True
        return False

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(30)
        with self.lock:
            pods = list(self.pods.values())
            self.pods.clear()
        _stop_all(pods)


class Runtime:
    """The processes, bridges and egress proxies of one test; `close` ends every one of them."""

    def __init__(
        self,
        workdir: Path,
        clusters: Mapping[str, Cluster],
        binaries: Mapping[str, Path],
        egress: Callable[[str], Path],
    ) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.clusters = dict(clusters)
        self.binaries = dict(binaries)
        # Unix socket paths are limited to 107 bytes: keep them in a short directory of their own.
        self.sockets = Path(tempfile.mkdtemp(prefix="ocm-", dir="/tmp"))
        self.runners: list[Runner] = []
        self.listeners: list[socket.socket] = []
        self._flags: dict[tuple[str, str], str] = {}
        self._log_lock = threading.Lock()
        self._pods = 0
        for name, cluster in self.clusters.items():
            self.listeners.append(self._bridge(name, cluster))
            self.listeners.append(self._egress_proxy(cluster, egress(name)))

    # -- API servers into pods, Services out of them -----------------------------------------------

    def _bridge(self, name: str, cluster: Cluster) -> socket.socket:
        listener = podnet.unix_listener(self.sockets / f"{name}.api")
        podnet.serve(listener, podnet.forward_to_tcp(_server_port(cluster)))
        return listener

    def inbound_args(self) -> list[str]:
        args = []
        for name, cluster in self.clusters.items():
            args += ["--inbound", f"{_server_port(cluster)}={self.sockets / f'{name}.api'}"]
        return args

    def _egress_proxy(self, cluster: Cluster, path: Path) -> socket.socket:
        listener = podnet.unix_listener(path)
        podnet.serve(listener, lambda conn: self._connect(cluster, conn))
        return listener

    def _connect(self, cluster: Cluster, conn: socket.socket) -> None:
        """One HTTP CONNECT from kube-apiserver: to the pod behind the Service address, or 502."""
        request = b""
        while b"\r\n\r\n" not in request and len(request) < 16384:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            request += chunk
        head, _, rest = request.partition(b"\r\n\r\n")
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        target = parts[1] if len(parts) == 3 and parts[0] == "CONNECT" else ""
        service, svc = self.resolve(cluster, target) if target else ("", None)
        path, upstream = self._serving(cluster, svc) if svc is not None else (None, None)
        self._append(
            "egress.log", f"{cluster.name}: CONNECT {target or '?'} ({service or 'no Service'}) -> {path or 'no pod'}"
        )
        if upstream is None:
            status = b"503 Service Unavailable" if svc is not None else b"502 Bad Gateway"
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        podnet.pipe(conn, upstream)

    def resolve(self, cluster: Cluster, target: str) -> tuple[str, tuple[Json, object] | None]:
        """A Service's ClusterIP:port -> ("namespace/name", (the Service, its target port))."""
        host, _, port_text = target.rpartition(":")
        services = (get(cluster.client, "/api/v1/services") or {}).get("items") or []
        for svc in services:
            spec = svc.get("spec") or {}
            if host.strip("[]") not in {spec.get("clusterIP"), *(spec.get("clusterIPs") or [])}:
                continue
            for port in spec.get("ports") or []:
                if str(port.get("port")) == port_text:
                    name = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
                    return name, (svc, port.get("targetPort", port["port"]))
        return "", None

    def _serving(self, cluster: Cluster, svc: tuple[Json, object]) -> tuple[Path | None, socket.socket | None]:
        """A connection to the process behind the Service, waiting (bounded) for it to listen.

        kwok reports a pod Ready as soon as it is bound, before its process here serves; a real kubelet
        holds it unready until its probe passes, so the operator would not yet report the hub ready and
        no call would reach it. Waiting for the process to accept closes the gap kwok opens."""
        deadline = time.monotonic() + SERVE_WAIT_SECONDS
        path: Path | None = None
        while True:
            path = self._pod_socket(cluster, *svc)
            if path is not None:
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    upstream.connect(str(path))
                    return path, upstream
                except OSError:
                    upstream.close()
            if time.monotonic() >= deadline:
                return path, None
            time.sleep(SERVE_POLL_SECONDS)

    def _pod_socket(self, cluster: Cluster, svc: Json, target_port: object) -> Path | None:
        selector = (svc.get("spec") or {}).get("selector") or {}
        for runner in self.runners:
            if runner.cluster is not cluster:
                continue
            with runner.lock:
                pods = list(runner.pods.values())
            for pod in pods:
                labels = pod.template["metadata"].get("labels") or {}
                if pod.namespace != svc["metadata"]["namespace"] or not selector:
                    continue
                if any(labels.get(k) != v for k, v in selector.items()):
                    continue
                number = self._port_number(pod, target_port)
                if number is not None and number in pod.ports:
                    return pod.ports[number]
        return None

    @staticmethod
    def _port_number(pod: Pod, target_port: object) -> int | None:
        if isinstance(target_port, int) or str(target_port).isdigit():
            return int(str(target_port))
        for container in pod.template["spec"]["containers"]:
            for port in container.get("ports") or []:
                if port.get("name") == target_port:
                    return int(port["containerPort"])
        return None

    # -- pods ------------------------------------------------------------------------------------

    def run(self, cluster: str) -> Runner:
        """Start running the OCM Deployments of the cluster, now and as they come and go."""
        runner = Runner(self, self.clusters[cluster])
        self.runners.append(runner)
        runner.thread.start()
        return runner

    def new_pod(self, cluster: Cluster, deployment: Json) -> Pod:
        self._pods += 1
        key = f"p{self._pods}"
        meta = deployment["metadata"]
        directory = self.workdir / "pods" / f"{cluster.name}.{meta['namespace']}.{meta['name']}.{key}"
        directory.mkdir(parents=True)
        pod = Pod(self, cluster, deployment, key, directory)
        for volume in deployment["spec"]["template"]["spec"].get("volumes") or []:
            pod.volumes[volume["name"]] = Volume(volume, directory / "volumes" / volume["name"])
        return pod

    def in_cluster_flags(self, tool: str, args: list[str], kubeconfig: Path, namespace: str) -> list[str]:
        """`--kubeconfig`/`--namespace` in place of in-cluster config, where the command takes them."""
        subcommand = next((arg for arg in args if not arg.startswith("-")), "")
        helptext = self._help(tool, subcommand)
        flags = []
        if " --kubeconfig " in helptext and not any(a.startswith("--kubeconfig") for a in args):
            flags.append(f"--kubeconfig={kubeconfig}")
        if " --namespace " in helptext and not any(a.startswith("--namespace") for a in args):
            flags.append(f"--namespace={namespace}")
        return flags

    @staticmethod
    def mount_defaults(args: list[str]) -> list[str]:
        """Flags whose compiled-in defaults point into a mount, so rewriting the args alone misses them:
        the registration agent reads its hub kubeconfig from /spoke/hub-kubeconfig unless told."""
        bootstraps = args[:1] == ["agent"] and any(a.startswith("--bootstrap-kubeconfig") for a in args)
        if bootstraps and not any(a.startswith("--hub-kubeconfig-dir") for a in args):
            return ["--hub-kubeconfig-dir=/spoke/hub-kubeconfig"]
        return []

    def _help(self, tool: str, subcommand: str) -> str:
        key = (tool, subcommand)
        if key not in self._flags:
            cmd = [str(self.binaries[tool]), *([subcommand] if subcommand else []), "--help"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
            self._flags[key] = out.stdout + out.stderr
        return self._flags[key]

    # -- what it did, for whoever reads .e2e/kubelet/ --------------------------------------------

    def _append(self, filename: str, line: str) -> None:
        with self._log_lock, (self.workdir / filename).open("a", encoding="utf-8") as out:
            out.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def record_error(self, message: str) -> None:
        log(f"error: {message}")
        self._append("errors.log", message)

    def close(self) -> None:
        for runner in self.runners:
            runner.stop()
        for listener in self.listeners:
            with contextlib.suppress(OSError):
                path = listener.getsockname()
                listener.close()
                if isinstance(path, str) and path:
                    Path(path).unlink(missing_ok=True)
        shutil.rmtree(self.sockets, ignore_errors=True)


def report(workdir: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The tail of every process log, the egress proxy's routing and the sync errors: evidence for a
    failure message."""
    parts = []
    for path in [*sorted((workdir / "logs").glob("*.log")), workdir / "egress.log", workdir / "errors.log"]:
        if path.is_file():
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} (last {len(tail)} lines)\n" + "\n".join(tail))
    return "\n".join(parts)


def running(client: Kube, namespace: str, deployment: str) -> bool:
    """Whether the kubelet runs the Deployment's processes: it holds each pod it runs a process for."""
    found = get(client, f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}")
    labels = ((found or {}).get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    if not labels:
        return False
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    pods = client.list("v1", "Pod", namespace, selector)
    return any(PROCESS_FINALIZER in (pod["metadata"].get("finalizers") or []) for pod in pods)


def serve(workdir: Path, clusters: Mapping[str, Path], egress: Callable[[str], Path], charts_url: Path) -> None:
    """Run every cluster's OCM Deployments, and the clusters' chart repository (its URL written to
    charts_url), until SIGTERM or SIGINT; then stop each process gracefully."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _sig, _frame: stopping.set())
    for stale in ("logs", "pods"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    members = {name: Cluster(name, path, Kube.from_file(str(path))) for name, path in clusters.items()}
    repo = ChartRepo()
    runtime = Runtime(workdir, members, tools.paths(tools.OCM_TOOLS), egress)
    try:
        charts_url.write_text(repo.url, encoding="utf-8")
        for name in members:
            runtime.run(name)
        log(f"running OCM's Deployments of {', '.join(members)}; chart repository at {repo.url}")
        stopping.wait()
        log("stopping")
    finally:
        charts_url.unlink(missing_ok=True)
        runtime.close()
        repo.close()
        log("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run OCM's Deployments of the named local clusters until SIGTERM")
    run.add_argument("names", nargs="+", metavar="NAME")
    args = parser.parse_args(argv)
    kubeconfigs = {name: clusters.kubeconfig_path(name) for name in args.names}
    serve(clusters.KUBELET_DIR, kubeconfigs, clusters.egress_socket, clusters.CHARTS_URL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
