"""Which cluster `make up` picks: none configured means the local clusters; a configured context that does
not answer is an error naming it, its server and the way out."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
import yaml

from deploy.context import current_context
from deploy.flow import DeployError


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "prod-hub", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "prod-hub",
            }
        )
    )
    return path


def test_no_kubeconfig_means_no_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert current_context() is None


def test_a_context_that_does_not_answer_names_itself_its_server_and_the_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:  # a free port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "config", f"https://127.0.0.1:{port}")))
    with pytest.raises(DeployError) as caught:
        current_context()
    line = str(caught.value.line)
    assert line.startswith(f"error: kube context 'prod-hub' (https://127.0.0.1:{port}) does not answer: ")
    assert "`make up LOCAL=1`" in line
    assert caught.value.code == 1


class Version(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"major": "1", "minor": "33", "gitVersion": "v1.33.13"}).encode()
        self.send_response(200 if self.path == "/version" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def test_a_context_that_answers_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Version)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "config", url)))
        assert current_context() == "prod-hub"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
