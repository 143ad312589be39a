"""The registration provider through the SDK's own server (`python -m pulumi.dynamic`), against the
fake API servers of ocmhub_testing/fakekube with the fake agent: start-up, Diff, Read, Create, and creates in
parallel as the engine issues them. API calls are counted from the fake servers' request logs.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from bench import fleet
from ocmhub_testing.dynamic_server import dynamic_server
from ocmhub_testing.fake_agent import FakeAgent
from ocmhub_testing.fakekube import DEFAULT_NAMESPACES, FakeKube
from ocmhub_testing.pki import vela_secret
from ocmhub_testing.registrations import registration_inputs
from providers import kube

# What one Default-mode join needs at the least: hub: read the vela secret, apply the ManagedCluster,
# the bootstrap ServiceAccount and binding, issue a token, list and approve the CSR, read the
# ManagedCluster once joined; managed cluster: read any existing Klusterlet, apply the 6 operator
# objects, the agent namespace, the bootstrap secret and the Klusterlet.
MIN_CALLS_PER_JOIN = 8 + 10


def run(workdir: Path, creates: int = 20, parallel: int = 100) -> dict[str, Any]:
    pki = fleet.pki(workdir / "pki")
    namespaces = [*DEFAULT_NAMESPACES, "vela-system", "open-cluster-management"]
    # One managed cluster per registration: a cluster runs one klusterlet (Default mode).
    with ExitStack() as stack:
        hub = stack.enter_context(FakeKube(namespaces=namespaces, idle_timeout=900))
        fleet_servers = [
            stack.enter_context(FakeKube(tls=(pki.server_cert, pki.server_key), idle_timeout=900))
            for _ in range(creates + parallel)
        ]
        started = time.perf_counter()
        with dynamic_server(workdir / "provider.log", env={"PYTHONPROFILEIMPORTTIME": "1"}) as server:
            server.configure({"kubernetes:kubeconfig": yaml.safe_dump(hub.kubeconfig())})
            server.check(registration_inputs())
            first_answer = time.perf_counter() - started

            def diff() -> None:
                server.diff("c", registration_inputs(), registration_inputs(labels={"env": "next"}))

            hub.clear_requests()
            diff_s = _per_call(diff, 200)
            diff_calls = len(hub.requests)
            imported = _imports(server.log())

            for i, managed in enumerate(fleet_servers):
                hub.put_object(vela_secret(f"c{i:04d}", managed.url, pki))
            with FakeAgent(hub, fleet_servers):
                _clear(hub, fleet_servers)
                timings = []
                outs: dict[str, Any] = {}
                for i in range(creates):
                    begin = time.perf_counter()
                    _, outs = server.create(registration_inputs(f"c{i:04d}"))
                    timings.append(time.perf_counter() - begin)
                sequential_calls = _calls(hub, fleet_servers) / creates

                read_s = _per_call(lambda: server.read("c0000", outs), 50)

                _clear(hub, fleet_servers)
                names = [f"c{i:04d}" for i in range(creates, creates + parallel)]
                begin = time.perf_counter()
                with ThreadPoolExecutor(max_workers=parallel) as pool:
                    list(pool.map(lambda name: server.create(registration_inputs(name), timeout=600), names))
                parallel_s = time.perf_counter() - begin
                parallel_calls = _calls(hub, fleet_servers) / parallel
                hub_calls = len(hub.requests)
    return {
        "start_to_first_answer_s": round(first_answer, 3),
        "diff_ms_per_call": round(diff_s * 1000, 2),
        "diff_api_calls": diff_calls,
        "read_ms_per_call": round(read_s * 1000, 2),
        "create_s_per_cluster_median": round(statistics.median(timings), 3),
        "create_api_calls_per_cluster": round(sequential_calls, 1),
        "parallel_creates": parallel,
        "parallel_total_s": round(parallel_s, 2),
        "parallel_api_calls_per_cluster": round(parallel_calls, 1),
        "parallel_speedup": round(parallel * statistics.median(timings) / parallel_s, 1),
        # What the hub's shared rate limit alone takes for those calls (the burst is free).
        "parallel_hub_calls": hub_calls,
        "rate_limit_floor_s": round(max(0, hub_calls - kube.BURST) / kube.QPS, 1),
        "min_api_calls_per_join": MIN_CALLS_PER_JOIN,
        # What the provider process imported by then (Check and Diff answered): -X importtime's cumulative µs.
        "check_diff_imports_s": {name: round(imported.get(name, 0) / 1e6, 3) for name in WATCHED_IMPORTS},
    }


WATCHED_IMPORTS = ("providers.managed_cluster", "config", "pydantic", "kubernetes")


def _imports(log: str) -> dict[str, int]:
    """Top-level modules' cumulative import µs from a `-X importtime` log."""
    found: dict[str, int] = {}
    for line in log.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line.split("|")
            if name.strip() in WATCHED_IMPORTS and cumulative.strip().isdigit():
                found[name.strip()] = max(found.get(name.strip(), 0), int(cumulative))
    return found


def _clear(hub: FakeKube, servers: list[FakeKube]) -> None:
    for server in [hub, *servers]:
        server.clear_requests()


def _calls(hub: FakeKube, servers: list[FakeKube]) -> int:
    return sum(len(server.requests) for server in [hub, *servers])


def _per_call(call: Any, times: int) -> float:
    begin = time.perf_counter()
    for _ in range(times):
        call()
    return (time.perf_counter() - begin) / times


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as directory:
        print(run(Path(directory), creates=5, parallel=10))
