"""KubeVela itself on the local hub, and ocm-hub deployed onto the cluster where it runs (issue 26).

The lane's clusters come up as `make cluster-up` leaves them: vela-core and the cluster-gateway its
chart ships installed by the real `vela install`, managed-1 joined by the real `vela cluster join`
(sandbox/vela.py). A vela Application delivers a ConfigMap to managed-1 (topology policy). Then a
KubeVela user's `make up STACK=dev YES=1`, in a fresh copy of the project, with the hub as the current
kube context: OCM, the three addons (the cluster-gateway addon manager, which takes vela's APIService
over, included) and the registration of vela's clusters. After it vela keeps delivering; a label set
by `vela cluster labels add`, then a second cluster joined by `vela cluster join`, each reach OCM on
the next `make up`; after `make down` (the dev stack allows teardown) vela still reaches managed-1.

The tests run in file order on one set of clusters, each on what the last left.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

import sandbox.clusters
from providers.kube import Kube
from sandbox import vela

from .conftest import Cluster
from .kubeutil import get, kubectl
from .velautil import (
    ADDON_GATEWAY,
    MC_PATH,
    VELA_GATEWAY,
    Project,
    Run,
    apiservice_served_by,
    copy_project,
    deliver,
    registered,
)

APP = "vela-e2e"
NEW_APP = "vela-e2e-after-make-up"
SECOND = "managed-2"
# The dev stack plus one default label vela's managed-1 also carries, so the run shows which side wins
# (providers/discovery.py: the stack's labels over vela's).
STACK_LABELS = {"environment": "ocm-dev"}


@pytest.fixture(scope="module")
def cli(hub: Cluster, managed: Cluster) -> vela.Vela:
    """The vela CLI against the lane's hub, where sandbox.clusters installed KubeVela and joined managed-1."""
    return sandbox.clusters.vela_cli()


@pytest.fixture(scope="module")
def project(hub: Cluster) -> Iterator[Project]:
    project = copy_project(hub, {"ocm-hub:registration": {"defaults": {"labels": STACK_LABELS}}})
    try:
        yield project
    finally:
        shutil.rmtree(project.root, ignore_errors=True)


@pytest.fixture(scope="module")
def second(hub: Cluster) -> Iterator[Cluster]:
    """managed-2, started for the second join and stopped at the end of the module. The kubelet starts
    again to serve it too, and with it every pod: the join waits for the gateway to serve again."""
    try:
        (path,) = sandbox.clusters.start([SECOND]).values()
    except sandbox.clusters.ClusterError as err:
        pytest.fail(str(err), pytrace=False)
    apiservice_served_by(hub, ADDON_GATEWAY)
    try:
        yield Cluster(SECOND, path, Kube.from_file(str(path)), local=True)
    finally:
        sandbox.clusters.stop([SECOND])


def _up(project: Project) -> Run:
    up = project.make("up", "STACK=dev", "YES=1")
    assert up.returncode == 0, up.output[-6000:]
    assert "Traceback" not in up.output, up.output[-6000:]
    print(f"make up STACK=dev took {up.seconds:.0f}s")
    return up


def test_managed_1_is_joined_by_vela_cluster_join(cli: vela.Vela, hub: Cluster, managed: Cluster) -> None:
    listed = cli.clusters()["managed-1"]
    assert (listed.credential_type, listed.endpoint) == ("X509Certificate", managed.client.server)
    assert listed.labels == sandbox.clusters.VELA_LABELS
    secret = get(hub.client, "/api/v1/namespaces/vela-system/secrets/managed-1")
    assert secret is not None
    # Only the real join writes these: it reads /version of the cluster through the gateway, and
    # creates vela-system there through it.
    assert "cluster.core.oam.dev/cluster-version" in secret["metadata"]["annotations"]
    assert get(managed.client, "/api/v1/namespaces/vela-system") is not None


def test_an_application_reaches_managed_1_through_vela(hub: Cluster, managed: Cluster) -> None:
    deliver(hub, managed, APP, "before-make-up")


