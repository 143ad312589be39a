"""Every upstream object ocm-hub creates is its release's vendored file plus the declared Changes, nothing else.

The vendored folders (config/releases/<version>/) must be upstream's bytes: v1.3.1 is compared with
../shared, v1.2.1 with the module Go fetches for the e2e binaries, and every file with the sha256 its
PROVENANCE.md records. The Change lists are the ones the builders apply
(components/operator_manifests.py, providers/klusterlet.py); each must change something real.
"""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import operator_manifests as manifests
from components.cluster_manager import spec_schema, undeclared
from config import RawConfig, load, names
from config.versions import (
    DEFAULT_VERSION,
    OPERATOR_FILES,
    RELEASES,
    RELEASES_DIR,
    SAMPLE_FILES,
    Change,
    apply_changes,
)
from render import documents
from render.recording import Recording
from sandbox import tools
from tests.conftest import SHARED_DIR, STACKS, changes_something, run_values, stack_file


def _ocm_module_deploy() -> Path:
    """upstream's deploy/ of the OCM release the e2e binaries are built from, fetched by Go through the
    pinned wrapper module (hack/tools/ocm: go.sum verifies it) when the module cache lacks it."""
    if shutil.which("go") is None:
        pytest.fail("Go is needed to fetch open-cluster-management.io/ocm for this comparison", pytrace=False)
    (tool,) = tools.select(["registration-operator"])
    assert tool.version() == "v1.2.1", "the folder compared here is the one the binaries are built from"
    return Path(tools.module_dir(tool)) / "deploy"


UPSTREAM_DIRS: dict[str, Callable[[], Path]] = {
    "v1.3.1": lambda: SHARED_DIR / "ocm/v1.3.1/operator",
    "v1.2.1": _ocm_module_deploy,
}
# A config that moves every setting off upstream's value, so each Change is seen doing something.
EVERYTHING: dict[str, Any] = {
    "images": {"registry": "mirror.example.com/ocm", "pullPolicy": "Always"},
    "imagePullSecrets": ["mirror-pull"],
    "operator": {
        "replicas": 2,
        "resources": {"requests": {"cpu": "10m"}, "limits": {"memory": "64Mi"}},
        "nodeSelector": {"infra": "true"},
        "tolerations": [{"key": "infra", "operator": "Exists", "effect": "NoSchedule"}],
        "enableSyncLabels": True,
    },
    "clusterManager": {
        "registration": {"featureGates": {"ResourceCleanup": "Disable"}},
        "work": {"featureGates": {"ManifestWorkReplicaSet": "Enable"}},
        "addOnManager": {"featureGates": {"AddonManagement": "Enable"}},
        "placement": {"featureGates": {"PlacementDebugServer": "Enable"}},
        "nodePlacement": {"nodeSelector": {"infra": "true"}},
        "resourceRequirement": {"type": "BestEffort"},
    },
}


def _vendored(version: str, component: str, relative: str) -> list[dict[str, Any]]:
    """Read apart from config.versions, so a loader that alters documents is caught."""
    text = (RELEASES_DIR / version / component / relative).read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _upstream_hub(version: str) -> dict[str, dict[str, Any]]:
    """By kind: the hub operator has one object of each."""
    files = [*OPERATOR_FILES["cluster-manager"], SAMPLE_FILES["cluster-manager"]]
    return {doc["kind"]: doc for relative in files for doc in _vendored(version, "cluster-manager", relative)}


