"""Every ClusterManager the program can produce validates against the CRD's openAPIV3Schema."""

from __future__ import annotations

import itertools
import random
from typing import Any

import jsonschema
import pytest

from components.cluster_manager import cluster_manager_spec
from config import RELEASES, RawConfig, from_file, load
from tests.conftest import STACKS, stack_file, upstream_docs

CRD_PATH = "ocm/v1.3.1/api-crds/operator/v1/0000_01_operator.open-cluster-management.io_clustermanagers.crd.yaml"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    (crd,) = upstream_docs(CRD_PATH)
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = version["schema"]["openAPIV3Schema"]
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def _object(values: dict[str, Any]) -> dict[str, Any]:
    cfg = load(RawConfig(values))
    return {
        "apiVersion": "operator.open-cluster-management.io/v1",
        "kind": "ClusterManager",
        "metadata": {"name": "cluster-manager"},
        "spec": cluster_manager_spec(cfg),
    }


def _errors(validator: jsonschema.Draft4Validator, obj: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


@pytest.mark.parametrize("stack", STACKS)
def test_example_stacks_produce_valid_cluster_managers(validator: jsonschema.Draft4Validator, stack: str) -> None:
    cfg = load(from_file(stack_file(stack)))
    obj = {
        "apiVersion": "operator.open-cluster-management.io/v1",
        "kind": "ClusterManager",
        "spec": cluster_manager_spec(cfg),
    }
    assert _errors(validator, obj) == []


def _generated_configs(count: int) -> list[dict[str, Any]]:
    """Deterministic spread over every gate, mode, placement and resource option the config allows."""
    release = RELEASES["v1.3.1"]
    rng = random.Random(20261123)
    sections = ("registration", "work", "addOnManager", "placement")
    tolerations = [
        {"key": "infra", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "zone", "operator": "Equal", "value": "a", "effect": "NoExecute", "tolerationSeconds": 30},
        {"operator": "Exists"},
    ]
    requirement_types = ["Default", "BestEffort", "ResourceRequirement"]
    configs = []
    for index in range(count):
        cm: dict[str, Any] = {}
        for section in sections:
            gates = list(release.gates(section))
            chosen = rng.sample(gates, rng.randint(0, len(gates)))
            if chosen:
                cm[section] = {"featureGates": {g: rng.choice(["Enable", "Disable"]) for g in chosen}}
        if cm.get("registration", {}).get("featureGates", {}).get("ManagedClusterAutoApproval") == "Enable":
            cm["registration"]["autoApproveUsers"] = ["system:serviceaccount:open-cluster-management:bootstrap"]
        if index % 2:
            cm["nodePlacement"] = {
                "nodeSelector": {"node-role.kubernetes.io/infra": ""},
                "tolerations": rng.sample(tolerations, rng.randint(1, len(tolerations))),
            }
        kind = requirement_types[index % 3]
        cm["resourceRequirement"] = {"type": kind}
        if kind == "ResourceRequirement":
            cm["resourceRequirement"]["resourceRequirements"] = {
                "requests": {"cpu": "10m"},
                "limits": {"memory": "1Gi"},
            }
        images = {"registry": "mirror.example.com:5000/ocm"} if index % 4 == 0 else {}
        configs.append({"clusterManager": cm, "images": images})
    return configs


@pytest.mark.parametrize("values", _generated_configs(60))
def test_generated_configs_produce_valid_cluster_managers(
    validator: jsonschema.Draft4Validator, values: dict[str, Any]
) -> None:
    assert _errors(validator, _object(values)) == []


def test_generated_configs_cover_every_gate() -> None:
    seen: set[str] = set()
    for values in _generated_configs(60):
        for section in values["clusterManager"].values():
            seen.update((section.get("featureGates") or {}) if isinstance(section, dict) else {})
    release = RELEASES["v1.3.1"]
    assert seen >= set(
        itertools.chain(*(release.gates(s) for s in ("registration", "work", "addOnManager", "placement")))
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("deployOption", "mode"), "Singleton"),
        (("registrationConfiguration", "featureGates"), [{"feature": "X", "mode": "On"}]),
        (("resourceRequirement", "type"), "Guaranteed"),
        (("workConfiguration", "workDriver"), "carrier-pigeon"),
    ],
)
def test_schema_check_can_fail(validator: jsonschema.Draft4Validator, path: tuple[str, str], value: Any) -> None:
    obj = _object({})
    obj["spec"].setdefault(path[0], {})[path[1]] = value
    assert _errors(validator, obj)
