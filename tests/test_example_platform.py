"""examples/platform composes OcmHub inside a larger stack: its provider everywhere, its outputs used."""

from __future__ import annotations

import runpy

from pulumi.runtime.config import set_all_config

from render import recording
from tests.conftest import PROJECT_DIR

EXAMPLE = PROJECT_DIR / "examples" / "platform" / "__main__.py"


def _run() -> recording.Recording:
    def program() -> None:
        set_all_config(
            {"platform:hubKubeconfig": "apiVersion: v1\nkind: Config\n", "platform:clusters": '["edge-1"]'},
            ["platform:hubKubeconfig"],
        )
        runpy.run_path(str(EXAMPLE), run_name="__main__")

    return recording.run(program, project="platform", stack="dev")


def test_platform_composes_the_hub_with_its_own_provider() -> None:
    rec = _run()
    (provider,) = [r for r in rec.resources if r.type == "pulumi:providers:kubernetes" and r.name == "hub-cluster"]
    kube = [r for r in rec.resources if r.type.startswith("kubernetes:")]
    hub_children = [r for r in kube if r.name.startswith("platform-ocm-")]
    assert len(hub_children) >= 10  # operator objects, ClusterManager, addon namespace and releases
    assert all(r.provider.startswith(provider.urn + "::") for r in kube)
    assert not [r for r in rec.resources if r.type == "pulumi:providers:kubernetes" and r.name.startswith("default")]


def test_platform_uses_the_hub_outputs() -> None:
    rec = _run()
    (facts,) = [r for r in rec.resources if r.name == "platform-ocm-facts"]
    assert facts.inputs["data"]["ocmVersion"] == "v1.3.1"
    assert facts.inputs["data"]["registrationImage"] == "quay.io/open-cluster-management/registration:v1.3.1"
    (cluster_manager,) = [r for r in rec.resources if r.type.endswith(":ClusterManager")]
    assert cluster_manager.urn in facts.dependencies  # written only once the awaited hub is ready
    assert set(rec.outputs) == {"hubReady", "hubConditions", "addons", "fleet", "clusters"}
    assert rec.outputs["addons"]["clusterProxy"]["enabled"] is True


def test_registrations_reach_the_hub_through_the_platform_kubeconfig_kept_secret() -> None:
    rec = _run()
    (registration,) = rec.of_type("pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration")
    assert registration.name == "platform-ocm-cluster-edge-1"
    assert registration.inputs["hubKubeconfig"]["value"] == "apiVersion: v1\nkind: Config\n"
    assert set(registration.secret_inputs) == {"__provider", "hubKubeconfig"}  # spec and status stay readable
    assert registration.additional_secret_outputs == ("hubKubeconfig",)
    assert registration.inputs["spec"]["labels"] == {"platform": "edge"}