def test_make_up_installs_ocm_beside_vela_which_keeps_delivering(
    project: Project, cli: vela.Vela, hub: Cluster, managed: Cluster
) -> None:
    _up(project)
    cluster = registered(hub, "managed-1")
    labels = cluster["metadata"]["labels"]
    assert labels["region"] == "local", "vela's label carried over"
    assert labels["environment"] == STACK_LABELS["environment"], "the stack's label wins over vela's"

    apiservice = apiservice_served_by(hub, ADDON_GATEWAY)
    assert [owner["kind"] for owner in apiservice["metadata"]["ownerReferences"]] == ["ClusterManagementAddOn"]

    deliver(hub, managed, APP, "after-make-up")
    deliver(hub, managed, NEW_APP, "new-after-make-up")
    listed = cli.clusters()["managed-1"]
    assert (listed.credential_type, listed.labels) == ("X509Certificate", sandbox.clusters.VELA_LABELS)


def test_gates_another_client_set_show_in_make_ups_plan_and_the_next_make_up_sets_them_back(
    project: Project, hub: Cluster
) -> None:
    """What OCM's e2e suite does to the hub (`make conformance`): an Update of the ClusterManager's
    gates under a field manager of its own. Here by kubectl, a client no one here wrote."""
    manager = json.loads(kubectl(hub.kubeconfig, "get", "clustermanager", "cluster-manager", "-o", "json"))
    assert _gate(manager, "ClusterImporter") == "Disable", "the stack declares every gate of the release"
    for gate in manager["spec"]["registrationConfiguration"]["featureGates"]:
        if gate["feature"] == "ClusterImporter":
            gate["mode"] = "Enable"
    kubectl(hub.kubeconfig, "replace", "--field-manager=ocm-e2e", "-f", "-", stdin=json.dumps(manager))

    preview = project.make("up", "STACK=dev")  # no terminal and no YES=1: the plan only
    assert preview.returncode != 0, preview.output[-6000:]
    assert "no terminal to confirm on: previewed only" in preview.output, preview.output[-6000:]
    assert "==> reading ClusterManager ocm-hub-cluster-manager from the hub" in preview.output
    planned = [
        line for line in preview.output.splitlines() if "ClusterManager" in line and "ocm-hub-cluster-manager" in line
    ]
    assert any(re.search(r"\bupdate\b", line) for line in planned), preview.output[-6000:]

    _up(project)
    live = get(hub.client, "/apis/operator.open-cluster-management.io/v1/clustermanagers/cluster-manager")
    assert live is not None
    assert _gate(live, "ClusterImporter") == "Disable", "the stack's spec is back"


def _gate(manager: dict[str, Any], feature: str) -> str:
    (mode,) = [
        g["mode"] for g in manager["spec"]["registrationConfiguration"]["featureGates"] if g["feature"] == feature
    ]
    return str(mode)


def test_a_label_set_with_vela_reaches_the_managed_cluster_on_the_next_make_up(
    project: Project, cli: vela.Vela, hub: Cluster
) -> None:
    """vela's side wins for its own keys, the stack's (`environment`) over vela's."""
    cli.run("cluster", "labels", "add", "managed-1", "tier=gold,region=eu")
    up = _up(project)
    print(f"vela cluster labels add, then make up: {up.seconds:.0f}s")
    labels = registered(hub, "managed-1")["metadata"]["labels"]
    assert (labels["tier"], labels["region"]) == ("gold", "eu")
    assert labels["environment"] == STACK_LABELS["environment"]


def test_a_cluster_joined_with_vela_is_registered_on_the_next_make_up(
    project: Project, cli: vela.Vela, hub: Cluster, second: Cluster
) -> None:
    cli.join(SECOND, second.kubeconfig, {"region": "local-2"})
    assert cli.clusters()[SECOND].labels == {"region": "local-2"}
    up = _up(project)
    print(f"vela cluster join {SECOND}, then make up: {up.seconds:.0f}s")
    assert registered(hub, SECOND)["metadata"]["labels"]["region"] == "local-2"
    assert cli.clusters()["managed-1"].labels == {**sandbox.clusters.VELA_LABELS, "tier": "gold", "region": "eu"}


def test_after_make_down_vela_still_reaches_managed_1(
    project: Project, cli: vela.Vela, hub: Cluster, managed: Cluster
) -> None:
    down = project.make("down", "STACK=dev", "YES=1")
    assert down.returncode == 0, down.output[-6000:]
    assert get(hub.client, MC_PATH.format("managed-1")) is None
    apiservice_served_by(hub, VELA_GATEWAY)  # given back by ocm-hub when it removed the addon
    assert "managed-1" in cli.clusters()
    deliver(hub, managed, NEW_APP, "after-make-down")
