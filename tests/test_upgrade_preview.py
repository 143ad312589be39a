"""A preview on a hub whose ClusterManager CRD is older than the stack's release: pulumi-kubernetes dry-runs the
ClusterManager against the live CRD, so a field new in the release cannot be previewed before the upgrade is
applied. The program says so, with the two steps, instead of the API server's typed-patch refusal."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable, Mapping

import pulumi
import pytest
import yaml
from pulumi.runtime.config import set_all_config

from config import offline
from config.versions import RELEASES
from ocmhub_testing.fakekube import FakeKube
from render import recording
from tests.conftest import PROJECT_DIR

PLACEMENT_GATE = {"placement": {"featureGates": {"PlacementDebugServer": "Enable"}}}


def _program(hub: FakeKube, cluster_manager: Mapping[str, object]) -> Callable[[], None]:
    """The stack's own program at v1.3.1 with `cluster_manager` settings, its provider on `hub`."""

    def program() -> None:
        set_all_config(
            {
                "ocm-hub:ocmVersion": "v1.3.1",
                "ocm-hub:clusterManager": json.dumps(cluster_manager),
                "kubernetes:kubeconfig": yaml.safe_dump(hub.kubeconfig()),
            },
            ["kubernetes:kubeconfig"],
        )
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")

    return program


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(offline.ENV, raising=False)


def _hub_at(hub: FakeKube, version: str) -> FakeKube:
    """The hub with `version`'s ClusterManager CRD, as ocm-hub leaves it (retained on delete)."""
    hub.put_object(RELEASES[version].operator_objects("cluster-manager")[0])
    return hub


@pytest.mark.usefixtures("online")
def test_previewing_a_new_field_on_an_older_hub_names_the_field_and_the_two_steps(hub: FakeKube) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        recording.run(_program(_hub_at(hub, "v1.2.1"), PLACEMENT_GATE), preview=True)
    message = str(caught.value)
    assert (
        "the hub's ClusterManager CRD (clustermanagers.operator.open-cluster-management.io) does not declare "
        in message
    )
    assert "spec.placementConfiguration, which this stack sets at OCM v1.3.1" in message
    assert "ocmVersion v1.3.1 alone first (pulumi up), then the settings" in message
    assert "typed patch" not in message


@pytest.mark.usefixtures("online")
@pytest.mark.parametrize(
    ("crd", "cluster_manager", "preview"),
    [
        ("v1.2.1", {}, True),  # step one: the upgrade alone sets nothing the old CRD lacks
        ("v1.3.1", PLACEMENT_GATE, True),  # step two, once the upgrade is applied
        ("v1.2.1", PLACEMENT_GATE, False),  # `pulumi up` applies the CRD before the ClusterManager
        (None, PLACEMENT_GATE, True),  # a new hub: no CRD for pulumi-kubernetes to dry-run against
    ],
    ids=["upgrade-alone", "after-upgrade", "up", "new-hub"],
)
def test_what_the_hub_can_preview_or_apply_passes(
    hub: FakeKube, crd: str | None, cluster_manager: Mapping[str, object], preview: bool
) -> None:
    found = recording.run(_program(_hub_at(hub, crd) if crd else hub, cluster_manager), preview=preview)
    (applied,) = [r for r in found.resources if r.name == "ocm-hub-cluster-manager"]
    assert ("placementConfiguration" in applied.inputs["spec"]) == bool(cluster_manager)
