"""Synthetic vela fleets for benchmarks: N cluster Secrets with real PEM material, made once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.pki import Pki, make_pki, vela_secret

ALL_ADDONS = {
    "clusterProxy": {"enabled": True},
    "managedServiceAccount": {"enabled": True},
    "clusterGateway": {"enabled": True},
}


def pki(directory: Path) -> Pki:
    marker = directory / "client.key"
    if marker.exists():
        return Pki(
            directory / "ca.crt", directory / "server.crt", directory / "server.key", directory / "client.crt", marker
        )
    return make_pki(directory)


def secrets(material: Pki, count: int) -> list[dict[str, Any]]:
    return [
        vela_secret(
            f"cluster-{i:05d}",
            f"https://10.{i // 65536}.{i // 256 % 256}.{i % 256}:6443",
            material,
            "ServiceAccountToken" if i % 2 else "X509Certificate",
        )
        for i in range(count)
    ]


def stack_values(count: int) -> dict[str, Any]:
    return {"addons": ALL_ADDONS, "registration": {"discover": True}} if count else {"addons": ALL_ADDONS}
