"""What the vela e2e tests share: a KubeVela user's copy of the project (deployed with the hub as its
kube context), Applications that deliver a ConfigMap to managed-1, and the waits on vela and OCM."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import sandbox.clusters
from config.addons import merge
from providers.discovery import GATEWAY_APISERVICE, GATEWAY_APISERVICE_PATH
from providers.kube import APPLY
from sandbox import local_stack

from .conftest import Cluster
from .kubeutil import condition, wait_for
from .pulumi_cli import REPO_ROOT, copy_tracked

Json = dict[str, Any]
UP_TIMEOUT = 600.0
DELIVERY_TIMEOUT = 90.0
APISERVICE_TIMEOUT = 180.0
PASSPHRASE = "vela-e2e"
NAMESPACE = "default"
MC_PATH = "/apis/cluster.open-cluster-management.io/v1/managedclusters/{}"
APP_PATH = f"/apis/core.oam.dev/v1beta1/namespaces/{NAMESPACE}/applications/{{}}"


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    seconds: float


@dataclass(frozen=True)
class Project:
    """A copy of the files git tracks, deployed with the hub as its user's kube context."""

    root: Path
    kubeconfig: Path

    def make(self, *args: str, timeout: float = UP_TIMEOUT) -> Run:
        # No OCM_HUB_E2E_DIR: the copy's local clusters are its own (none), so its `make down` stops nothing of ours.
        dropped = ("PULUMI_", "KUBE", "YES", "CI", "MAKE", sandbox.clusters.STATE_DIR_ENV)
        env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
        env.update({"KUBECONFIG": str(self.kubeconfig), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
        started = time.monotonic()
        proc = subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


def copy_project(hub: Cluster, stack_config: Json | None = None, chart_repository: str | None = None) -> Project:
    """The files git tracks in a new directory, the dev stack as the local clusters run it (their chart
    repository, the lane's unless another is given; `stack_config` merged into its config, maps key by
    key), and the hub's kubeconfig as the user's."""
    root = Path(tempfile.mkdtemp(prefix="ocm-hub-vela-"))
    copy_tracked(root)
    stack = yaml.safe_load(
        local_stack.rewritten(
            REPO_ROOT / "Pulumi.dev.yaml",
            local_stack.Runtime.serving(chart_repository or local_stack.require_chart_repository()),
        )
    )
    stack["config"] = merge(stack["config"], stack_config or {})
    stack.pop("encryptionsalt", None)  # another backend's (a make up in the checkout): the copy's state is new
    (root / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    kubeconfig = root / "kubeconfig"
    shutil.copy2(hub.kubeconfig, kubeconfig)
    return Project(root, kubeconfig)


def application(name: str, step: str) -> Json:
    """A ConfigMap for managed-1 only: component type k8s-objects (no image), topology policy."""
    return {
        "apiVersion": "core.oam.dev/v1beta1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "components": [
                {
                    "name": "settings",
                    "type": "k8s-objects",
                    "properties": {
                        "objects": [
                            {
                                "apiVersion": "v1",
                                "kind": "ConfigMap",
                                "metadata": {"name": f"{name}-settings"},
                                "data": {"step": step},
                            }
                        ]
                    },
                }
            ],
            "policies": [{"name": "managed-1-only", "type": "topology", "properties": {"clusters": ["managed-1"]}}],
        },
    }


def deliver(hub: Cluster, managed: Cluster, name: str, step: str) -> Json:
    """Apply the Application; once vela says it runs with every service healthy on managed-1, the
    ConfigMap must be there with `step`."""
    hub.client.request(
        "PATCH",
        APP_PATH.format(name),
        {"fieldManager": "vela-e2e", "force": "true"},
        body=application(name, step),
        content_type=APPLY,
    )
    app = wait_for(
        hub.client,
        APP_PATH.format(name),
        lambda obj: _running(obj, step),
        timeout=DELIVERY_TIMEOUT,
        what=f"Application {name} running and healthy at step {step}",
    )
    config_map = wait_for(
        managed.client,
        f"/api/v1/namespaces/{NAMESPACE}/configmaps/{name}-settings",
        lambda obj: obj.get("data") == {"step": step},
        timeout=DELIVERY_TIMEOUT,
        what=f"ConfigMap {name}-settings with step {step} on managed-1",
    )
    assert config_map["metadata"]["labels"]["app.oam.dev/cluster"] == "managed-1"
    return app


def _running(app: Json, step: str) -> bool:
    status = app.get("status") or {}
    services = status.get("services") or []
    delivered = ((app.get("metadata") or {}).get("generation")) == status.get("observedGeneration")
    return (
        delivered
        and status.get("status") == "running"
        and bool(services)
        and all(s.get("healthy") and s.get("cluster") == "managed-1" for s in services)
        and _step(app) == step
    )


def _step(app: Json) -> str:
    (component,) = app["spec"]["components"]
    return str(component["properties"]["objects"][0]["data"]["step"])


# The Services that back vela's APIService: vela's own gateway (vela install), the addon's (make up).
VELA_GATEWAY = "kubevela-cluster-gateway-service"
ADDON_GATEWAY = "cluster-gateway"


def apiservice_served_by(hub: Cluster, service: str) -> Json:
    """Until vela's APIService points at `service` in vela-system and is Available (the addon manager
    takes it over some seconds after `make up` installed it; ocm-hub gives it back on removal)."""
    return wait_for(
        hub.client,
        GATEWAY_APISERVICE_PATH,
        lambda obj: (obj["spec"].get("service") or {}).get("name") == service and condition(obj, "Available") == "True",
        timeout=APISERVICE_TIMEOUT,
        what=f"APIService {GATEWAY_APISERVICE} served by vela-system/{service} and Available",
    )


def registered(hub: Cluster, name: str) -> Json:
    return wait_for(
        hub.client,
        MC_PATH.format(name),
        lambda obj: (
            condition(obj, "ManagedClusterJoined") == "True"
            and condition(obj, "ManagedClusterConditionAvailable") == "True"
        ),
        timeout=APISERVICE_TIMEOUT,
        what=f"ManagedCluster {name} joined and available",
    )
