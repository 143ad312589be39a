"""`make up` on a cluster where KubeVela is missing or its gateway is down (issue 26 item 6).

The lane starts clusters of its own without KubeVela (a hub as it is before `vela install`), in a state
directory beside the lane's (`python -m sandbox up --no-vela`), whatever else its worker runs. First
`make up STACK=dev` there: the hub is installed, and discovery says plainly that it found no vela
clusters. `make down` then leaves the hub as it was, the user installs KubeVela and joins managed-1
(the real `vela install` and `vela cluster join`), and scales vela's cluster-gateway to zero: the
APIService every `vela cluster` command needs is unavailable while `make up` runs. It must end with a
clear message and no traceback, and once the gateway is back the next `make up` finishes the job.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import sandbox.clusters
from config.names import VELA_NAMESPACE
from providers.discovery import GATEWAY_APISERVICE, GATEWAY_APISERVICE_PATH
from providers.kube import Kube
from sandbox import vela

from .conftest import REPO_ROOT, Cluster
from .kubeutil import condition, get, wait_for
from .velautil import (
    ADDON_GATEWAY,
    APISERVICE_TIMEOUT,
    MC_PATH,
    Project,
    apiservice_served_by,
    copy_project,
    registered,
)

GATEWAY = "kubevela-cluster-gateway"
SCALE_PATH = f"/apis/apps/v1/namespaces/{VELA_NAMESPACE}/deployments/{GATEWAY}/scale"
SANDBOX_TIMEOUT = 300.0


@dataclass(frozen=True)
class Bare:
    """Clusters of the lane's own without KubeVela, and the vela CLI against that hub."""

    state: Path
    hub: Cluster
    managed: Cluster
    cli: vela.Vela


def _sandbox(state: Path, *args: str) -> None:
    env = {**os.environ, sandbox.clusters.STATE_DIR_ENV: str(state)}
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=SANDBOX_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, f"python -m sandbox {' '.join(args)}:\n{proc.stdout}{proc.stderr}"


@pytest.fixture(scope="module")
def bare() -> Iterator[Bare]:
    """hub and managed-1 without KubeVela beside the lane's state directory (make e2e's trap stops them
    with the lanes), stopped at the end."""
    state = sandbox.clusters.STATE_DIR.with_name(f"{sandbox.clusters.STATE_DIR.name}-bare")
    try:
        _sandbox(state, "up", "--no-vela")
        clusters = {
            name: Cluster(name, state / f"{name}.kubeconfig", Kube.from_file(str(state / f"{name}.kubeconfig")), True)
            for name in sandbox.clusters.CLUSTERS
        }
        yield Bare(
            state, clusters["hub"], clusters["managed-1"], vela.Vela(clusters["hub"].kubeconfig, state / "vela-home")
        )
    finally:
        _sandbox(state, "down")


@pytest.fixture(scope="module")
def project(bare: Bare) -> Iterator[Project]:
    project = copy_project(bare.hub, chart_repository=(bare.state / "charts.url").read_text(encoding="utf-8"))
    try:
        yield project
    finally:
        shutil.rmtree(project.root, ignore_errors=True)


def test_without_kubevela_make_up_installs_the_hub_and_says_it_found_no_vela_clusters(
    bare: Bare, project: Project
) -> None:
    hub = bare.hub.client
    assert get(hub, "/api/v1/namespaces/vela-system") is None
    assert get(hub, GATEWAY_APISERVICE_PATH) is None
    up = project.make("up", "STACK=dev", "YES=1")
    assert up.returncode == 0, up.output[-6000:]
    assert "registration.discover: found no vela clusters" in up.output, up.output[-6000:]
    assert "Traceback" not in up.output
    manager = get(hub, "/apis/operator.open-cluster-management.io/v1/clustermanagers/cluster-manager")
    assert condition(manager, "Applied") == "True"
    assert get(hub, MC_PATH.format("managed-1")) is None

    down = project.make("down", "STACK=dev", "YES=1")
    assert down.returncode == 0, down.output[-6000:]


def test_with_the_gateway_down_make_up_says_so_and_the_next_one_finishes(bare: Bare, project: Project) -> None:
    """vela's own gateway scaled to zero: its APIService has no endpoints when `make up` starts. The run
    says so and goes on; the cluster-gateway addon it installs takes the APIService over and serves it,
    so vela's clusters are reachable again when it ends."""
    hub, cli = bare.hub, bare.cli
    cli.install()
    cli.join("managed-1", bare.managed.kubeconfig, sandbox.clusters.VELA_LABELS)
    _scale_gateway(hub, 0)
    wait_for(
        hub.client,
        GATEWAY_APISERVICE_PATH,
        lambda obj: condition(obj, "Available") == "False",
        timeout=APISERVICE_TIMEOUT,
        what=f"APIService {GATEWAY_APISERVICE} unavailable",
    )

    up = project.make("up", "STACK=dev", "YES=1")
    assert up.returncode == 0, up.output[-6000:]
    assert "Traceback" not in up.output, up.output[-6000:]
    said = f"KubeVela's cluster gateway (APIService {GATEWAY_APISERVICE}) is not Available (MissingEndpoints"
    assert said in up.output, up.output[-6000:]
    registered(hub, "managed-1")
    apiservice_served_by(hub, ADDON_GATEWAY)
    assert "managed-1" in cli.clusters()

    _scale_gateway(hub, 1)
    again = project.make("up", "STACK=dev", "YES=1")
    assert again.returncode == 0, again.output[-6000:]
    assert "cluster gateway" not in again.output, again.output[-6000:]


def _scale_gateway(hub: Cluster, replicas: int) -> None:
    body = {"spec": {"replicas": replicas}}
    hub.client.request("PATCH", SCALE_PATH, body=body, content_type="application/merge-patch+json")
