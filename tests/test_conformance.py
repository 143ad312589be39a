"""The operator objects match upstream OCM v1.3.1 (../shared/ocm) field by field.

Only the differences listed in INTENDED_DIFFERENCES are allowed; any other drift fails.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from components.registration_operator import DATA_DIR
from render import documents
from render.recording import Recording
from tests.conftest import SHARED_DIR, run_values, upstream_docs

UPSTREAM = "ocm/v1.3.1/operator/cluster-manager/config"
UPSTREAM_FILES = {
    "Namespace": "operator/namespace.yaml",
    "ServiceAccount": "operator/service_account.yaml",
    "Deployment": "operator/operator.yaml",
    "ClusterRole": "rbac/cluster_role.yaml",
    "ClusterRoleBinding": "rbac/cluster_role_binding.yaml",
    "CustomResourceDefinition": "crds/0000_01_operator.open-cluster-management.io_clustermanagers.crd.yaml",
}
VERSION = "v1.3.1"

DROP = object()

# What ocm-hub changes on purpose, and why. Applied to the upstream object before comparing.
INTENDED_DIFFERENCES: dict[str, list[tuple[str, Any]]] = {
    "CustomResourceDefinition: status is the API server's; the file's empty placeholder is not sent": [
        ("status", DROP),
    ],
    "Deployment: container image, pinned by the version bundle (upstream config says :latest)": [
        ("spec.template.spec.containers[0].image", f"quay.io/open-cluster-management/registration-operator:{VERSION}"),
    ],
    "Deployment: AGENT_IMAGE follows the operator image, as upstream's chart does": [
        (
            "spec.template.spec.containers[0].env[1].value",
            f"quay.io/open-cluster-management/registration-operator:{VERSION}",
        ),
    ],
    "Deployment: --skip-remove-crds, so deleting the ClusterManager cannot wipe the fleet": [
        ("spec.template.spec.containers[0].args", ["/registration-operator", "hub", "--skip-remove-crds"]),
    ],
    "Deployment: the await bound of pulumi-kubernetes, from readinessTimeout": [
        ("metadata.annotations", {"pulumi.com/timeoutSeconds": "600"}),
    ],
}


def _set(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.replace("]", "").replace("[", ".").split(".")
    target: Any = obj
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    if value is DROP:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value


def _upstream(kind: str) -> dict[str, Any]:
    (doc,) = [d for d in upstream_docs(f"{UPSTREAM}/{UPSTREAM_FILES[kind]}") if d["kind"] == kind]
    return doc


def _expected(kind: str) -> dict[str, Any]:
    doc = copy.deepcopy(_upstream(kind))
    for label, changes in INTENDED_DIFFERENCES.items():
        if label.startswith(f"{kind}:"):
            for path, value in changes:
                _set(doc, path, value)
    return doc


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Any]]:
    recording: Recording = run_values({})
    return {doc["kind"]: doc for doc in documents.objects(recording)}


@pytest.mark.parametrize("kind", sorted(UPSTREAM_FILES))
def test_operator_objects_match_upstream(rendered: dict[str, dict[str, Any]], kind: str) -> None:
    assert rendered[kind] == _expected(kind)


def test_intended_differences_are_real_differences() -> None:
    """Each listed difference must change the upstream object, or the list is stale."""
    for label, changes in INTENDED_DIFFERENCES.items():
        kind = label.split(":", 1)[0]
        for path, value in changes:
            doc = copy.deepcopy(_upstream(kind))
            before = copy.deepcopy(doc)
            _set(doc, path, value)
            assert doc != before, f"{label}: {path} already equals upstream"


def test_shipped_crd_is_the_upstream_file() -> None:
    shipped = DATA_DIR / "v1.3.1" / "clustermanagers.crd.yaml"
    upstream = SHARED_DIR / UPSTREAM / UPSTREAM_FILES["CustomResourceDefinition"]
    assert shipped.read_bytes() == upstream.read_bytes()
    assert "clustermanagers.crd.yaml" in (DATA_DIR / "PROVENANCE.md").read_text()


def test_cluster_role_rules_keep_upstream_order(rendered: dict[str, dict[str, Any]]) -> None:
    assert [r["resources"] for r in rendered["ClusterRole"]["rules"]] == [
        r["resources"] for r in _upstream("ClusterRole")["rules"]
    ]


def test_upstream_oracle_is_complete() -> None:
    for relative in UPSTREAM_FILES.values():
        assert Path(SHARED_DIR / UPSTREAM / relative).is_file(), relative