def _rendered(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The rendered objects that have an upstream file, by kind (the addon namespace has none)."""
    recording: Recording = run_values(values)
    upstream = {(doc["kind"], doc["metadata"]["name"]) for doc in _upstream_hub(DEFAULT_VERSION).values()}
    return {
        doc["kind"]: doc for doc in documents.objects(recording) if (doc["kind"], doc["metadata"]["name"]) in upstream
    }


def _stack_values(stack: str) -> dict[str, Any]:
    config = yaml.safe_load(stack_file(stack).read_text())["config"]
    """Its hub settings: registration (discovery would need a hub) makes no hub object."""
    return {key.removeprefix("ocm-hub:"): value for key, value in config.items() if key.startswith("ocm-hub:")} | {
        "registration": {}
    }


CONFIGS = {"defaults": {}, "everything": EVERYTHING} | {f"stack {s}": _stack_values(s) for s in STACKS}
HUB_CHANGES = (*manifests.OPERATOR_CHANGES, *manifests.CLUSTER_MANAGER_CHANGES)


def _at_release(values: dict[str, Any], version: str) -> dict[str, Any]:
    """The config as a stack at `version` can write it: without the feature gates that release lacks."""
    result = copy.deepcopy(values) | {"ocmVersion": version}
    for section, settings in (result.get("clusterManager") or {}).items():
        if "featureGates" in settings:
            known = RELEASES[version].gates(section)
            settings["featureGates"] = {name: mode for name, mode in settings["featureGates"].items() if name in known}
    return result


@pytest.mark.parametrize("version", sorted(RELEASES))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_hub_objects_are_upstream_plus_the_declared_changes(version: str, config: str) -> None:
    values = _at_release(CONFIGS[config], version)
    cfg = load(RawConfig(values))
    expected = {kind: apply_changes(doc, HUB_CHANGES, cfg) for kind, doc in _upstream_hub(version).items()}
    assert _rendered(values) == expected


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_the_hub_names_status_and_deploy_read_are_the_releases_own(version: str) -> None:
    """config.names is what make status, make up's drift read and the readiness take them from."""
    upstream = _upstream_hub(version)
    cluster_manager, crd = upstream["ClusterManager"], upstream["CustomResourceDefinition"]
    assert (cluster_manager["apiVersion"], cluster_manager["kind"], cluster_manager["metadata"]["name"]) == (
        names.CLUSTER_MANAGER_API_VERSION,
        names.CLUSTER_MANAGER_KIND,
        names.CLUSTER_MANAGER_NAME,
    )
    assert crd["metadata"]["name"] == names.CLUSTER_MANAGER_CRD


@pytest.mark.parametrize("version", sorted(RELEASES))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_the_cluster_manager_sets_only_what_its_release_crd_declares(version: str, config: str) -> None:
    """A field the CRD lacks is refused by the API server, a preview's dry-run included: each release's feature
    gates (config/versions.py) must match its CRD."""
    rendered = _rendered(_at_release(CONFIGS[config], version))
    schema = spec_schema(rendered["CustomResourceDefinition"])
    assert undeclared(rendered["ClusterManager"]["spec"], schema, "spec") == []


@pytest.mark.parametrize("change", HUB_CHANGES, ids=lambda c: f"{c.kind}:{c.path}")
def test_each_hub_change_is_a_real_difference(change: Change[Any]) -> None:
    """A Change that no config makes differ from upstream is stale and must go."""
    contexts = [load(RawConfig(values)) for values in CONFIGS.values()]
    for version in RELEASES:
        assert changes_something(change, _upstream_hub(version)[change.kind], contexts), change.why


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_images_follow_the_release(version: str) -> None:
    rendered = _rendered({"ocmVersion": version})
    container = rendered["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"quay.io/open-cluster-management/registration-operator:{version}"
    assert "--skip-remove-crds" in container["args"]
    spec = rendered["ClusterManager"]["spec"]
    assert spec["workImagePullSpec"] == f"quay.io/open-cluster-management/work:{version}"


def _provenance(version: str) -> dict[str, str]:
    text = (RELEASES_DIR / version / "PROVENANCE.md").read_text()
    return dict(re.findall(r"^\| `([^`]+)` \| ([0-9a-f]{64}) \|$", text, re.MULTILINE))


def _shipped(version: str) -> list[str]:
    folder = RELEASES_DIR / version
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != "PROVENANCE.md")


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_vendored_files_are_recorded_in_provenance(version: str) -> None:
    recorded = _provenance(version)
    assert sorted(recorded) == _shipped(version)
    for relative, digest in recorded.items():
        assert hashlib.sha256((RELEASES_DIR / version / relative).read_bytes()).hexdigest() == digest, relative


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_vendored_files_equal_upstream(version: str) -> None:
    upstream = UPSTREAM_DIRS[version]()
    assert upstream.is_dir(), upstream
    for relative in _shipped(version):
        component, rest = relative.split("/", 1)
        assert (RELEASES_DIR / version / relative).read_bytes() == (upstream / component / "config" / rest).read_bytes()


def test_a_release_is_one_folder_and_one_bundle_entry() -> None:
    assert sorted(p.name for p in RELEASES_DIR.iterdir() if p.is_dir()) == sorted(RELEASES)
    for version in RELEASES:
        for component, files in OPERATOR_FILES.items():
            for relative in (*files, SAMPLE_FILES[component]):
                assert (RELEASES_DIR / version / component / relative).is_file(), f"{version}: {component}/{relative}"
