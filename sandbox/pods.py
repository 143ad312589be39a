"""One pod the local kubelet runs: its volumes, its sandbox, its containers, its probes, its status.

sandbox/kubelet.py decides which pods are ours (sandbox/images.py) and hands each to a PodRuntime,
which does for it what a kubelet does: materialise its volumes (Secrets, ConfigMaps, downward API,
projected service-account tokens from TokenRequest, emptyDirs), kept in sync and swapped whole as
the kubelet swaps them; start its sandbox (sandbox/podnet.py: its network, hostname, /etc/hosts);
run its init containers in order, then its containers (sandbox/container.py: a root of its own with
the volumes at their mount paths), restarting them per restartPolicy with a backoff; probe them
(sandbox/probes.py); and write the pod's status (phase, conditions, container states, IPs). A pod
being deleted gets SIGTERM, its grace period, then SIGKILL.

A container whose image is not ours in a pod that is (a sidecar, an init container of another
image) is taken as kwok would take it: running and ready, or an init container done, with nothing
behind it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox import images, podnet, probes

Json = dict[str, Any]
REPO_ROOT = Path(__file__).resolve().parents[1]
CONTAINER_MODULE = "sandbox.container"
PODNET_MODULE = "sandbox.podnet"
BACKOFF_SECONDS = 5.0  # first restart; doubles per restart up to BACKOFF_MAX_SECONDS
BACKOFF_MAX_SECONDS = 40.0
BACKOFF_RESET_SECONDS = 60.0  # a container that ran this long restarts after BACKOFF_SECONDS again
GRACE_MAX_SECONDS = 30.0
SANDBOX_START_SECONDS = 20.0
TOKEN_REFRESH = 0.8  # of a token's lifetime, as the kubelet refreshes projected tokens
DEFAULT_TOKEN_SECONDS = 3600
PROBE_TICK = 0.25
TICK_SECONDS = 0.5
DEFAULT_PATH = ":".join(images.DEFAULT_PATH)
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_atomic(directory: Path, files: Mapping[str, bytes]) -> None:
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


def write_file(path: Path, content: str) -> None:
    """Replace a file whole (a reader sees the old content or the new, never half)."""
    if path.is_file() and path.read_text(encoding="utf-8") == content:
        return
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(content, encoding="utf-8")
    partial.replace(path)


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) references: defined names replaced, $$ an escaped $, anything else kept."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(one, value)


class Sources:
    """What a pod's volumes and environment are made of, from the kubelet's caches and the API."""

    def secret(self, namespace: str, name: str) -> Json | None:
        raise NotImplementedError

    def config_map(self, namespace: str, name: str) -> Json | None:
        raise NotImplementedError

    def token(self, pod: Json, audience: str | None, seconds: int) -> tuple[str, float] | None:
        """A token of the pod's ServiceAccount bound to the pod, and when it expires (time.time());
        None while the account does not exist."""
        raise NotImplementedError


def field_value(pod: Json, path: str) -> str:
    """A downward-API fieldRef of the pod, as the kubelet resolves it."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((meta.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.podIPs": ",".join(ip["ip"] for ip in status.get("podIPs") or []),
        "status.hostIP": status.get("hostIP"),
        "status.hostIPs": ",".join(ip["ip"] for ip in status.get("hostIPs") or []),
    }
    return str(simple.get(path) or "")


def _keyed(obj: Json | None, secret: bool) -> dict[str, bytes]:
    data = (obj or {}).get("data") or {}
    found = {k: base64.b64decode(v) if secret else str(v).encode() for k, v in data.items()}
    if not secret:
        found.update({k: base64.b64decode(v) for k, v in ((obj or {}).get("binaryData") or {}).items()})
    return found


