"""The local clusters' kubelet: the pods bound to each cluster's fake node run here, as processes.

kwok simulates a node: it marks pods Running and Ready without running anything. This daemon,
started with the local clusters by sandbox/clusters.py and stopped with them, is the node's real
kubelet for every pod whose containers it can run (sandbox/images.py: an image of a tool built here,
at the version it was built at), whatever created the pod (Deployments, DaemonSets, Jobs) and in
whichever namespace. It decides once per pod:

- ours: it holds the pod (a finalizer, so the pod is gone only once its processes stopped) and runs
  it as a kubelet would (sandbox/pods.py): volumes, a sandbox with the pod's own network
  (sandbox/podnet.py), containers in roots of their own with the service-account mount and
  in-cluster configuration (sandbox/container.py), restarts, probes, and the pod's status;
- kwok's: every image unknown. The pod is annotated `e2e.ocm-hub.io/runtime: kwok`, and only then
  do kwok's pod stages (sandbox/stages.py, gated on that annotation) mark it Ready or completed.
  Since kwok acts on no pod before this decision, a pod that runs here is never Ready before its
  process is.

Services work as on a real cluster (sandbox/services.py): each pod resolves every Service of its
cluster by name, and a connection to a ClusterIP or to a load-balancer address (handed out here to
every LoadBalancer Service of every local cluster) reaches a ready pod the Service selects, inside
that pod's network. kube-apiserver's `cluster` egress (admission webhooks, aggregated APIs) takes
the same route, through an HTTP CONNECT proxy here (sandbox/clusters.py configures it).

    python -m sandbox.kubelet serve NAME ...    run until SIGTERM (sandbox.clusters starts it detached)

The same process serves the clusters' Helm chart repository (sandbox/chart_repo.py), its URL in
.e2e/charts.url. State lives in .e2e/kubelet/: logs/<cluster>.<namespace>.<pod>.<container>.log
per container (and .sandbox.log per pod), egress.log (every CONNECT from kube-apiserver and where it
went), services.log (every connection from a pod to a Service), errors.log (what the sync loops
could not do).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from providers.kube import Kube, KubeError
from sandbox import clusters, images, podnet, pods, services
from sandbox.chart_repo import ChartRepo
from sandbox.stages import KWOK_RUNTIME, RUNTIME_ANNOTATION
from sandbox.watch import Informer, wait_synced

Json = dict[str, Any]
SYNC_SECONDS = 1.0
# Tools whose images this kubelet runs besides clusters.POD_TOOLS, comma-separated, built beforehand by
# whoever starts the clusters: make conformance names OCM's addon example here (the suite's template
# addon), which no stack runs. Without it that image stays kwok's simulated pod.
EXTRA_TOOLS_ENV = "OCM_HUB_KUBELET_EXTRA_TOOLS"
SYNCED_TIMEOUT = 30.0
# Held on the pods run here while their processes run: like a kubelet, a pod is gone only once its
# containers stopped, so whoever waits for the pods (the unjoin does) waits for the processes too.
PROCESS_FINALIZER = "e2e.ocm-hub.io/process"
DEFAULT_SERVICE_CIDR = "10.0.0.0/24"  # kube-apiserver's default, when its ServiceCIDR cannot be read
LOG_TAIL_LINES = 30
# OCM's processes each take inotify instances (certificate and kubeconfig watchers), all counted
# against the one user that runs them; several lanes of clusters need more than the common 128.
INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_WANTED = 512


def pod_tools() -> tuple[str, ...]:
    """The tools whose images run here: clusters.POD_TOOLS and those EXTRA_TOOLS_ENV names."""
    extra = (name.strip() for name in os.environ.get(EXTRA_TOOLS_ENV, "").split(","))
    return (*clusters.POD_TOOLS, *(name for name in extra if name))


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


@dataclass(frozen=True)
class Cluster:
    name: str
    kubeconfig: Path
    client: Kube

    @property
    def api_port(self) -> int:
        return int(self.client.server.rsplit(":", 1)[1])


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


class Node(pods.Sources):
    """One cluster's fake node, as its kubelet sees it: the pods bound to it and what they need."""

    def __init__(self, runtime: Runtime, cluster: Cluster) -> None:
        self.runtime, self.cluster = runtime, cluster
        self.changed = threading.Event()
        client = cluster.client

        def watch(path: str, query: Mapping[str, str] | None = None) -> Informer:
            return Informer(client, path, query, lambda m: runtime.record_error(f"{cluster.name}: {m}"), self.changed)

        self.pods_cache = watch("/api/v1/pods", {"fieldSelector": f"spec.nodeName={clusters.FAKE_NODE}"})
        self.services = watch("/api/v1/services")
        self.secrets = watch("/api/v1/secrets")
        self.config_maps = watch("/api/v1/configmaps")
        self.informers = [self.pods_cache, self.services, self.secrets, self.config_maps]
        self.running: dict[str, pods.PodRuntime] = {}  # pod uid -> its runtime, while it is ours
        self.settled: set[str] = set()  # uids decided for good: kwok's, or run to their end
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.service_cidrs = [DEFAULT_SERVICE_CIDR]
        self.services_seen = -1
        self.thread = threading.Thread(target=self._loop, name=f"node {cluster.name}", daemon=True)

    def start(self) -> None:
        for informer in self.informers:
            informer.start()
        self.service_cidrs = self._service_cidrs()
        self.thread.start()

    def _service_cidrs(self) -> list[str]:
        """The cluster's Service ranges (its ServiceCIDR objects), which its pods route to their service side."""
        try:
            listing = self.cluster.client.request("GET", "/apis/networking.k8s.io/v1/servicecidrs")
        except KubeError as err:
            self.runtime.record_error(f"{self.cluster.name}: no ServiceCIDR ({err}); using {DEFAULT_SERVICE_CIDR}")
            return [DEFAULT_SERVICE_CIDR]
        cidrs = [str(c) for item in listing.get("items") or [] for c in item["spec"].get("cidrs") or [] if ":" not in c]
        return cidrs or [DEFAULT_SERVICE_CIDR]

    # -- what pods are made of (pods.Sources) --------------------------------------------------------

    def secret(self, namespace: str, name: str) -> Json | None:
        return self.secrets.get(namespace, name)

    def config_map(self, namespace: str, name: str) -> Json | None:
        return self.config_maps.get(namespace, name)

    def token(self, pod: Json, audience: str | None, seconds: int) -> tuple[str, float] | None:
        meta = pod["metadata"]
        account = pod["spec"].get("serviceAccountName") or "default"
        spec: Json = {
            "expirationSeconds": max(seconds, 600),
            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta["uid"]},
        }
        if audience:
            spec["audiences"] = [audience]
        try:
            response = self.cluster.client.post(
                f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token",
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
            )
        except KubeError as err:
            # No account yet, or its namespace is terminating: no pod could be created now either.
            if err.status == 404 or (err.status == 403 and "being terminated" in str(err)):
                return None
            raise
        status = response["status"]
        return str(status["token"]), _epoch(str(status["expirationTimestamp"]))

    # -- the sync loop -------------------------------------------------------------------------------

    def _loop(self) -> None:
        if not wait_synced(self.informers, SYNCED_TIMEOUT):
            self.runtime.record_error(f"{self.cluster.name}: caches not synced within {SYNCED_TIMEOUT:.0f}s")
        while not self.stopping.is_set():
            self.changed.clear()
            try:
                self.sync()
            except Exception as err:  # a transient API failure must not end the loop; errors.log keeps it
                self.runtime.record_error(f"{self.cluster.name}: {err!r}")
            self.changed.wait(SYNC_SECONDS)

    def sync(self) -> None:
        seen = set()
        for pod in self.pods_cache.items():
            uid = str(pod["metadata"]["uid"])
            seen.add(uid)
            with self.lock:
                runtime = self.running.get(uid)
            if runtime is not None:
                runtime.update(pod)
                if pod["metadata"].get("deletionTimestamp") and not runtime.stopping:
                    self._stop(runtime, "pod terminating")
            elif uid not in self.settled:
                self._decide(pod)
        with self.lock:
            gone = [r for uid, r in self.running.items() if uid not in seen and not r.stopping]
        for runtime in gone:
            self._stop(runtime, "pod gone")
        self.settled &= seen
        if self.services.version != self.services_seen:  # new names and ports for every pod
            self.services_seen = self.services.version
            with self.lock:
                for runtime in self.running.values():
                    runtime.wake.set()

    def _decide(self, pod: Json) -> None:
        meta, uid = pod["metadata"], str(pod["metadata"]["uid"])
        finalizers = list(meta.get("finalizers") or [])
        done = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
        if meta.get("deletionTimestamp") or done:  # nothing of it runs here (a kubelet restarted meanwhile)
            if PROCESS_FINALIZER in finalizers:
                self._set_finalizers(pod, [f for f in finalizers if f != PROCESS_FINALIZER])
            self.settled.add(uid)
            return
        if (meta.get("annotations") or {}).get(RUNTIME_ANNOTATION) == KWOK_RUNTIME:
            self.settled.add(uid)
            return
        spec = pod["spec"]
        builds = images.builds(pod_tools())
        programs = {
            str(c["name"]): images.resolve_container(c, builds)
            for c in [*(spec.get("initContainers") or []), *spec["containers"]]
        }
        if not any(programs.values()):
            self._annotate_kwok(pod)
            self.settled.add(uid)
            return
        if PROCESS_FINALIZER not in finalizers and not self._set_finalizers(pod, [*finalizers, PROCESS_FINALIZER]):
            return  # changed meanwhile: decided on the next pass
        runtime = self.runtime.new_pod(self, pod, programs)
        with self.lock:
            self.running[uid] = runtime
        threading.Thread(target=self._work, args=(runtime,), name=f"pod {runtime.name}", daemon=True).start()

    def _work(self, runtime: pods.PodRuntime) -> None:
        """The pod's worker; a pod that ran to its end lets go of the pod and of its address."""
        runtime.run()
        if runtime.phase in ("Succeeded", "Failed") and not runtime.stopping:
            self._release(runtime)

    def _stop(self, runtime: pods.PodRuntime, why: str) -> None:
        log(f"{self.cluster.name}/{runtime.namespace}/{runtime.name}: {why}, stopping its containers")
        runtime.stopping = True
        threading.Thread(
            target=self._stop_and_release, args=(runtime,), name=f"stop {runtime.name}", daemon=True
        ).start()

    def _stop_and_release(self, runtime: pods.PodRuntime) -> None:
        try:
            runtime.stop()
        finally:
            self._release(runtime)

    def _release(self, runtime: pods.PodRuntime) -> None:
        with self.lock:
            self.running.pop(runtime.uid, None)
            self.settled.add(runtime.uid)
        self.runtime.pod_ips.release((self.cluster.name, runtime.uid))
        current = self.pods_cache.get(runtime.namespace, runtime.name)
        if current is not None and current["metadata"]["uid"] == runtime.uid:
            finalizers = list(current["metadata"].get("finalizers") or [])
            if PROCESS_FINALIZER in finalizers:
                try:
                    self._set_finalizers(current, [f for f in finalizers if f != PROCESS_FINALIZER], strict=False)
                except KubeError as err:
                    self.runtime.record_error(f"{self.cluster.name}: releasing {runtime.name}: {err}")
        shutil.rmtree(runtime.directory, ignore_errors=True)

    def _annotate_kwok(self, pod: Json) -> None:
        meta = pod["metadata"]
        patch = {"metadata": {"annotations": {RUNTIME_ANNOTATION: KWOK_RUNTIME}}}
        try:
            self.cluster.client.merge_patch("v1", "Pod", meta["name"], patch, meta["namespace"])
        except KubeError as err:
            if err.status != 404:
                raise

    def _set_finalizers(self, pod: Json, finalizers: list[str], *, strict: bool = True) -> bool:
        """Patch the pod's finalizers (strict: only if it did not change since read); False if it did."""
        meta = pod["metadata"]
        patch: Json = {"metadata": {"finalizers": finalizers}}
        if strict:
            patch["metadata"]["resourceVersion"] = meta["resourceVersion"]
        try:
            self.cluster.client.merge_patch("v1", "Pod", meta["name"], patch, meta["namespace"])
        except KubeError as err:
            # Gone, changed since listed, or deleted meanwhile (no new finalizers then): the next pass sees it.
            if err.status not in (404, 409, 422):
                raise
            return False
        return True

    # -- what a pod of this node sees -----------------------------------------------------------------

    def endpoints(self) -> list[pods.PodRuntime]:
        with self.lock:
            return list(self.running.values())

    def service_ports(self, pod: Json) -> set[int]:
        """The ports Services selecting the pod lead to (a pod with no probe is Ready once they listen)."""
        with self.lock:
            runtime = self.running.get(str(pod["metadata"]["uid"]))
        if runtime is None:
            return set()
        found = set()
        for service in self.services.items():
            if services.cluster_ips(service) and services.selects(service, runtime):
                for port in (service.get("spec") or {}).get("ports") or []:
                    number = services.target_port(port, runtime)
                    if number is not None and (port.get("protocol") or "TCP") == "TCP":
                        found.add(number)
        return found

    def write_network(self, runtime: pods.PodRuntime) -> None:
        directory = runtime.network_dir()
        hosts = services.render_hosts(
            runtime.namespace,
            runtime.pod_ip,
            runtime.hostname,
            self.services.items(),
            runtime.spec.get("hostAliases") or [],
        )
        pods.write_file(directory / "hosts", hosts)
        pods.write_file(directory / "resolv.conf", services.render_resolv_conf(runtime.namespace))
        pods.write_file(directory / "hostname", runtime.hostname + "\n")

    def patch_status(self, pod: Json, status: Json) -> None:
        meta = pod["metadata"]
        try:
            self.cluster.client.merge_patch("v1", "Pod", meta["name"], {"status": status}, meta["namespace"], "status")
        except KubeError as err:
            if err.status != 404:
                self.runtime.record_error(f"{self.cluster.name}: status of {meta['namespace']}/{meta['name']}: {err}")

    def service_at(self, ip: str) -> Json | None:
        for service in self.services.items():
            if ip in services.cluster_ips(service):
                return service
        return None

    def stop(self) -> None:
        self.stopping.set()
        self.changed.set()
        for informer in self.informers:
            informer.stop()
        self.thread.join(10)
        with self.lock:
            running = list(self.running.values())
        threads = [threading.Thread(target=r.stop, name=f"stop {r.name}") for r in running]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(pods.GRACE_MAX_SECONDS + 15)
        for runtime in running:
            self._release(runtime)


