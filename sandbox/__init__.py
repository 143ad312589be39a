"""The local sandbox: kwok clusters (hub and managed-1) with OCM and KubeVela running on them, their kubelet and
networking, the chart repository they serve, and the tools they are built from. Test and development
harness: the product (components/, providers/, config/) never imports it.

The public interface, what `make up` (deploy/), the `make e2e` fixtures and the benchmarks call:

    from sandbox import ...
    start(names=CLUSTERS, *, build=False, ttl=None, with_vela=True) -> dict[str, Path]
                                  the clusters healthy (reused or created; missing tools built when
                                  build=True, else ClusterError), their kubeconfig paths by name;
                                  the hub with KubeVela and managed-1 joined to it (sandbox/vela.py)
    start_tools() -> tuple[str, ...]
                                  every tool start() needs (to say what it will build, and how long)
    vela_cli() -> vela.Vela       the real `vela` CLI against the local hub
    stop(names=None) -> None      stop them (None: every cluster there, managed-2 too) and remove
                                  their data
    status(names=CLUSTERS) -> dict[str, str]
                                  one line per cluster, and "ocm-kubelet"
    healthy(names=CLUSTERS) -> bool
                                  the clusters and their kubelet all running
    pids(names=CLUSTERS) -> list[int]
                                  the processes a run on them depends on (to watch while pulumi runs)
    hub_kubeconfig() -> Path      kubeconfig_path(name) -> Path
    chart_repository() -> str | None
                                  the URL of the clusters' Helm chart repository, while it serves
    ClusterError                  what did not come up, with the failing component's log tail
    CLUSTERS                      ("hub", "managed-1")
    STATE_DIR, STATE_DIR_ENV      where their state lives: $OCM_HUB_E2E_DIR, default .e2e/
    LocalStack(root, stack)       how a stack runs on them (sandbox/local_stack.py): marker, rewritten
                                  stack file, the kubeconfig to use

    from sandbox import tools     the tools built from the pinned Go modules in hack/tools/
    tools.ensure(names) -> dict[str, Path]   build what is missing, the binaries by name
    tools.missing(names) -> list[str]        tools.paths(names) -> dict[str, Path]
    tools.pulumi_env(python) -> dict[str, str]
                                  the environment that runs the built Pulumi CLI offline
    tools.UP_TOOLS, PULUMI_TOOLS, OCM_TOOLS, KUBERNETES_PLUGIN, ...   the tool names by use

From a shell: `python -m sandbox up|down|status|check|pids` and `python -m sandbox.tools`. The names
above are imported on first use: the pods' network helper (`python -m sandbox.podnet`, one per OCM
process) imports this package too and must stay small.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.clusters import (
        CLUSTERS,
        STATE_DIR,
        STATE_DIR_ENV,
        ClusterError,
        chart_repository,
        healthy,
        hub_kubeconfig,
        kubeconfig_path,
        pids,
        start,
        start_tools,
        status,
        stop,
        vela_cli,
    )
    from sandbox.local_stack import LocalStack

__all__ = [
    "CLUSTERS",
    "STATE_DIR",
    "STATE_DIR_ENV",
    "ClusterError",
    "LocalStack",
    "chart_repository",
    "healthy",
    "hub_kubeconfig",
    "kubeconfig_path",
    "pids",
    "start",
    "start_tools",
    "status",
    "stop",
    "vela_cli",
]
_HOME = {name: "sandbox.local_stack" if name == "LocalStack" else "sandbox.clusters" for name in __all__}


def __getattr__(name: str) -> object:
    if name not in _HOME:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