@dataclass
class Volume:
    """One volume of a pod, materialised in `path`; `sync` brings it up to date."""

    source: Json
    path: Path
    content: dict[str, bytes] | None = None
    token_expires: float = 0.0
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def writable(self) -> bool:
        return not any(kind in self.source for kind in ("secret", "configMap", "projected", "downwardAPI"))

    def sync(self, pod: Json, sources: Sources) -> bool:
        """Up to date now; False while something it must hold does not exist yet."""
        if self.writable:  # emptyDir, and what cannot be had here (hostPath, claims): a directory of its own
            self.path.mkdir(parents=True, exist_ok=True)
            return True
        files = self._files(pod, sources)
        if files is None:
            return False
        if files != self.content:
            write_atomic(self.path, files)
            self.content = files
        return True

    def _files(self, pod: Json, sources: Sources) -> dict[str, bytes] | None:
        namespace = pod["metadata"]["namespace"]
        if "projected" in self.source:
            files: dict[str, bytes] = {}
            for item in self.source["projected"].get("sources") or []:
                part = self._projection(item, pod, sources)
                if part is None:
                    return None
                files.update(part)
            return files
        if "downwardAPI" in self.source:
            return self._downward(self.source["downwardAPI"], pod)
        secret = "secret" in self.source
        spec = self.source["secret"] if secret else self.source["configMap"]
        name = spec.get("secretName") if secret else spec.get("name")
        obj = sources.secret(namespace, str(name)) if secret else sources.config_map(namespace, str(name))
        return _items(obj, spec, secret)

    def _projection(self, item: Json, pod: Json, sources: Sources) -> dict[str, bytes] | None:
        namespace = pod["metadata"]["namespace"]
        if "secret" in item:
            spec = item["secret"]
            return _items(sources.secret(namespace, str(spec.get("name"))), spec, True)
        if "configMap" in item:
            spec = item["configMap"]
            return _items(sources.config_map(namespace, str(spec.get("name"))), spec, False)
        if "downwardAPI" in item:
            return self._downward(item["downwardAPI"], pod)
        if "serviceAccountToken" in item:
            spec = item["serviceAccountToken"]
            path = str(spec.get("path") or "token")
            if path not in self.tokens or time.time() >= self.token_expires:
                issued = time.time()
                seconds = int(spec.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS)
                minted = sources.token(pod, spec.get("audience"), seconds)
                if minted is None:
                    return None
                token, expires = minted
                self.tokens[path] = token
                self.token_expires = issued + (expires - issued) * TOKEN_REFRESH
            return {path: self.tokens[path].encode()}
        return {}  # clusterTrustBundle and the like: not served here

    @staticmethod
    def _downward(spec: Json, pod: Json) -> dict[str, bytes]:
        files = {}
        for item in spec.get("items") or []:
            if "fieldRef" in item:
                files[str(item["path"])] = field_value(pod, str(item["fieldRef"]["fieldPath"])).encode()
            else:  # resourceFieldRef: no resources are accounted here
                files[str(item["path"])] = b""
        return files


def _items(obj: Json | None, spec: Json, secret: bool) -> dict[str, bytes] | None:
    """A Secret's or ConfigMap's keys as files (its items mapping when given); None while a required
    one does not exist."""
    if obj is None:
        return {} if spec.get("optional") else None
    data = _keyed(obj, secret)
    if not spec.get("items"):
        return data
    return {str(item["path"]): data[item["key"]] for item in spec["items"] if item["key"] in data}


@dataclass
class Context:
    """What a pod needs from the kubelet around it."""

    cluster: str
    api_port: int
    sources: Sources
    sandbox_args: Callable[[PodRuntime], list[str]]  # the sandbox's routes, bridges and sockets
    network: Callable[[PodRuntime], None]  # (re)writes the pod's /etc/hosts, resolv.conf, hostname
    service_ports: Callable[[Json], set[int]]  # the ports Services selecting the pod target
    ports: Callable[[], set[int]]  # the ports the pod's service side listens on
    patch_status: Callable[[Json, Json], None]  # (pod, status)
    logs: Path
    log: Callable[[str], None]


@dataclass
class ContainerRuntime:
    spec: Json
    program: images.Program | None
    init: bool
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    state: str = "waiting"  # waiting, running, terminated
    reason: str = "ContainerCreating"
    message: str = ""
    started_at: str = ""
    started: float = 0.0
    finished_at: str = ""
    exit_code: int | None = None
    restarts: int = 0
    last_terminated: Json | None = None
    backoff_until: float = 0.0
    readiness: probes.ProbeState | None = None
    startup: probes.ProbeState | None = None

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def running(self) -> bool:
        return self.state == "running"

    def ports(self) -> dict[str, int]:
        return {str(p["name"]): int(p["containerPort"]) for p in self.spec.get("ports") or [] if p.get("name")}

    def declared_ports(self) -> set[int]:
        return {int(p["containerPort"]) for p in self.spec.get("ports") or [] if (p.get("protocol") or "TCP") == "TCP"}

    def has_started(self) -> bool:
        return self.running and (self.startup is None or self.startup.passed)

    def terminated(self) -> Json:
        return {
            "exitCode": self.exit_code if self.exit_code is not None else 0,
            "reason": "Completed" if self.exit_code == 0 else "Error",
            "startedAt": self.started_at or None,
            "finishedAt": self.finished_at or now_iso(),
        }


