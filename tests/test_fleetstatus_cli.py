"""`make status`: live from the hub in the shape of the kubectl checks, else from saved outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetstatus.__main__ import main
from ocmhub_testing.fake_agent import ADDON, MANAGED_CLUSTER
from ocmhub_testing.fakekube import FakeKube

READY = [
    {"type": "Applied", "status": "True", "reason": "ClusterManagerApplied", "message": ""},
    {"type": "Progressing", "status": "False", "reason": "ClusterManagerUpToDate", "message": ""},
    {"type": "HubRegistrationDegraded", "status": "False", "reason": "RegistrationFunctional", "message": ""},
    {"type": "HubPlacementDegraded", "status": "False", "reason": "PlacementFunctional", "message": ""},
    {"type": "ValidFeatureGates", "status": "True", "reason": "FeatureGatesAllValid", "message": ""},
]


PROXY_ONLY = "config:\n  ocm-hub:addons:\n    clusterProxy:\n      enabled: true\n"
THREE_ADDONS = """\
config:
  ocm-hub:addons:
    clusterProxy: {enabled: true}
    managedServiceAccount: {enabled: true}
    clusterGateway: {enabled: true}
"""


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKube]:
    """The hub, and stack `dev` of a project of the test's own that enables cluster-proxy."""
    (tmp_path / "Pulumi.dev.yaml").write_text(PROXY_ONLY)
    monkeypatch.setattr("fleetstatus.__main__.PROJECT_DIR", tmp_path)
    with FakeKube() as kube:
        monkeypatch.setenv("KUBECONFIG", str(kube.write_kubeconfig(tmp_path / "hub.kubeconfig")))
        yield kube


def _cluster(hub: FakeKube, name: str, joined: str, available: str, addons: dict[str, dict[str, str]]) -> None:
    hub.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    hub.put_object(
        {
            "apiVersion": MANAGED_CLUSTER[0],
            "kind": MANAGED_CLUSTER[1],
            "metadata": {"name": name, "annotations": {"ocm-hub.io/klusterlet-mode": "Default"}},
            "spec": {"hubAcceptsClient": True, "managedClusterClientConfigs": [{"url": f"https://{name}:6443"}]},
            "status": {
                "conditions": [
                    {"type": "ManagedClusterJoined", "status": joined, "reason": "r", "message": ""},
                    {"type": "ManagedClusterConditionAvailable", "status": available, "reason": "r", "message": ""},
                ]
            },
        }
    )
    for addon, conditions in addons.items():
        hub.put_object(
            {
                "apiVersion": ADDON[0],
                "kind": ADDON[1],
                "metadata": {"name": addon, "namespace": name},
                "spec": {},
                "status": {
                    "conditions": [
                        {"type": k, "status": v, "reason": "r", "message": ""} for k, v in conditions.items()
                    ]
                },
            }
        )


def _fleet(hub: FakeKube) -> None:
    hub.put_object(
        {
            "apiVersion": "operator.open-cluster-management.io/v1",
            "kind": "ClusterManager",
            "metadata": {"name": "cluster-manager", "generation": 1},
            "spec": {},
            "status": {"observedGeneration": 1, "conditions": READY},
        }
    )
    _cluster(hub, "prod-eu", "True", "True", {"cluster-proxy": {"Available": "True", "Degraded": "False"}})
    _cluster(hub, "edge-1", "True", "Unknown", {"cluster-proxy": {"Available": "False", "Progressing": "True"}})