@dataclass(frozen=True)
class Route:
    """Where a connection to a Service address goes: a pod's port, or the cluster's API server."""

    service: str  # namespace/name, "" when the address is no Service's
    pod: pods.PodRuntime | None = None
    port: int = 0
    api_port: int = 0

    def describe(self) -> str:
        if self.pod is not None:
            return f"{self.pod.control} ({self.pod.namespace}/{self.pod.name} {self.pod.pod_ip}:{self.port})"
        return f"127.0.0.1:{self.api_port} (API server)" if self.api_port else "no ready pod"

    def connect(self) -> socket.socket | None:
        try:
            if self.pod is not None:
                return podnet.dial(self.pod.control, self.pod.pod_ip, self.port)
            if self.api_port:
                return socket.create_connection(("127.0.0.1", self.api_port), timeout=podnet.DIAL_TIMEOUT)
        except OSError:
            return None
        return None


class Runtime:
    """The nodes, bridges, proxies and address pools of one kubelet; `close` ends every one of them."""

    def __init__(self, workdir: Path, members: Mapping[str, Cluster], egress: Callable[[str], Path]) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.clusters = dict(members)
        # Unix socket paths are limited to 107 bytes: keep them in a short directory of their own.
        self.sockets = Path(tempfile.mkdtemp(prefix="ocm-", dir="/tmp"))
        self.listeners: list[socket.socket] = []
        self.nodes: dict[str, Node] = {}
        self.chooser = services.Chooser()
        self.pod_ips = services.AddressPool(services.POD_NETWORK)
        self.load_balancers = services.AddressPool(services.LOAD_BALANCER_POOL)
        self.stopping = threading.Event()
        self._log_lock = threading.Lock()
        self._pods = 0
        for name, cluster in self.clusters.items():
            bridge = podnet.unix_listener(self.sockets / f"{name}.api")
            podnet.serve(bridge, podnet.forward_to_tcp(cluster.api_port))
            proxy = podnet.unix_listener(egress(name))
            podnet.serve(proxy, self._egress_proxy(cluster))
            self.listeners += [bridge, proxy]
        self.services_socket = self.sockets / "services.sock"
        self.listeners.append(podnet.unix_listener(self.services_socket))
        podnet.serve(self.listeners[-1], self._from_pod)
        self.balancer = threading.Thread(target=self._balance_loop, name="load-balancers", daemon=True)

    def run(self, names: Sequence[str]) -> None:
        """Start being the kubelet of these clusters' nodes, and their load-balancer controller."""
        for name in names:
            node = Node(self, self.clusters[name])
            self.nodes[name] = node
            node.start()
        self.balancer.start()

    # -- pods ------------------------------------------------------------------------------------

    def new_pod(self, node: Node, pod: Json, programs: Mapping[str, images.Program | None]) -> pods.PodRuntime:
        self._pods += 1
        meta = pod["metadata"]
        directory = self.workdir / "pods" / f"{node.cluster.name}.{meta['namespace']}.{meta['name']}.{meta['uid'][:8]}"
        directory.mkdir(parents=True, exist_ok=True)
        pod_ip = self.pod_ips.assign((node.cluster.name, str(meta["uid"])))
        context = pods.Context(
            cluster=node.cluster.name,
            api_port=node.cluster.api_port,
            sources=node,
            sandbox_args=lambda r: self._sandbox_args(node, r),
            network=node.write_network,
            service_ports=node.service_ports,
            ports=lambda: self.listened_ports(node),
            patch_status=node.patch_status,
            logs=self.logs,
            log=log,
        )
        return pods.PodRuntime(context, pod, programs, directory, pod_ip, self.sockets / f"p{self._pods}.ctl")

    def _sandbox_args(self, node: Node, runtime: pods.PodRuntime) -> list[str]:
        args = ["--control", str(runtime.control), "--services", str(self.services_socket)]
        args += ["--cluster", node.cluster.name, "--hostname", runtime.hostname, "--pod-ip", runtime.pod_ip]
        args += ["--pod-dir", str(runtime.directory)]
        for cidr in [*node.service_cidrs, services.LOAD_BALANCER_POOL]:
            args += ["--route", cidr]
        for name, cluster in self.clusters.items():
            args += ["--inbound", f"{cluster.api_port}={self.sockets / f'{name}.api'}"]
        return args

    def listened_ports(self, node: Node) -> set[int]:
        balanced = [s for n in self.nodes.values() for s in n.services.items() if services.is_load_balancer(s)]
        return services.listened_ports(node.services.items(), balanced)

    # -- Services: routes, the egress proxy, load balancers ------------------------------------------

    def route(self, cluster: str, ip: str, port: int) -> Route:
        """A connection to ip:port from a pod of this cluster (or from its kube-apiserver)."""
        node = self.nodes.get(cluster)
        service = node.service_at(ip) if node is not None else None
        if service is None:  # a load-balancer address, of any local cluster
            for other in self.nodes.values():
                service = next((s for s in other.services.items() if services.load_balancer_ip(s) == ip), None)
                if service is not None:
                    node = other
                    break
        if service is None or node is None:
            return Route("")
        name = "/".join(services.key(service))
        if services.key(service) == services.API_SERVICE:
            return Route(name, api_port=node.cluster.api_port) if services.service_port(service, port) else Route(name)
        choice = self.chooser.choose(node.cluster.name, service, port, node.endpoints())
        if choice is None:
            return Route(name)
        endpoint, target = choice
        assert isinstance(endpoint, pods.PodRuntime)
        return Route(name, pod=endpoint, port=target)

    def _from_pod(self, conn: socket.socket) -> None:
        """A pod's connection to a Service address (podnet's `CONNECT <cluster> <ip> <port>`)."""
        words = podnet.read_line(conn).split()
        if len(words) != 4 or words[0] != "CONNECT" or not words[3].isdigit():
            conn.close()
            return
        route = self.route(words[1], words[2], int(words[3]))
        upstream = route.connect()
        self._append(
            "services.log",
            f"{words[1]}: {words[2]}:{words[3]} ({route.service or 'no Service'}) -> "
            + (route.describe() if upstream is not None else "refused"),
        )
        if upstream is None:
            conn.close()
            return
        podnet.pipe(conn, upstream)

    def _egress_proxy(self, cluster: Cluster) -> Callable[[socket.socket], None]:
        return lambda conn: self._connect(cluster, conn)

    def _connect(self, cluster: Cluster, conn: socket.socket) -> None:
        """One HTTP CONNECT from kube-apiserver: to a ready pod behind the Service address, or 503/502."""
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
        host, _, port = target.rpartition(":")
        route = self.route(cluster.name, host.strip("[]"), int(port)) if port.isdigit() else Route("")
        upstream = route.connect()
        where = route.describe() if upstream is not None else "no pod"
        self._append(
            "egress.log", f"{cluster.name}: CONNECT {target or '?'} ({route.service or 'no Service'}) -> {where}"
        )
        if upstream is None:
            status = b"503 Service Unavailable" if route.service else b"502 Bad Gateway"
            conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
            conn.close()
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        podnet.pipe(conn, upstream)

    def _balance_loop(self) -> None:
        if not wait_synced([n.services for n in self.nodes.values()], SYNCED_TIMEOUT):
            self.record_error(f"Services not synced within {SYNCED_TIMEOUT:.0f}s")
        while not self.stopping.wait(SYNC_SECONDS):
            try:
                self.balance()
            except Exception as err:
                self.record_error(f"load balancers: {err!r}")

    def balance(self) -> None:
        """Give every LoadBalancer Service of every cluster its address, as a cloud's controller does."""
        wanted = [
            (node, service)
            for node in self.nodes.values()
            for service in node.services.items()
            if services.is_load_balancer(service)
        ]
        owners = [(node.cluster.name, *services.key(service)) for node, service in wanted]
        self.load_balancers.release_all_but(owners)
        for (_node, service), owner in zip(wanted, owners, strict=True):  # the addresses they have, first
            if services.load_balancer_ip(service):
                self.load_balancers.assign(owner, services.load_balancer_ip(service))
        for (node, service), owner in zip(wanted, owners, strict=True):
            address = self.load_balancers.assign(owner, services.load_balancer_ip(service))
            if address != services.load_balancer_ip(service):
                namespace, name = services.key(service)
                status = {"status": {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]}}}
                node.cluster.client.request(
                    "PATCH",
                    f"/api/v1/namespaces/{namespace}/services/{name}/status",
                    body=status,
                    content_type="application/merge-patch+json",
                )
                log(f"{node.cluster.name}/{namespace}/{name}: load balancer at {address}")

    # -- what it did, for whoever reads .e2e/kubelet/ --------------------------------------------

    def _append(self, filename: str, line: str) -> None:
        with self._log_lock, (self.workdir / filename).open("a", encoding="utf-8") as out:
            out.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def record_error(self, message: str) -> None:
        log(f"error: {message}")
        self._append("errors.log", message)

    def close(self) -> None:
        self.stopping.set()
        threads = [threading.Thread(target=node.stop) for node in self.nodes.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for listener in self.listeners:
            with contextlib.suppress(OSError):
                path = listener.getsockname()
                podnet.close_listener(listener)
                if isinstance(path, str) and path:
                    Path(path).unlink(missing_ok=True)
        shutil.rmtree(self.sockets, ignore_errors=True)


def report(workdir: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The tail of every container log, the routes taken and the sync errors: evidence for a failure."""
    parts = []
    named = [workdir / name for name in ("egress.log", "services.log", "errors.log")]
    for path in [*sorted((workdir / "logs").glob("*.log")), *named]:
        if path.is_file():
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name} (last {len(tail)} lines)\n" + "\n".join(tail))
    return "\n".join(parts)


def running(client: Kube, namespace: str, deployment: str) -> bool:
    """Whether the kubelet runs the Deployment's pods: it holds each pod it runs."""
    found = get(client, f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}")
    labels = ((found or {}).get("spec") or {}).get("selector", {}).get("matchLabels") or {}
    if not labels:
        return False
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    listed = client.list("v1", "Pod", namespace, selector)
    return any(PROCESS_FINALIZER in (pod["metadata"].get("finalizers") or []) for pod in listed)


def _check_inotify() -> None:
    with contextlib.suppress(OSError, ValueError):
        limit = int(INOTIFY_LIMIT.read_text(encoding="utf-8"))
        if limit < INOTIFY_WANTED:
            log(
                f"warning: this machine allows {limit} inotify instances per user; OCM's processes fail with "
                f"'too many open files' beyond it (`sudo sysctl fs.inotify.max_user_instances={INOTIFY_WANTED}`)"
            )


def serve(
    workdir: Path,
    kubeconfigs: Mapping[str, Path],
    egress: Callable[[str], Path],
    charts_url: Path,
    charts_port: int = 0,
) -> None:
    """Be the kubelet of every cluster's node, and serve the clusters' chart repository (its URL
    written to charts_url; on charts_port when free), until SIGTERM or SIGINT; then stop each pod gracefully."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _sig, _frame: stopping.set())
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1`: every thread's stack in kubelet.log
    for stale in ("logs", "pods"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    members = {name: Cluster(name, path, Kube.from_file(str(path))) for name, path in kubeconfigs.items()}
    _check_inotify()
    repo = ChartRepo(port=charts_port)
    runtime = Runtime(workdir, members, egress)
    try:
        charts_url.write_text(repo.url, encoding="utf-8")
        runtime.run(list(members))
        log(f"the kubelet of {', '.join(members)}; chart repository at {repo.url}")
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
    run = sub.add_parser("serve", help="be the kubelet of the named local clusters until SIGTERM")
    run.add_argument("names", nargs="+", metavar="NAME")
    run.add_argument("--charts-port", type=int, default=0, help="the chart repository's port, when free")
    args = parser.parse_args(argv)
    kubeconfigs = {name: clusters.kubeconfig_path(name) for name in args.names}
    serve(clusters.KUBELET_DIR, kubeconfigs, clusters.egress_socket, clusters.CHARTS_URL, args.charts_port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
