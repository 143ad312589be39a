"""A pod's network over real sockets: the pipe and the Unix-socket bridges, and a real pod sandbox in
namespaces of its own, reached only through its control socket and reaching Services only through
the kubelet's socket."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import podnet

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0
POD_IP = "10.244.0.9"
SERVICE_RANGE = "10.0.0.0/24"


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """Unix socket paths are limited to 107 bytes: a directory of their own under /tmp."""
    path = Path(tempfile.mkdtemp(prefix="podnet-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def echo() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers each connection with what it received, upper-cased."""
    listener = podnet.tcp_listener(0)

    def handle(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(podnet.BUFFER):
                conn.sendall(data.upper())

    podnet.serve(listener, handle)
    try:
        yield int(listener.getsockname()[1])
    finally:
        listener.close()


def _recv_all(conn: socket.socket) -> bytes:
    received = b""
    while data := conn.recv(podnet.BUFFER):
        received += data
    return received


def test_pipe_copies_both_ways_passes_on_the_close_and_closes_both() -> None:
    left_outer, left_inner = socket.socketpair()
    right_inner, right_outer = socket.socketpair()
    for sock in (left_outer, right_outer):
        sock.settimeout(TIMEOUT)
    piping = threading.Thread(target=podnet.pipe, args=(left_inner, right_inner), daemon=True)
    piping.start()
    payload = bytes(range(256)) * 1024  # larger than one read
    left_outer.sendall(payload)
    left_outer.shutdown(socket.SHUT_WR)
    assert _recv_all(right_outer) == payload, "the other side sees all of it, then the end"
    right_outer.sendall(b"answer")
    right_outer.shutdown(socket.SHUT_WR)
    assert _recv_all(left_outer) == b"answer"
    piping.join(TIMEOUT)
    assert not piping.is_alive()
    assert left_inner.fileno() == -1, "closed"
    assert right_inner.fileno() == -1, "closed"
    left_outer.close()
    right_outer.close()


def test_a_tcp_port_reaches_a_unix_socket_and_a_missing_one_closes_the_connection(short_dir: Path, echo: int) -> None:
    bridge = podnet.unix_listener(short_dir / "to-tcp.sock")
    podnet.serve(bridge, podnet.forward_to_tcp(echo))
    inbound = podnet.tcp_listener(0)
    assert inbound.getsockname()[0] == "127.0.0.1"
    podnet.serve(inbound, podnet.forward_to_unix(short_dir / "to-tcp.sock", lambda _conn: b"greeting:"))
    dangling = podnet.tcp_listener(0)
    podnet.serve(dangling, podnet.forward_to_unix(short_dir / "nobody.sock"))
    try:
        with socket.create_connection(inbound.getsockname(), timeout=TIMEOUT) as client:
            client.sendall(b"through two bridges")
            client.shutdown(socket.SHUT_WR)
            assert _recv_all(client) == b"GREETING:THROUGH TWO BRIDGES", "the greeting goes first"
        with socket.create_connection(dangling.getsockname(), timeout=TIMEOUT) as client:
            assert client.recv(1) == b"", "closed at once: nothing listens behind it"
    finally:
        for listener in (bridge, inbound, dangling):
            listener.close()


def test_a_unix_listener_replaces_a_stale_socket_file(short_dir: Path) -> None:
    path = short_dir / "stale.sock"
    podnet.unix_listener(path).close()
    assert path.exists()
    podnet.unix_listener(path).close()


class Services:
    """The kubelet's end of the pods' Service connections: records each CONNECT and answers it."""

    def __init__(self, path: Path) -> None:
        self.requests: list[str] = []
        self.listener = podnet.unix_listener(path)
        podnet.serve(self.listener, self._handle)

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            line = podnet.read_line(conn)
            self.requests.append(line)
            conn.sendall(f"service for {line}\n".encode())


@pytest.fixture
def sandbox(short_dir: Path, echo: int) -> Iterator[tuple[subprocess.Popen[bytes], Services]]:
    """A pod sandbox as the kubelet starts it, bridged to the echo server as to an API server."""
    bridge = podnet.unix_listener(short_dir / "api.sock")
    podnet.serve(bridge, podnet.forward_to_tcp(echo))
    services = Services(short_dir / "services.sock")
    command = ["unshare", "--user", "--map-root-user", "--net", "--uts", "--", sys.executable, "-m", "sandbox.podnet"]
    command += ["--control", str(short_dir / "pod.ctl"), "--services", str(short_dir / "services.sock")]
    command += ["--cluster", "hub", "--hostname", "web-0", "--pod-ip", POD_IP, "--pod-dir", str(short_dir)]
    command += ["--route", SERVICE_RANGE, "--inbound", f"{echo}={short_dir / 'api.sock'}"]
    proc = subprocess.Popen(command, cwd=REPO_ROOT)
    deadline = time.monotonic() + TIMEOUT
    try:
        while not (short_dir / "pod.ctl").exists():
            assert proc.poll() is None, "the sandbox exited"
            assert time.monotonic() < deadline, "the sandbox did not come up"
            time.sleep(0.05)
        yield proc, services
    finally:
        proc.terminate()
        proc.wait(TIMEOUT)
        bridge.close()
        services.listener.close()


def _in_pod(proc: subprocess.Popen[bytes], code: str) -> str:
    """Run Python in the sandbox's namespaces, as a container of the pod."""
    command = ["nsenter", f"--target={proc.pid}", "--user", "--net", "--uts", "--preserve-credentials", "--"]
    done = subprocess.run([*command, sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_pods_containers_share_its_network_name_and_reach_the_api_servers(
    sandbox: tuple[subprocess.Popen[bytes], Services], echo: int
) -> None:
    proc, _ = sandbox
    code = (
        "import socket\n"
        f"c = socket.create_connection(('127.0.0.1', {echo}), timeout=5); c.sendall(b'api'); c.shutdown(socket.SHUT_WR)\n"
        "print(socket.gethostname(), c.recv(10).decode())\n"
    )
    assert _in_pod(proc, code) == "web-0 API"


def test_a_dial_reaches_the_pods_own_listener_at_its_ip_and_a_closed_port_is_refused(
    sandbox: tuple[subprocess.Popen[bytes], Services], short_dir: Path
) -> None:
    proc, _ = sandbox
    server = (
        "import socket, sys\n"
        "s = socket.socket(); s.bind(('0.0.0.0', 9443)); s.listen(); print('up', flush=True)\n"
        "c, _ = s.accept(); c.sendall(b'served at ' + c.getsockname()[0].encode()); c.close()\n"
    )
    command = ["nsenter", f"--target={proc.pid}", "--user", "--net", "--preserve-credentials", "--"]
    pod = subprocess.Popen([*command, sys.executable, "-c", server], stdout=subprocess.PIPE, text=True)
    try:
        assert pod.stdout is not None
        assert pod.stdout.readline().strip() == "up"
        with podnet.dial(short_dir / "pod.ctl", POD_IP, 9443) as conn:
            assert _recv_all(conn) == f"served at {POD_IP}".encode()
        with pytest.raises(ConnectionRefusedError, match="9444"):
            podnet.dial(short_dir / "pod.ctl", POD_IP, 9444)
        assert pod.wait(TIMEOUT) == 0
    finally:
        pod.kill()
        pod.wait()


def test_a_service_address_goes_to_the_kubelet_even_where_the_pod_listens_on_that_port(
    sandbox: tuple[subprocess.Popen[bytes], Services], short_dir: Path
) -> None:
    """The service side is a namespace of its own: the pod keeps 0.0.0.0:443 for itself."""
    proc, services = sandbox
    podnet.set_ports(short_dir / "pod.ctl", [443, 8090])
    code = (
        "import socket\n"
        "own = socket.socket(); own.bind(('0.0.0.0', 443)); own.listen()\n"
        "c = socket.create_connection(('10.0.0.17', 443), timeout=5)\n"
        "print(c.makefile().readline().strip())\n"
    )
    assert _in_pod(proc, code) == "service for CONNECT hub 10.0.0.17 443"
    assert services.requests == ["CONNECT hub 10.0.0.17 443"]
    podnet.set_ports(short_dir / "pod.ctl", [8090])
    refused = "import socket\ntry:\n    socket.create_connection(('10.0.0.17', 443), timeout=5)\nexcept OSError as e:\n    print(type(e).__name__)\n"
    assert _in_pod(proc, refused) == "ConnectionRefusedError", "a port no Service has is refused"


def test_leftovers_are_the_sandboxes_named_by_the_directory_and_their_namespaces_processes(
    sandbox: tuple[subprocess.Popen[bytes], Services], short_dir: Path
) -> None:
    proc, _ = sandbox
    command = ["nsenter", f"--target={proc.pid}", "--user", "--net", "--preserve-credentials", "--", "sleep", "30"]
    inside = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + TIMEOUT
        while os.readlink(f"/proc/{inside.pid}/ns/net") != os.readlink(f"/proc/{proc.pid}/ns/net"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        found = podnet.leftovers(short_dir)
        assert {proc.pid, inside.pid} <= set(found)
        assert os.getpid() not in found
        assert podnet.leftovers(short_dir / "elsewhere") == []
    finally:
        inside.kill()
        inside.wait()
