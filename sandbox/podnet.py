"""A pod's network for an OCM process on this machine: its own network namespace, like a pod's.

OCM's servers listen where upstream hard-codes it (the webhook on all addresses, health on :8000,
every library-go component on 0.0.0.0:8443), so two of them cannot share the host's loopback and
none may listen on the host at all. Each process therefore runs under `unshare --user --net`
behind this module's entry point, which brings up the namespace's loopback and bridges it to the
host through Unix sockets only (sockets are files, shared across network namespaces):

- inbound: 127.0.0.1:<port> inside the pod reaches the host's 127.0.0.1:<port> (the API servers),
  through a host-side bridge listening on a Unix socket;
- exposed: a Unix socket on the host reaches 127.0.0.1:<port> inside the pod (the webhook), which is
  what the egress proxy dials.

    python -m sandbox.podnet --inbound PORT=SOCKET ... --expose SOCKET=PORT ... -- COMMAND ARG ...
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

BUFFER = 65536


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


def tcp_listener(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


def forward_to_tcp(port: int) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        pipe(conn, upstream)

    return handle


def forward_to_unix(path: Path) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(str(path))
        except OSError:
            conn.close()
            upstream.close()
            return
        pipe(conn, upstream)

    return handle


def _pair(value: str) -> tuple[str, str]:
    left, sep, right = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected A=B, got {value!r}")
    return left, right


def main(argv: Sequence[str] | None = None) -> int:
    """Inside the namespace: loopback up, bridges up, then run the command and pass on signals."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--inbound", type=_pair, action="append", default=[], metavar="PORT=SOCKET")
    parser.add_argument("--expose", type=_pair, action="append", default=[], metavar="SOCKET=PORT")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, timeout=10)
    for port, path in args.inbound:
        serve(tcp_listener(int(port)), forward_to_unix(Path(path)))
    for path, port in args.expose:
        serve(unix_listener(Path(path)), forward_to_tcp(int(port)))
    child = subprocess.Popen(command)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda sig, _frame: child.send_signal(sig))
    returncode = child.wait()
    for path, _ in args.expose:
        Path(path).unlink(missing_ok=True)
    return returncode


if __name__ == "__main__":
    sys.exit(main())
