"""Tree shape under Pulumi's mocks: parents, order, providers, fleet safety and stable identities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components import OcmHub
from config import RawConfig, load
from providers.hub_status import READY_CONDITIONS
from render import recording
from tests.conftest import run_values

CR = "kubernetes:operator.open-cluster-management.io/v1:ClusterManager"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
READINESS = "pulumi-python:dynamic/ocm-hub:HubReadiness"


def _one(rec: recording.Recording, type_: str) -> recording.ResourceRequest:
    (found,) = rec.of_type(type_)
    return found


def _operator_args(rec: recording.Recording) -> list[str]:
    args: list[str] = _one(rec, DEPLOYMENT).inputs["spec"]["template"]["spec"]["containers"][0]["args"]
    return args


def test_every_resource_hangs_under_the_hub(dev_recording: recording.Recording) -> None:
    by_urn = {r.urn: r for r in dev_recording.resources}
    (root,) = [r for r in dev_recording.resources if r.type == "ocm-hub:index:OcmHub"]
    assert root.name == "ocm-hub"
    for reg in dev_recording.resources:
        chain = reg
        while chain is not root:
            assert chain.parent in by_urn, f"{reg.name} is not under the OcmHub tree"
            chain = by_urn[chain.parent]


def test_tree_declares_the_upstream_objects(dev_recording: recording.Recording) -> None:
    kinds = sorted(  # the addons' releases and their namespace: tests/test_addons.py
        r.type.rsplit(":", 1)[1]
        for r in dev_recording.resources
        if r.custom and r.type.startswith("kubernetes:") and "HubAddons" not in r.parent
    )
    assert kinds == [
        "ClusterManager",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Deployment",
        "Namespace",
        "ServiceAccount",
    ]


def test_cluster_manager_waits_for_crd_and_operator(dev_recording: recording.Recording) -> None:
    cr = _one(dev_recording, CR)
    (operator,) = [r for r in dev_recording.resources if r.type == "ocm-hub:index:ClusterManagerOperator"]
    needed = {r.urn for r in dev_recording.resources if r.custom and r.parent == operator.urn}
    assert len(needed) == 6
    assert needed <= set(cr.dependencies)
    deployment = _one(dev_recording, DEPLOYMENT)
    assert _one(dev_recording, CRD).urn in deployment.dependencies


def test_pulumi_kubernetes_does_not_await_the_cluster_manager(dev_recording: recording.Recording) -> None:
    """Without pulumi.com/waitFor (and PULUMI_K8S_AWAIT_ALL unset) pulumi-kubernetes creates and updates the
    CR without waiting (pkg/metadata/overrides.go ReadyCondition); the readiness resource waits instead."""
    annotations = _one(dev_recording, CR).inputs["metadata"].get("annotations") or {}
    assert not {"pulumi.com/waitFor", "pulumi.com/timeoutSeconds", "pulumi.com/skipAwait"} & set(annotations)


def test_the_hub_is_awaited_by_its_readiness_resource(dev_recording: recording.Recording) -> None:
    cr, readiness = _one(dev_recording, CR), _one(dev_recording, READINESS)
    assert readiness.parent == cr.parent
    assert cr.urn in readiness.dependencies
    assert readiness.inputs["name"] == cr.inputs["metadata"]["name"] == "cluster-manager"
    assert readiness.inputs["spec"] == cr.inputs["spec"]  # a new generation to wait for is an update
    assert readiness.inputs["timeoutSeconds"] == 300  # the dev stack's readinessTimeout


def _hub_reported(
    status: dict[str, Any],
) -> Callable[[Any, pulumi.runtime.MockResourceArgs], tuple[str, dict[str, Any]]]:
    """Mocks where the readiness resource reports `status` and the ClusterManager reports none."""

    def new_resource(_self: Any, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == READINESS:
            outputs.update(metadata={"name": "cluster-manager", "generation": 2}, status=status)
        return f"{args.name}-id", outputs

    return new_resource


def test_status_outputs_come_from_the_readiness_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    conditions = [
        {"type": kind, "status": want, "reason": "Fake", "message": ""} for kind, want in READY_CONDITIONS.items()
    ]
    related = [{"group": "apps", "resource": "deployments", "name": "cluster-manager-registration-controller"}]
    ready = {"observedGeneration": 2, "conditions": conditions, "relatedResources": related}
    monkeypatch.setattr(recording._Mocks, "new_resource", _hub_reported(ready))
    outputs = recording.run_main(RawConfig({})).outputs
    assert outputs["hubReady"] is True
    assert outputs["notReadyReasons"] == []
    assert [c["type"] for c in outputs["clusterManagerConditions"]] == sorted(READY_CONDITIONS)
    assert outputs["relatedResources"] == related
    monkeypatch.setattr(recording._Mocks, "new_resource", _hub_reported({**ready, "observedGeneration": 1}))
    outputs = recording.run_main(RawConfig({})).outputs
    assert outputs["hubReady"] is False
    assert outputs["notReadyReasons"] == ["status.observedGeneration 1 has not caught up with generation 2"]


def test_fleet_is_protected_by_default() -> None:
    rec = run_values({})
    assert _one(rec, CRD).retain_on_delete
    assert _one(rec, CR).retain_on_delete
    assert "--skip-remove-crds" in _operator_args(rec)


def test_teardown_switch_removes_everything_in_order() -> None:
    rec = run_values({"allowTeardown": True})
    assert not any(r.retain_on_delete for r in rec.resources)
    assert "--skip-remove-crds" not in _operator_args(rec)
    # The engine deletes dependents first: the CR goes while the operator (a dependency) still runs.
    assert _one(rec, DEPLOYMENT).urn in _one(rec, CR).dependencies


def test_version_or_image_change_keeps_identities() -> None:
    before = run_values({})
    after = run_values({"images": {"tag": "v1.3.1-hotfix", "registry": "mirror.example.com/ocm"}})

    def identities(rec: recording.Recording) -> list[tuple[str, Any]]:
        return sorted((r.urn, r.inputs.get("metadata")) for r in rec.resources if r.type != DEPLOYMENT)

    assert identities(before) == identities(after)
    assert _one(before, CR).inputs["spec"] != _one(after, CR).inputs["spec"]
    assert not any(r.delete_before_replace for r in after.resources)


def test_all_four_images_are_tagged_on_the_cluster_manager(dev_recording: recording.Recording) -> None:
    spec = _one(dev_recording, CR).inputs["spec"]
    for key in (
        "registrationImagePullSpec",
        "workImagePullSpec",
        "placementImagePullSpec",
        "addOnManagerImagePullSpec",
    ):
        assert spec[key].endswith(":v1.3.1"), key


def _explicit_provider_program() -> None:
    provider = k8s.Provider("platform-hub", kubeconfig="{}")
    OcmHub("hub-a", {}, pulumi.ResourceOptions(providers={"kubernetes": provider}))


def test_explicit_provider_reaches_every_kubernetes_resource() -> None:
    rec = recording.run(_explicit_provider_program)
    (provider,) = rec.of_type("pulumi:providers:kubernetes")
    kube = [r for r in rec.resources if r.type.startswith("kubernetes:")]
    assert len(kube) == 7
    assert all(r.provider.startswith(provider.urn + "::") for r in kube), [r.provider for r in kube]


def _two_hubs_program() -> None:
    cfg = load(RawConfig({}))
    OcmHub("hub-east", cfg.args())
    OcmHub("hub-west", cfg.args())


def test_two_hubs_in_one_stack_do_not_collide() -> None:
    rec = recording.run(_two_hubs_program)
    urns = [r.urn for r in rec.resources]
    assert len(urns) == len(set(urns)) == 20


def test_two_evaluations_give_identical_inputs() -> None:
    def snapshot() -> list[tuple[str, Any, list[str], bool]]:
        # Request order follows asyncio scheduling and means nothing to the engine; content must not vary.
        return sorted((r.urn, r.inputs, sorted(r.dependencies), r.retain_on_delete) for r in run_values({}).resources)

    assert snapshot() == snapshot()


@pytest.mark.parametrize("preview", [True, False])
def test_outputs_are_exported(preview: bool) -> None:
    rec = recording.run_main(RawConfig({}), preview=preview)
    assert set(rec.outputs) >= {"hubReady", "clusterManagerConditions", "ocmVersion", "images", "namespaces"}
    assert rec.outputs["namespaces"] == {"operator": "open-cluster-management", "hub": "open-cluster-management-hub"}
    assert (
        rec.outputs["images"]["registrationOperator"] == "quay.io/open-cluster-management/registration-operator:v1.3.1"
    )
    assert not rec.secret_outputs
