"""Synthetic vela fleets for benchmarks: N cluster Secrets with real PEM material, made once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocmhub_testing.pki import Pki, make_pki

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


def stack_values(count: int) -> dict[str, Any]:
    return {"addons": ALL_ADDONS, "registration": {"discover": True}} if count else {"addons": ALL_ADDONS}
