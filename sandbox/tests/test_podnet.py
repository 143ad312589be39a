"""A pod's network over real sockets: the pipe, the Unix-socket bridges both ways, and a process in a
network namespace of its own reaching the host only through them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import podnet

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0


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


def test_a_unix_socket_reaches_a_tcp_port_and_back(short_dir: Path, echo: int) -> None:
    listener = podnet.unix_listener(short_dir / "to-tcp.sock")
    podnet.serve(listener, podnet.forward_to_tcp(echo))
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(TIMEOUT)
            client.connect(str(short_dir / "to-tcp.sock"))
            client.sendall(b"hello")
            client.shutdown(socket.SHUT_WR)
            assert _recv_all(client) == b"HELLO"
    finally:
        listener.close()


def test_a_tcp_port_reaches_a_unix_socket_and_a_missing_one_closes_the_connection(short_dir: Path, echo: int) -> None:
    bridge = podnet.unix_listener(short_dir / "to-tcp.sock")
    podnet.serve(bridge, podnet.forward_to_tcp(echo))
    inbound = podnet.tcp_listener(0)
    assert inbound.getsockname()[0] == "127.0.0.1"
    podnet.serve(inbound, podnet.forward_to_unix(short_dir / "to-tcp.sock"))
    dangling = podnet.tcp_listener(0)
    podnet.serve(dangling, podnet.forward_to_unix(short_dir / "nobody.sock"))
    try:
        with socket.create_connection(inbound.getsockname(), timeout=TIMEOUT) as client:
            client.sendall(b"through two bridges")
            client.shutdown(socket.SHUT_WR)
            assert _recv_all(client) == b"THROUGH TWO BRIDGES"
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


def test_a_process_in_its_own_network_reaches_the_host_only_through_the_bridges(short_dir: Path, echo: int) -> None:
    """`unshare` as the kubelet runs it: inside, 127.0.0.1:<echo> is the bridge to the host's echo server;
    the pod's own port 9000 is exposed on the host as a Unix socket only."""
    bridge = podnet.unix_listener(short_dir / "echo.api")
    podnet.serve(bridge, podnet.forward_to_tcp(echo))
    pod = (
        "import socket, sys\n"
        f"c = socket.create_connection(('127.0.0.1', {echo}), timeout=10)\n"
        "c.sendall(b'from the pod'); c.shutdown(socket.SHUT_WR)\n"
        "print(c.recv(100).decode(), flush=True)\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 9000)); s.listen()\n"
        "print('listening', flush=True)\n"
        "conn, _ = s.accept(); conn.sendall(b'served in the pod'); conn.shutdown(socket.SHUT_WR)\n"
        "conn.recv(1)\n"  # until the host side closed: the pod's end does not cut the bridge short
    )
    command = ["unshare", "--user", "--map-root-user", "--net", "--", sys.executable, "-m", "sandbox.podnet"]
    command += ["--inbound", f"{echo}={short_dir / 'echo.api'}", "--expose", f"{short_dir / 'pod.sock'}=9000"]
    proc = subprocess.Popen(
        [*command, "--", sys.executable, "-c", pod], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "FROM THE POD"
        assert proc.stdout.readline().strip() == "listening"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(TIMEOUT)
            client.connect(str(short_dir / "pod.sock"))
            assert _recv_all(client) == b"served in the pod"
        assert proc.wait(TIMEOUT) == 0
        assert not (short_dir / "pod.sock").exists(), "the exposed socket goes with the process"
    finally:
        proc.kill()
        proc.wait()
        bridge.close()


def test_a_bridge_argument_without_its_pair_is_refused() -> None:
    with pytest.raises(SystemExit):
        podnet.main(["--inbound", "6443", "--", "true"])
