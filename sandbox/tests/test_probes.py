"""Probes as the kubelet runs them: parsed with Kubernetes' defaults, run over a dialled connection,
counted against their thresholds; and the listening ports of a network namespace."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from sandbox import probes

TIMEOUT = 5.0


def test_a_probe_takes_kubernetes_defaults_and_resolves_named_ports() -> None:
    probe = probes.parse({"httpGet": {"path": "/readyz", "port": "healthz", "scheme": "HTTPS"}}, {"healthz": 8000})
    assert probe == probes.Probe("http", port=8000, path="/readyz", scheme="HTTPS")
    assert (probe.period, probe.timeout, probe.success_threshold, probe.failure_threshold) == (10.0, 1.0, 1, 3)
    timed = probes.parse({"tcpSocket": {"port": 53}, "initialDelaySeconds": 2, "periodSeconds": 5}, {})
    assert timed == probes.Probe("tcp", port=53, initial_delay=2.0, period=5.0)
    assert probes.parse({"exec": {"command": ["cat", "/tmp/ok"]}}, {}) == probes.Probe(
        "exec", command=("cat", "/tmp/ok")
    )
    assert probes.parse(None, {}) is None
    with pytest.raises(ValueError, match="neither a number nor a port"):
        probes.parse({"httpGet": {"port": "metrics"}}, {})


def test_readiness_counts_successes_and_failures_against_the_thresholds() -> None:
    probe = probes.Probe("tcp", port=1, initial_delay=2.0, period=10.0, success_threshold=2, failure_threshold=2)
    state = probes.ProbeState(probe, started=100.0)
    assert not state.due(101.0), "not before initialDelaySeconds"
    assert state.due(102.0)
    seen = []
    for ok, now in ((True, 102.0), (True, 103.0), (False, 113.0), (False, 123.0)):
        state.record(ok, now)
        seen.append((state.passed, state.next_run))
    assert seen == [
        (False, 103.0),  # one success of two; until it passes, every second
        (True, 113.0),  # passed; then every periodSeconds
        (True, 123.0),  # one failure of two
        (False, 124.0),  # failed: every second again
    ]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200 if self.path == "/ok" else 302 if self.path == "/moved" else 503
        self.send_response(code)
        self.send_header("X-Seen-Host", self.headers.get("Host", ""))
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _dial(ip: str, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((ip, port), timeout=timeout)


def _no_exec(_command: object, _timeout: float) -> int:
    raise AssertionError("not an exec probe")


def test_http_and_tcp_probes_pass_and_fail_on_the_real_answer(http_server: HTTPServer) -> None:
    port = int(http_server.server_address[1])
    for path, ok in (("/ok", True), ("/moved", True), ("/broken", False)):
        assert probes.run(probes.Probe("http", port=port, path=path), "127.0.0.1", _dial, _no_exec) is ok
    assert probes.run(probes.Probe("tcp", port=port), "127.0.0.1", _dial, _no_exec)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    free = int(closed.getsockname()[1])
    closed.close()
    assert not probes.run(probes.Probe("tcp", port=free), "127.0.0.1", _dial, _no_exec)
    assert not probes.run(probes.Probe("http", port=free), "127.0.0.1", _dial, _no_exec)


def test_an_https_probe_does_not_verify_the_certificate(http_server: HTTPServer, tmp_path: Path) -> None:
    key, cert = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=self-signed",
            "-days",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    http_server.socket = context.wrap_socket(http_server.socket, server_side=True)
    port = int(http_server.server_address[1])
    assert probes.run(probes.Probe("http", port=port, path="/ok", scheme="HTTPS"), "127.0.0.1", _dial, _no_exec)
    assert not probes.run(probes.Probe("http", port=port, path="/ok"), "127.0.0.1", _dial, _no_exec), (
        "plain HTTP to TLS"
    )


def test_an_exec_probe_passes_on_exit_zero_and_a_timeout_fails() -> None:
    seen = []

    def execute(command: object, timeout: float) -> int:
        seen.append((command, timeout))
        return 0 if command == ("true",) else 1

    assert probes.run(probes.Probe("exec", command=("true",), timeout=3.0), "", _dial, execute)
    assert not probes.run(probes.Probe("exec", command=("false",)), "", _dial, execute)
    assert seen == [(("true",), 3.0), (("false",), 1.0)]


def test_listening_ports_come_from_the_namespaces_tcp_tables() -> None:
    listener = socket.socket(socket.AF_INET6)
    listener.bind(("::", 0))
    listener.listen()
    connected = socket.create_connection(("::1", listener.getsockname()[1]), timeout=TIMEOUT)
    try:
        tables = [Path(f"/proc/self/net/{name}").read_text(encoding="utf-8") for name in ("tcp", "tcp6")]
        found = probes.listening_ports(tables)
        assert int(listener.getsockname()[1]) in found
        assert int(connected.getsockname()[1]) not in found, "an established connection does not listen"
    finally:
        connected.close()
        listener.close()
