"""kwok's stages on the local clusters: kwokctl's defaults, with readiness and completion gated on the
kubelet's annotation."""

from __future__ import annotations

from sandbox import stages


def test_the_stages_are_kwokctls_defaults_for_the_binary_runtime() -> None:
    found = stages.kwok_stages()
    assert [s["metadata"]["name"] for s in found] == [
        "node-initialize",
        "node-heartbeat-with-lease",
        "pod-ready",
        "pod-complete",
        "pod-delete",
    ]
    assert {s["kind"] for s in found} == {"Stage"}
    assert {s["apiVersion"] for s in found} == {"kwok.x-k8s.io/v1alpha1"}


def test_only_readiness_and_completion_wait_for_the_kubelets_annotation() -> None:
    for stage in stages.kwok_stages():
        expressions = stage["spec"]["selector"]["matchExpressions"]
        gated = stages.GATE in expressions
        assert gated is (stage["metadata"]["name"] in stages.GATED), stage["metadata"]["name"]
    assert stages.GATE["key"] == '.metadata.annotations["e2e.ocm-hub.io/runtime"]'


def test_pod_delete_still_deletes_whatever_is_deleted() -> None:
    (delete,) = [s for s in stages.kwok_stages() if s["metadata"]["name"] == "pod-delete"]
    assert delete["spec"]["selector"]["matchExpressions"] == [
        {"key": ".metadata.deletionTimestamp", "operator": "Exists"}
    ]
    assert delete["spec"]["next"] == {"delete": True}