def test_live_table_has_the_kubectl_columns(hub: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    _fleet(hub)
    assert main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("hub ready: True  (live")
    header = next(line for line in out if line.startswith("NAME"))
    assert header.split() == [
        "NAME",
        "HUB",
        "ACCEPTED",
        "MANAGED",
        "CLUSTER",
        "URLS",
        "JOINED",
        "AVAILABLE",
        "CLUSTER-PROXY",
    ]
    rows = {line.split()[0]: line.split() for line in out if line.split() and line.split()[0] in ("prod-eu", "edge-1")}
    assert rows["prod-eu"] == ["prod-eu", "true", "https://prod-eu:6443", "True", "True", "Available"]
    assert rows["edge-1"] == ["edge-1", "true", "https://edge-1:6443", "True", "Unknown", "Progressing"]
    assert out[-1] == "2/2 joined, 1 available; addons available 1/2"


def test_live_json_for_machines(hub: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    _fleet(hub)
    assert main(["--stack", "dev", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["hubReady"] is True
    assert report["clusters"]["edge-1"]["addons"]["cluster-proxy"]["available"]["status"] == "False"
    assert report["fleetSummary"] == {
        "clusters": 2,
        "joined": 2,
        "available": 1,
        "addons": {"declared": 2, "available": 1},
    }


def test_every_enabled_addon_has_a_column_and_counts_even_where_no_cluster_has_it(
    hub: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The gateway addon with no ManagedClusterAddOn anywhere is Missing, not left out of the table and
    the count."""
    (tmp_path / "Pulumi.dev.yaml").write_text(THREE_ADDONS)
    _fleet(hub)
    _cluster(hub, "edge-1", "True", "True", {"managed-serviceaccount": {"Available": "True"}})
    assert main(["--stack", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("NAME"))
    assert header.split()[-3:] == ["CLUSTER-GATEWAY", "CLUSTER-PROXY", "MANAGED-SERVICEACCOUNT"]
    rows = {line.split()[0]: line.split() for line in out if line.split() and line.split()[0] in ("prod-eu", "edge-1")}
    assert rows["prod-eu"][-3:] == ["Missing", "Available", "Missing"]
    assert rows["edge-1"][-3:] == ["Missing", "Progressing", "Available"]
    assert out[-1] == "2/2 joined, 2 available; addons available 2/6"


def test_a_stack_file_with_invalid_addons_is_the_config_error_make_up_gives(
    hub: FakeKube, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  ocm-hub:addons:\n    clusterProxy: {enabled: maybe}\n")
    assert main(["--stack", "dev"]) == 2
    assert "addons.clusterProxy.enabled" in capsys.readouterr().err


def _checkpoint(directory: Path, outputs: dict[str, Any]) -> None:
    path = directory / ".pulumi" / "stacks" / "ocm-hub" / "dev.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "version": 3,
                "checkpoint": {
                    "latest": {
                        "manifest": {"time": "2026-11-23T07:00:00Z"},
                        "resources": [{"type": "pulumi:pulumi:Stack", "urn": "urn:x", "outputs": outputs}],
                    }
                },
            }
        )
    )


def test_without_a_hub_the_saved_outputs_are_shown_with_their_age(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "c2VjcmV0LWJ5dGVz"}
    _checkpoint(
        tmp_path / "state",
        {
            "hubReady": True,
            "clusterManagerConditions": READY,
            "clusters": {
                "prod-eu": {
                    "hubAccepted": True,
                    "clientUrls": [secret],
                    "joined": {"status": "True"},
                    "available": {"status": "True"},
                    "addons": {},
                }
            },
            "fleetSummary": {"clusters": 1, "joined": 1, "available": 1, "addons": {"declared": 0, "available": 0}},
        },
    )
    assert main(["--stack", "dev", "--state-dir", str(tmp_path / "state")]) == 0
    out = capsys.readouterr().out
    assert "hub not reachable" in out
    assert "outputs of 2026-11-23T07:00:00Z" in out
    assert " ago)" in out
    assert "c2VjcmV0LWJ5dGVz" not in out
    assert "[secret]" in out


def test_no_hub_and_no_state_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert main(["--stack", "dev", "--state-dir", str(tmp_path)]) == 1
    assert "has no saved outputs" in capsys.readouterr().err


def test_a_stack_file_that_is_not_a_mapping_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "the hub is not reachable": the stack file is what is wrong."""
    (tmp_path / "Pulumi.listed.yaml").write_text("- config: {}\n")
    monkeypatch.setattr("fleetstatus.__main__.PROJECT_DIR", tmp_path)
    assert main(["--stack", "listed", "--state-dir", str(tmp_path)]) == 2
    assert f"{tmp_path / 'Pulumi.listed.yaml'}: a stack file is a mapping" in capsys.readouterr().err
