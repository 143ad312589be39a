"""Throwaway certificates for tests (openssl CLI): a CA, a 127.0.0.1 server cert and a client cert.

Real PEM material, so vela secrets look exactly like the ones `vela cluster join` writes and the
fake API server can speak TLS the way a managed cluster's endpoint does.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def read(self, name: str) -> bytes:
        path: Path = getattr(self, name)
        return path.read_bytes()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ocm-hub-test-ca",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=directory)  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, subject in (("server", "/CN=127.0.0.1"), ("client", "/CN=vela-client/O=system:masters")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", cwd=directory)  # fmt: skip
        extra = ["-extfile", "san.ext"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", f"{name}.crt", *extra, cwd=directory)  # fmt: skip
    return Pki(
        directory / "ca.crt",
        directory / "server.crt",
        directory / "server.key",
        directory / "client.crt",
        directory / "client.key",
    )


def vela_secret(
    name: str,
    endpoint: str,
    pki: Pki,
    credential_type: str = "X509Certificate",
    namespace: str = "vela-system",
    token: str = "vela-test-token-0123456789",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A cluster Secret as `vela cluster join` writes it (endpoint with its trailing newline)."""

    def b64(value: bytes) -> str:
        return base64.b64encode(value).decode()

    data = {"endpoint": b64(endpoint.encode() + b"\n"), "ca.crt": b64(pki.read("ca_cert"))}
    if credential_type == "X509Certificate":
        data |= {"tls.crt": b64(pki.read("client_cert")), "tls.key": b64(pki.read("client_key"))}
    elif credential_type == "ServiceAccountToken":
        data["token"] = b64(token.encode())
    return cluster_secret(name, credential_type, data, namespace, labels)


def cluster_secret(
    name: str,
    credential_type: str,
    data: dict[str, str],
    namespace: str = "vela-system",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Secret `vela cluster join` writes around its (base64) data."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"cluster.core.oam.dev/cluster-credential-type": credential_type, **(labels or {})},
        },
        "data": data,
    }


def vela_fleet(pki: Pki, count: int) -> list[dict[str, Any]]:
    """`count` vela cluster Secrets named cluster-0000…, X509 and token credentials alternating."""
    return [
        vela_secret(
            f"cluster-{i:04d}",
            f"https://10.{i // 65536}.{i // 256 % 256}.{i % 256}:6443",
            pki,
            "ServiceAccountToken" if i % 2 else "X509Certificate",
        )
        for i in range(count)
    ]
