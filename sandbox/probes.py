"""Container probes as the kubelet runs them, inside the pod's network, and the pod's listening ports.

A readinessProbe (or startupProbe) is parsed with Kubernetes' defaults and run against the pod's IP
through its sandbox (sandbox/podnet.py `dial`): httpGet (HTTP or HTTPS, certificates not verified,
2xx/3xx pass), tcpSocket (the connection opens), exec (the command exits 0 in the container) and
grpc (taken as tcpSocket: the health protocol itself is not spoken). Results count against
successThreshold/failureThreshold as the kubelet counts them. One difference, for speed only: until
a probe has passed it runs every second rather than every periodSeconds, so a pod turns Ready as
soon as it can; once Ready, periodSeconds applies.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]
UNREADY_PERIOD = 1.0
USER_AGENT = "kube-probe/1.33"
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp{,6}

Dial = Callable[[str, int, float], socket.socket]
Exec = Callable[[Sequence[str], float], int]


@dataclass(frozen=True)
class Probe:
    kind: str  # "http", "tcp" or "exec"
    port: int = 0
    host: str = ""
    path: str = "/"
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


def _port(value: object, ports: Mapping[str, int]) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(str(value))
    if str(value) in ports:
        return ports[str(value)]
    raise ValueError(f"probe port {value!r} is neither a number nor a port of the container")


def parse(spec: Mapping[str, Any] | None, ports: Mapping[str, int]) -> Probe | None:
    """A probe from its pod spec (None for none); named ports resolved against the container's."""
    if not spec:
        return None
    timing = {
        "initial_delay": float(spec.get("initialDelaySeconds") or 0),
        "period": float(spec.get("periodSeconds") or 10),
        "timeout": float(spec.get("timeoutSeconds") or 1),
        "success_threshold": int(spec.get("successThreshold") or 1),
        "failure_threshold": int(spec.get("failureThreshold") or 3),
    }
    if "httpGet" in spec:
        http = spec["httpGet"]
        headers = tuple((str(h["name"]), str(h["value"])) for h in http.get("httpHeaders") or [])
        return Probe(
            "http",
            port=_port(http["port"], ports),
            host=str(http.get("host") or ""),
            path=str(http.get("path") or "/"),
            scheme=str(http.get("scheme") or "HTTP").upper(),
            headers=headers,
            **timing,  # type: ignore[arg-type]
        )
    if "tcpSocket" in spec:
        tcp = spec["tcpSocket"]
        return Probe("tcp", port=_port(tcp["port"], ports), host=str(tcp.get("host") or ""), **timing)  # type: ignore[arg-type]
    if "grpc" in spec:
        return Probe("tcp", port=int(spec["grpc"]["port"]), **timing)  # type: ignore[arg-type]
    if "exec" in spec:
        return Probe("exec", command=tuple(str(w) for w in spec["exec"].get("command") or []), **timing)  # type: ignore[arg-type]
    raise ValueError(f"a probe of no known kind: {sorted(spec)}")


def run(probe: Probe, pod_ip: str, dial: Dial, execute: Exec) -> bool:
    """One run of the probe: True when it passes, False on any failure (timeouts included)."""
    try:
        if probe.kind == "exec":
            return execute(probe.command, probe.timeout) == 0
        conn = dial(probe.host or pod_ip, probe.port, probe.timeout)
        with conn:
            if probe.kind == "tcp":
                return True
            return 200 <= _http_status(probe, conn, probe.host or pod_ip) < 400
    except (OSError, ValueError):
        return False


def _http_status(probe: Probe, conn: socket.socket, host: str) -> int:
    conn.settimeout(probe.timeout)
    stream: socket.socket = conn
    if probe.scheme == "HTTPS":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        stream = context.wrap_socket(conn)
    lines = [f"GET {probe.path} HTTP/1.1", f"Host: {host}:{probe.port}", f"User-Agent: {USER_AGENT}", "Accept: */*"]
    lines += [f"{name}: {value}" for name, value in probe.headers] + ["Connection: close", "", ""]
    stream.sendall("\r\n".join(lines).encode("latin-1"))
    head = b""
    while b"\r\n" not in head and len(head) < 4096:
        chunk = stream.recv(1024)
        if not chunk:
            break
        head += chunk
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or not status[0].startswith(b"HTTP/"):
        raise ValueError(f"not an HTTP answer: {head[:40]!r}")
    return int(status[1])


@dataclass
class ProbeState:
    """One probe of one container since its start: when it runs next, and whether it passes."""

    probe: Probe
    started: float
    passed: bool = False
    successes: int = 0
    failures: int = 0
    next_run: float = field(init=False)

    def __post_init__(self) -> None:
        self.next_run = self.started + self.probe.initial_delay

    def due(self, now: float) -> bool:
        return now >= self.next_run

    def record(self, ok: bool, now: float) -> None:
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= self.probe.success_threshold:
                self.passed = True
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= self.probe.failure_threshold:
                self.passed = False
        self.next_run = now + (self.probe.period if self.passed else min(self.probe.period, UNREADY_PERIOD))


def listening_ports(tables: Sequence[str]) -> set[int]:
    """The TCP ports a network namespace listens on, from its /proc/<pid>/net/tcp and tcp6."""
    ports = set()
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == LISTEN:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def unix_socket_accepts(path: Path) -> bool:
    """Whether a server listens on this Unix socket (a process's control or egress socket is up)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True
