"""kwok's stages on the local clusters: kwokctl's defaults, with readiness and completion gated on the
kubelet's annotation."""

from __future__ import annotations

from pathlib import Path

import yaml

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


def test_a_cluster_is_known_by_the_stages_kwokctl_saved_for_it(tmp_path: Path) -> None:
    saved = tmp_path / "kwok.yaml"
    config = {"kind": "KwokctlConfiguration", "apiVersion": "config.kwok.x-k8s.io/v1alpha1"}
    saved.write_text(yaml.safe_dump_all([config, *stages.kwok_stages()]), encoding="utf-8")
    assert stages.in_use(saved)
    wrapped = stages.kwok_stages()  # as kwokctl saves them: each expression under its kind
    for doc in wrapped:
        selector = doc["spec"]["selector"]
        selector["matchExpressions"] = [{"jq": e} for e in selector["matchExpressions"]]
    saved.write_text(yaml.safe_dump_all([config, *wrapped]), encoding="utf-8")
    assert stages.in_use(saved)
    ungated = yaml.safe_load_all(stages.STAGES_FILE.read_text(encoding="utf-8"))
    defaults = [doc for doc in ungated if doc]
    for doc in defaults:
        expressions = doc["spec"]["selector"]["matchExpressions"]
        doc["spec"]["selector"]["matchExpressions"] = [e for e in expressions if e != stages.GATE]
    saved.write_text(yaml.safe_dump_all([config, *defaults]), encoding="utf-8")
    assert not stages.in_use(saved), "kwokctl's own defaults: a cluster made before the gate"
    assert not stages.in_use(tmp_path / "missing.yaml")