class PodRuntime:
    """One pod from its first sight to its stop."""

    def __init__(
        self,
        context: Context,
        pod: Json,
        programs: Mapping[str, images.Program | None],
        directory: Path,
        pod_ip: str,
        control: Path,
    ) -> None:
        self.context = context
        self.control = control
        self.pod = pod
        self.uid = str(pod["metadata"]["uid"])
        self.namespace = str(pod["metadata"]["namespace"])
        self.name = str(pod["metadata"]["name"])
        self.directory = directory
        self.pod_ip = pod_ip
        self.spec: Json = pod["spec"]
        self.restart_policy = str(self.spec.get("restartPolicy") or "Always")
        self.volumes = {
            str(v["name"]): Volume(v, directory / "volumes" / str(v["name"])) for v in self.spec.get("volumes") or []
        }
        label = f"{context.cluster}.{self.namespace}.{self.name}"
        self.init_containers = [
            ContainerRuntime(c, programs.get(c["name"]), True, context.logs / f"{label}.{c['name']}.log")
            for c in self.spec.get("initContainers") or []
        ]
        self.containers = [
            ContainerRuntime(c, programs.get(c["name"]), False, context.logs / f"{label}.{c['name']}.log")
            for c in self.spec.get("containers") or []
        ]
        base = {
            s["name"]: int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or []
        }
        for container in self.containers:
            container.restarts = base.get(container.name, 0)
        self.sandbox: subprocess.Popen[bytes] | None = None
        self.ports_set: set[int] | None = None  # the service side's ports, as last set
        self.start_time = ""
        self.phase = "Pending"
        self.stopping = False
        self.done = threading.Event()
        self.last_status: Json | None = None
        self.transitions: dict[str, tuple[str, str]] = {}
        self.waiting_reported = 0.0
        self.first_seen = time.monotonic()
        self.prober: threading.Thread | None = None
        self.lock = threading.Lock()
        self.wake = threading.Event()

    # -- what Services and the kubelet see of it ---------------------------------------------------

    @property
    def labels(self) -> Mapping[str, str]:
        return dict(self.pod["metadata"].get("labels") or {})

    @property
    def hostname(self) -> str:
        return str(self.spec.get("hostname") or self.name)[:63]

    @property
    def terminating(self) -> bool:
        return bool(self.pod["metadata"].get("deletionTimestamp")) or self.stopping

    @property
    def ready(self) -> bool:
        return self.phase == "Running" and self.containers_ready() and self.sandbox_pid is not None

    @property
    def sandbox_pid(self) -> int | None:
        return self.sandbox.pid if self.sandbox is not None and self.sandbox.poll() is None else None

    def port_named(self, name: str) -> int | None:
        for container in self.containers:
            if name in container.ports():
                return container.ports()[name]
        return None

    def listening(self) -> set[int]:
        pid = self.sandbox_pid
        if pid is None:
            return set()
        tables = []
        for table in ("tcp", "tcp6"):
            with contextlib.suppress(OSError):
                tables.append(Path(f"/proc/{pid}/net/{table}").read_text(encoding="utf-8"))
        return probes.listening_ports(tables)

    def containers_ready(self) -> bool:
        listening: set[int] | None = None
        for container in self.containers:
            if container.program is None:
                continue
            if not container.has_started():
                return False
            if container.readiness is not None:
                if not container.readiness.passed:
                    return False
            elif container.declared_ports():
                listening = self.listening() if listening is None else listening
                if not container.declared_ports() <= listening:
                    return False
        if not any(c.readiness is not None for c in self.containers if c.program is not None):
            wanted = self.context.service_ports(self.pod)
            if wanted and not wanted <= (self.listening() if listening is None else listening):
                return False
        return True

    # -- the sync loop's step ------------------------------------------------------------------------

    def update(self, pod: Json) -> None:
        self.pod = pod
        self.wake.set()

    def run(self) -> None:
        """The pod's worker: a step whenever something changed, and every TICK_SECONDS."""
        while not (self.stopping or self.done.is_set() or self.phase in ("Succeeded", "Failed")):
            self.tick()
            self.wake.wait(TICK_SECONDS)
            self.wake.clear()

    def tick(self) -> None:
        """One step: volumes, sandbox, containers, then the status when it changed (skipped while
        the pod stops)."""
        if not self.lock.acquire(blocking=False):
            return
        try:
            if not (self.stopping or self.done.is_set() or self.phase in ("Succeeded", "Failed")):
                self._step()
        finally:
            self.lock.release()

    def _step(self) -> None:
        if not self._volumes_ready() and not self.start_time:  # once started, a source gone keeps its last content
            self._report_waiting("its volumes (a Secret, ConfigMap or ServiceAccount that does not exist yet)")
            self._write_status()
            return
        if self.sandbox is not None and self.sandbox.poll() is not None:
            self.context.log(f"{self._label()}: its sandbox exited ({self.sandbox.returncode}); starting the pod again")
            self._kill_containers(0.0)
            self.sandbox = None
        if self.sandbox is None and not self._start_sandbox():
            return
        self._serve_services()
        if self._run_init_containers():
            for container in self.containers:
                self._keep_running(container)
            self._finish_if_done()
        self._write_status()

    def _label(self) -> str:
        return f"{self.context.cluster}/{self.namespace}/{self.name}"

    def _report_waiting(self, what: str) -> None:
        waited = time.monotonic() - self.first_seen
        if waited - self.waiting_reported >= 15:
            self.waiting_reported = waited
            self.context.log(f"{self._label()}: waiting {waited:.0f}s for {what}")

    def _volumes_ready(self) -> bool:
        return all([volume.sync(self.pod, self.context.sources) for volume in self.volumes.values()])

    def _start_sandbox(self) -> bool:
        self.network_dir().mkdir(parents=True, exist_ok=True)
        self.context.network(self)
        self.ports_set = None
        command = ["unshare", "--user", "--map-root-user", "--net", "--uts", "--", sys.executable, "-m", PODNET_MODULE]
        command += self.context.sandbox_args(self)
        log_path = self.context.logs / f"{self.context.cluster}.{self.namespace}.{self.name}.sandbox.log"
        with log_path.open("ab") as out:
            self.sandbox = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        deadline = time.monotonic() + SANDBOX_START_SECONDS
        while not probes.unix_socket_accepts(self.control):
            if self.sandbox.poll() is not None or time.monotonic() >= deadline:
                self.context.log(f"{self._label()}: its sandbox did not start (log {log_path})")
                self._stop_sandbox()
                return False
            time.sleep(0.05)
        if not self.start_time:
            self.start_time = now_iso()
        if self.prober is None:
            self.prober = threading.Thread(target=self._probe_loop, name=f"probe {self.name}", daemon=True)
            self.prober.start()
        return True

    def network_dir(self) -> Path:
        return self.directory / "network"

    def _serve_services(self) -> None:
        """The pod's names and Service ports up to date (the kubelet wakes every pod when Services change)."""
        self.context.network(self)
        wanted = self.context.ports()
        if wanted != self.ports_set:
            podnet.set_ports(self.control, sorted(wanted))
            self.ports_set = wanted

    def _run_init_containers(self) -> bool:
        """Each init container in order, to completion; True once all are done."""
        for container in self.init_containers:
            if container.state == "terminated" and container.exit_code == 0:
                continue
            if container.state == "terminated" and container.proc is None and not self._restarts(container, True):
                self.phase = "Failed"
                self.context.log(f"{self._label()}: init container {container.name} failed: Failed")
                self._stop_sandbox()
                return False
            if container.program is None:
                container.state, container.exit_code = "terminated", 0
                container.started_at = container.finished_at = now_iso()
                continue
            self._keep_running(container, init=True)
            return False
        return True

    def _keep_running(self, container: ContainerRuntime, *, init: bool = False) -> None:
        if container.program is None:
            if container.state != "running":
                container.state, container.started_at = "running", now_iso()
            return
        if container.proc is not None:
            code = container.proc.poll()
            if code is None:
                return
            self._exited(container, code)
        if container.state == "terminated" and not self._restarts(container, init):
            return
        if time.monotonic() < container.backoff_until:
            container.state, container.reason = "waiting", "CrashLoopBackOff"
            return
        self._start(container)

    def _restarts(self, container: ContainerRuntime, init: bool) -> bool:
        if self.restart_policy == "Always" and not init:
            return True
        if self.restart_policy == "Never":
            return False
        return container.exit_code != 0  # OnFailure (and init containers under Always)

    def _exited(self, container: ContainerRuntime, code: int) -> None:
        ran = time.monotonic() - container.started
        container.proc = None
        container.exit_code = code if code >= 0 else 128 - code
        container.finished_at = now_iso()
        container.state = "terminated"
        container.last_terminated = {"terminated": container.terminated()}
        container.readiness = container.startup = None
        delay = (
            BACKOFF_SECONDS
            if ran >= BACKOFF_RESET_SECONDS
            else min(BACKOFF_MAX_SECONDS, BACKOFF_SECONDS * 2 ** min(container.restarts, 8))
        )
        container.backoff_until = time.monotonic() + delay
        if self._restarts(container, container.init):
            self.context.log(
                f"{self._label()}/{container.name} exited with {container.exit_code}; restarting in {delay:.0f}s"
            )
            container.restarts += 1
        else:
            self.context.log(f"{self._label()}/{container.name} exited with {container.exit_code}")

    def _start(self, container: ContainerRuntime) -> None:
        program = container.program
        assert program is not None
        if not program.build.binary.is_file():
            container.state, container.reason = "waiting", "ErrImagePull"
            container.message = f"{program.tool} is not built here: `python -m sandbox.tools --only {program.tool}`"
            return
        env = self._environment(container)
        argv = [expand(word, env) for word in program.argv]
        spec = {
            "root": str(self.directory / "containers" / container.name / "root"),
            "network": str(self.network_dir()),
            "binds": self._binds(container, program),
            "argv": argv,
            "env": env,
            "workingDir": container.spec.get("workingDir") or "/",
        }
        spec_path = self.directory / "containers" / container.name / "spec.json"
        spec_path.parent.mkdir(parents=True, exist_ok=True)
        spec_path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
        command = [
            "nsenter",
            f"--target={self.sandbox_pid}",
            "--user",
            "--net",
            "--uts",
            "--preserve-credentials",
            "--",
            "unshare",
            "--mount",
            "--",
            sys.executable,
            "-m",
            CONTAINER_MODULE,
            str(spec_path),
        ]
        with container.log_path.open("ab") as out:
            out.write(f"--- start {container.restarts} at {now_iso()}: {' '.join(argv)}\n".encode())
            out.flush()
            container.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                env={"PATH": os.environ.get("PATH", DEFAULT_PATH), "PYTHONDONTWRITEBYTECODE": "1"},
                start_new_session=True,
            )
        now = time.monotonic()
        container.state, container.reason, container.message = "running", "", ""
        container.started, container.started_at = now, now_iso()
        container.exit_code = None
        ports = container.ports()
        readiness = probes.parse(container.spec.get("readinessProbe"), ports)
        startup = probes.parse(container.spec.get("startupProbe"), ports)
        container.readiness = probes.ProbeState(readiness, now) if readiness else None
        container.startup = probes.ProbeState(startup, now) if startup else None
        self.context.log(f"{self._label()}/{container.name}: started {program.tool} (log {container.log_path})")

    def _binds(self, container: ContainerRuntime, program: images.Program) -> list[Json]:
        binds = [{"source": str(p), "target": str(p), "readOnly": True} for p in program.build.binds]
        if not any(program.path.startswith(f"{p}/") for p in program.build.binds):
            binds.append({"source": str(program.build.binary), "target": program.path, "readOnly": True})
        mounts = []
        for mount in container.spec.get("volumeMounts") or []:
            volume = self.volumes.get(str(mount["name"]))
            if volume is None:
                continue
            source = volume.path / mount["subPath"] if mount.get("subPath") else volume.path
            read_only = bool(mount.get("readOnly")) or not volume.writable
            mounts.append(
                {"source": str(source), "target": str(mount["mountPath"]).rstrip("/") or "/", "readOnly": read_only}
            )
        return binds + sorted(mounts, key=lambda m: str(m["target"]).count("/"))

    def _environment(self, container: ContainerRuntime) -> dict[str, str]:
        sources = self.context.sources
        env = {
            "PATH": DEFAULT_PATH,
            "HOSTNAME": self.name[:63],
            "HOME": "/root",
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": str(self.context.api_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(self.context.api_port),
        }
        for source in container.spec.get("envFrom") or []:
            prefix = str(source.get("prefix") or "")
            if "configMapRef" in source:
                found = sources.config_map(self.namespace, str(source["configMapRef"]["name"]))
                env.update({prefix + k: v.decode() for k, v in _keyed(found, False).items()})
            elif "secretRef" in source:
                found = sources.secret(self.namespace, str(source["secretRef"]["name"]))
                env.update({prefix + k: v.decode() for k, v in _keyed(found, True).items()})
        pod = {
            **self.pod,
            "status": {**(self.pod.get("status") or {}), "podIP": self.pod_ip, "podIPs": [{"ip": self.pod_ip}]},
        }
        for item in container.spec.get("env") or []:
            name = str(item["name"])
            source = item.get("valueFrom") or {}
            if "value" in item:
                env[name] = expand(str(item["value"]), env)
            elif "fieldRef" in source:
                env[name] = field_value(pod, str(source["fieldRef"]["fieldPath"]))
            elif "secretKeyRef" in source or "configMapKeyRef" in source:
                secret = "secretKeyRef" in source
                ref = source["secretKeyRef" if secret else "configMapKeyRef"]
                obj = (sources.secret if secret else sources.config_map)(self.namespace, str(ref["name"]))
                value = _keyed(obj, secret).get(str(ref["key"]))
                if value is not None:
                    env[name] = value.decode()
            else:  # resourceFieldRef: no resources are accounted here
                env[name] = ""
        return env

    def _finish_if_done(self) -> None:
        """Never/OnFailure pods end: Succeeded when every container exited 0, else Failed."""
        if self.restart_policy == "Always":
            return
        ours = [c for c in self.containers if c.program is not None]
        if not ours or any(c.state != "terminated" for c in ours):
            return
        if self.restart_policy == "OnFailure" and any(c.exit_code != 0 for c in ours):
            return
        self.phase = "Succeeded" if all(c.exit_code == 0 for c in ours) else "Failed"
        for container in self.containers:
            if container.program is None:
                container.state, container.exit_code, container.finished_at = "terminated", 0, now_iso()
        self.context.log(f"{self._label()}: {self.phase}")
        self._stop_sandbox()

    # -- probes ------------------------------------------------------------------------------------

    def _probe_loop(self) -> None:
        while not self.done.is_set() and not self.stopping:
            for container in self.containers:
                for state in (container.startup, container.readiness):
                    if state is None or not container.running or not state.due(time.monotonic()):
                        continue
                    if state is container.readiness and container.startup is not None and not container.startup.passed:
                        continue
                    was = state.passed
                    ok = probes.run(state.probe, self.pod_ip, self._dial, self._exec_in(container))
                    state.record(ok, time.monotonic())
                    if state.passed != was:
                        self.wake.set()
            self.done.wait(PROBE_TICK)

    def _dial(self, ip: str, port: int, timeout: float) -> Any:
        return podnet.dial(self.control, ip, port, timeout)

    def _exec_in(self, container: ContainerRuntime) -> probes.Exec:
        def execute(command: Sequence[str], timeout: float) -> int:
            proc = container.proc
            if proc is None:
                return 1
            nsenter = ["nsenter", f"--target={proc.pid}", "--user", "--mount", "--net", "--uts", "--root", "--wd"]
            nsenter += ["--preserve-credentials", "--", *command]
            env = {"PATH": DEFAULT_PATH}
            try:
                done = subprocess.run(nsenter, env=env, capture_output=True, timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                return 1
            return done.returncode

        return execute

    # -- status ------------------------------------------------------------------------------------

    def _write_status(self) -> None:
        status = self.status()
        comparable = json.dumps(status, sort_keys=True)
        if self.last_status is None or json.dumps(self.last_status, sort_keys=True) != comparable:
            self.context.patch_status(self.pod, status)
            self.last_status = json.loads(comparable)

    def _condition(self, kind: str, value: bool, reason: str = "") -> Json:
        text = "True" if value else "False"
        previous = self.transitions.get(kind)
        if previous is None or previous[0] != text:
            self.transitions[kind] = (text, now_iso())
        condition = {
            "type": kind,
            "status": text,
            "lastTransitionTime": self.transitions[kind][1],
            "lastProbeTime": None,
        }
        if reason and not value:
            condition["reason"] = reason
        return condition

    def status(self) -> Json:
        initialized = all(c.state == "terminated" and c.exit_code == 0 for c in self.init_containers)
        running = self.sandbox_pid is not None and initialized
        if self.phase not in ("Succeeded", "Failed"):
            self.phase = (
                "Running" if running and any(c.state != "waiting" or c.restarts for c in self.containers) else "Pending"
            )
        done = self.phase in ("Succeeded", "Failed")
        containers_ready = not done and self.phase == "Running" and self.containers_ready()
        gates = [str(g["conditionType"]) for g in self.spec.get("readinessGates") or []]
        existing = {c["type"]: c for c in (self.pod.get("status") or {}).get("conditions") or []}
        gates_ok = all(existing.get(g, {}).get("status") == "True" for g in gates)
        unready = "PodCompleted" if done else "ContainersNotReady"
        conditions = [
            self._condition("PodReadyToStartContainers", self.sandbox_pid is not None or done),
            self._condition("Initialized", initialized, "ContainersNotInitialized"),
            self._condition(
                "Ready", containers_ready and gates_ok, unready if not containers_ready else "ReadinessGatesNotReady"
            ),
            self._condition("ContainersReady", containers_ready, unready),
        ]
        conditions += [existing[kind] for kind in ("PodScheduled", *gates) if kind in existing]
        status: Json = {
            "phase": self.phase,
            "conditions": conditions,
            "podIP": self.pod_ip,
            "podIPs": [{"ip": self.pod_ip}],
            "startTime": self.start_time or None,
            "containerStatuses": [self._container_status(c, containers_ready) for c in self.containers],
        }
        if self.init_containers:
            status["initContainerStatuses"] = [self._container_status(c, False) for c in self.init_containers]
        return status

    def _container_status(self, container: ContainerRuntime, pod_ready: bool) -> Json:
        if container.state == "running":
            state: Json = {"running": {"startedAt": container.started_at}}
        elif container.state == "terminated":
            state = {"terminated": container.terminated()}
        else:
            waiting: Json = {"reason": container.reason}
            if container.message:
                waiting["message"] = container.message
            state = {"waiting": waiting}
        if container.init:
            ready = container.state == "terminated" and container.exit_code == 0
        elif container.program is None:
            ready = container.running and self.phase == "Running"
        else:
            ready = pod_ready and container.running
        program = container.program
        found: Json = {
            "name": container.name,
            "image": str(container.spec.get("image") or ""),
            "imageID": program.image_id if program is not None else "",
            "ready": ready,
            "started": container.has_started() if not container.init else False,
            "restartCount": container.restarts,
            "state": state,
        }
        if container.running:
            found["containerID"] = f"sandbox://{self.uid}/{container.name}/{container.restarts}"
        if container.last_terminated is not None:
            found["lastState"] = container.last_terminated
        return found

    # -- stop --------------------------------------------------------------------------------------

    def stop(self) -> None:
        """As a kubelet stops a pod: SIGTERM to every container, its grace period, then SIGKILL."""
        self.stopping = True
        grace = self.spec.get("terminationGracePeriodSeconds")
        with self.lock:  # after a step in progress
            self._kill_containers(min(float(30 if grace is None else grace), GRACE_MAX_SECONDS))
            self._stop_sandbox()
        self.done.set()

    def _kill_containers(self, grace: float) -> None:
        running = [c for c in [*self.init_containers, *self.containers] if c.proc is not None]
        for container in running:
            assert container.proc is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(container.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for container in running:
            proc = container.proc
            assert proc is not None
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            container.proc = None
            if container.state == "running":
                container.state, container.exit_code, container.finished_at = "terminated", proc.returncode, now_iso()

    def _stop_sandbox(self) -> None:
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is None:
            return
        if sandbox.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sandbox.pid, signal.SIGTERM)
            try:
                sandbox.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(sandbox.pid, signal.SIGKILL)
                sandbox.wait()
        self.control.unlink(missing_ok=True)
