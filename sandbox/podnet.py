"""A pod's network on this machine: the pod sandbox, one process per pod holding its namespaces.

The kubelet (sandbox/kubelet.py) starts it as `unshare --user --map-root-user --net --uts -- python
-m sandbox.podnet ...`; every container of the pod then joins its user, network and UTS namespaces,
so they share one loopback and one hostname, as a pod's containers do. Inside:

- eth0 carries the pod's IP; the Service and load-balancer address ranges route over it to a second
  network namespace, the service side, where those addresses are local and every Service port is
  listened on. A connection there is handed to the kubelet (`CONNECT <cluster> <ip> <port>` on its
  Unix socket), which picks a ready endpoint of the Service and dials it through that pod's
  sandbox. The service side is a namespace of its own so that its listeners never take a port from
  the pod's own processes (a webhook on 0.0.0.0:9443 beside a Service on 9443);
- 127.0.0.1:<port> reaches the host's 127.0.0.1:<port> of each API server (Unix-socket bridges);
- the control socket (a file on the host) takes one command per connection: `DIAL <ip> <port>`
  connects inside the pod (answering `OK`, then copying both ways: how Services, kube-apiserver's
  egress and the probes reach a pod's process) and `PORTS <port> ...` sets the service side's
  listeners.

    python -m sandbox.podnet --control SOCKET --services SOCKET --cluster NAME --hostname NAME
        --pod-ip IP --pod-dir DIR [--route CIDR ...] [--inbound PORT=SOCKET ...]

It runs until SIGTERM. The helpers (pipe, serve, listeners) serve the kubelet's side too, and
`leftovers` finds what a killed kubelet left running: its sandboxes (their command line names the
pod's directory) and every process in their network namespaces.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

BUFFER = 65536
CLONE_NEWNET = 0x40000000
DIAL_TIMEOUT = 10.0
COMMAND_LIMIT = 4096
POD_LINK = "eth0"
SERVICE_LINK = "svc0"


def pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes, then close both."""

    def one_way(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(BUFFER):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    other = threading.Thread(target=one_way, args=(b, a), daemon=True)
    other.start()
    one_way(a, b)
    other.join()
    a.close()
    b.close()


def serve(listener: socket.socket, handle: Callable[[socket.socket], None]) -> threading.Thread:
    """Accept connections on a daemon thread, each handled on its own; ends when listener closes."""

    def loop() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def unix_listener(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(64)
    return sock


def close_listener(listener: socket.socket) -> None:
    """Stop listening now: shutdown wakes the thread blocked in accept(), which close alone does not."""
    with contextlib.suppress(OSError):
        listener.shutdown(socket.SHUT_RDWR)
    listener.close()


def tcp_listener(port: int, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    return sock


def forward_to_tcp(port: int) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=DIAL_TIMEOUT)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        pipe(conn, upstream)

    return handle


def forward_to_unix(
    path: Path, greeting: Callable[[socket.socket], bytes] | None = None
) -> Callable[[socket.socket], None]:
    """Each connection to a Unix socket, first sending what greeting makes of it (if anything)."""

    def handle(conn: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(str(path))
            if greeting is not None:
                upstream.sendall(greeting(conn))
        except OSError:
            conn.close()
            upstream.close()
            return
        pipe(conn, upstream)

    return handle


def read_line(conn: socket.socket) -> str:
    """One command line, read byte by byte so that nothing after it is consumed."""
    line = b""
    while not line.endswith(b"\n") and len(line) < COMMAND_LIMIT:
        byte = conn.recv(1)
        if not byte:
            break
        line += byte
    return line.decode("utf-8", "replace").strip()


def dial(control: Path, ip: str, port: int, timeout: float = DIAL_TIMEOUT) -> socket.socket:
    """A connection to ip:port inside the pod whose control socket this is (OSError when refused)."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(str(control))
        conn.sendall(f"DIAL {ip} {port}\n".encode())
        answer = read_line(conn)
        if answer != "OK":
            raise ConnectionRefusedError(f"{ip}:{port} in the pod: {answer or 'no answer'}")
        conn.settimeout(None)
    except BaseException:
        conn.close()
        raise
    return conn


def set_ports(control: Path, ports: Sequence[int], timeout: float = DIAL_TIMEOUT) -> None:
    """Make the pod's service side listen on exactly these ports."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(control))
        conn.sendall(("PORTS " + " ".join(str(port) for port in sorted(ports)) + "\n").encode())
        answer = read_line(conn)
    if answer != "OK":
        raise OSError(f"the pod sandbox refused its service ports: {answer or 'no answer'}")


class _Namespaces:
    """The pod's network namespace and its service side, switched per thread (setns)."""

    def __init__(self) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.pod = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._check(self.libc.unshare(CLONE_NEWNET), "unshare")
        self.services = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._check(self.libc.setns(self.pod, CLONE_NEWNET), "setns")
        self.lock = threading.Lock()

    @staticmethod
    def _check(result: int, what: str) -> None:
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    @contextlib.contextmanager
    def service_side(self) -> Iterator[None]:
        """The calling thread in the service side's namespace for the block (sockets made there stay there)."""
        with self.lock:
            self._check(self.libc.setns(self.services, CLONE_NEWNET), "setns")
            try:
                yield
            finally:
                self._check(self.libc.setns(self.pod, CLONE_NEWNET), "setns")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, timeout=10, stdout=subprocess.DEVNULL)


class Sandbox:
    """The pod's network, set up at start and served until the process ends."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.cluster: str = args.cluster
        self.services_socket = Path(args.services)
        self.listeners: dict[int, socket.socket] = {}
        self.ports_lock = threading.Lock()
        socket.sethostname(args.hostname)
        _ip("link", "set", "lo", "up")
        self.namespaces = _Namespaces()
        with self.namespaces.service_side():
            _ip("link", "set", "lo", "up")
            _ip("link", "add", SERVICE_LINK, "type", "veth", "peer", "name", POD_LINK)
            _ip("link", "set", POD_LINK, "netns", f"/proc/{os.getpid()}/fd/{self.namespaces.pod}")
            _ip("link", "set", SERVICE_LINK, "up")
            _ip("route", "add", f"{args.pod_ip}/32", "dev", SERVICE_LINK)
            for cidr in args.route:
                _ip("route", "add", "local", cidr, "dev", "lo")
        _ip("addr", "add", f"{args.pod_ip}/32", "dev", POD_LINK)
        _ip("link", "set", POD_LINK, "up")
        for cidr in args.route:
            _ip("route", "add", cidr, "dev", POD_LINK)
        for port, path in args.inbound:
            serve(tcp_listener(int(port)), forward_to_unix(Path(path)))
        self.control = unix_listener(Path(args.control))  # last: its socket accepting means ready
        serve(self.control, self._command)

    def _command(self, conn: socket.socket) -> None:
        try:
            words = read_line(conn).split()
            if words[:1] == ["DIAL"] and len(words) == 3:
                self._dial(conn, words[1], int(words[2]))
            elif words[:1] == ["PORTS"]:
                self._set_ports({int(port) for port in words[1:]})
                conn.sendall(b"OK\n")
                conn.close()
            else:
                conn.sendall(b"ERR unknown command\n")
                conn.close()
        except (OSError, ValueError) as err:
            with contextlib.suppress(OSError):
                conn.sendall(f"ERR {err}\n".encode())
            conn.close()

    @staticmethod
    def _dial(conn: socket.socket, ip: str, port: int) -> None:
        try:
            upstream = socket.create_connection((ip, port), timeout=DIAL_TIMEOUT)
        except OSError as err:
            conn.sendall(f"ERR {err.strerror or err}\n".encode())
            conn.close()
            return
        upstream.settimeout(None)
        conn.sendall(b"OK\n")
        pipe(conn, upstream)

    def _set_ports(self, ports: set[int]) -> None:
        with self.ports_lock:
            for port in set(self.listeners) - ports:
                close_listener(self.listeners.pop(port))
            for port in sorted(ports - set(self.listeners)):
                with self.namespaces.service_side():
                    listener = tcp_listener(port, "0.0.0.0")
                self.listeners[port] = listener
                serve(listener, forward_to_unix(self.services_socket, self._greeting))

    def _greeting(self, conn: socket.socket) -> bytes:
        """Who the connection was for: the Service (or load-balancer) address and port it reached."""
        ip, port = conn.getsockname()[:2]
        return f"CONNECT {self.cluster} {ip} {port}\n".encode()

    def close(self) -> None:
        path = self.control.getsockname()
        close_listener(self.control)
        Path(path).unlink(missing_ok=True)


def _pair(value: str) -> tuple[str, str]:
    left, sep, right = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected A=B, got {value!r}")
    return left, right


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--control", required=True, metavar="SOCKET")
    parser.add_argument("--services", required=True, metavar="SOCKET")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--pod-ip", required=True)
    parser.add_argument("--route", action="append", default=[], metavar="CIDR")
    parser.add_argument("--inbound", type=_pair, action="append", default=[], metavar="PORT=SOCKET")
    parser.add_argument("--pod-dir", required=True, help="the pod's directory: names this sandbox as its kubelet's")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _sig, _frame: stopping.set())
    sandbox = Sandbox(args)
    try:
        stopping.wait()
    finally:
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())


def leftovers(directory: Path) -> list[int]:
    """Processes of the pods under directory still running: each sandbox whose command line names a
    path under it, and every process sharing such a sandbox's network namespace (its containers)."""
    marker = str(directory).encode()
    sandboxes, namespaces = set(), set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "cmdline").read_bytes():
                sandboxes.add(int(entry.name))
                namespaces.add(os.readlink(entry / "ns" / "net"))
    namespaces.discard(os.readlink("/proc/self/ns/net"))  # a sandbox not yet in its own: never the host's
    found = set(sandboxes)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "ns" / "net") in namespaces:
                    found.add(int(entry.name))
    return sorted(found)
