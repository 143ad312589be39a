"""One program evaluation under the recording mocks, in its own process so peak RSS is its own.

    python -m bench.evaluate --clusters N --program real|bare --pki DIR

prints one JSON line: wall seconds (program start to every resource request settled; module imports
are measured apart, by bench/imports.py), peak RSS MiB, resources requested.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

import pulumi

from bench import fleet
from components import OcmHub
from config import RawConfig, load
from ocmhub_testing.pki import vela_fleet
from providers.sdk_patches import pickler_restored
from render import recording


class _Noop(pulumi.dynamic.ResourceProvider):
    pass


class _BareRegistration(pulumi.dynamic.Resource, module="ocm-hub", name="ManagedClusterRegistration"):
    pass


def _real(secrets: list[dict[str, Any]], count: int) -> None:
    OcmHub("ocm-hub", load(RawConfig(fleet.stack_values(count))).args(), vela_secrets=secrets)


def _bare(kinds: list[tuple[str, int]]) -> None:
    """The same resource types and count as the real program, with no logic and trivial inputs."""
    parent = pulumi.ComponentResource("ocm-hub:index:OcmHub", "bare")
    for kind, count in kinds:
        if kind == "ocm-hub:index:OcmHub" or kind.startswith("pulumi:providers:"):
            continue  # the parent above; default providers register themselves
        for i in range(count):
            name = f"{kind.rsplit(':', 1)[-1].lower()}-{i}"
            opts = pulumi.ResourceOptions(parent=parent)
            if kind.startswith("pulumi-python:dynamic"):
                with pickler_restored():
                    _BareRegistration(_Noop(), name, {"clusterName": name}, opts)
            elif kind.startswith("kubernetes:"):
                pulumi.CustomResource(kind, name, {"metadata": {"name": name}}, opts)
            else:
                pulumi.ComponentResource(kind, name, None, opts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, required=True)
    parser.add_argument("--program", choices=["real", "bare", "types"], required=True)
    parser.add_argument("--pki", type=Path, required=True)
    parser.add_argument("--kinds", default="[]", help="type counts for the bare program (JSON)")
    args = parser.parse_args()
    secrets = vela_fleet(fleet.pki(args.pki), args.clusters)
    start = time.perf_counter()
    if args.program == "bare":
        result = recording.run(lambda: _bare([tuple(k) for k in json.loads(args.kinds)]))
    else:
        result = recording.run(lambda: _real(secrets, args.clusters))
    wall = time.perf_counter() - start
    counts: dict[str, int] = {}
    for request in result.resources:
        counts[request.type] = counts.get(request.type, 0) + 1
    print(
        json.dumps(
            {
                "wall_s": round(wall, 3),
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "resources": len(result.resources),
                "types": sorted(counts.items()),
            }
        )
    )


if __name__ == "__main__":
    main()
