"""Composition under the real engine: platform programs that compose OcmHub, run by the built CLI
against the local hub, where OCM's real operator and agents run.

- examples/platform (Python): OcmHub constructed in the program, on the platform's own Kubernetes
  provider, registering managed-1 with `hub_kubeconfig` as a secret input.
- examples/platform-yaml (YAML, run by the pulumi-yaml language host built here): OcmHub through the
  component package, constructed by the package's plugin as for any non-Python program.

Both run with KUBECONFIG pointing nowhere, so anything that fell back to a default provider or the
ambient kube context would fail. The package's plugin is an executable launcher (`pulumi-resource-ocm-hub`
running package/__main__.py with the project's .venv): the Python language host buildable here (v3.68)
predates plugin runtime options and would install a virtualenv into package/ itself. The engine runs
the component's dynamic providers (readiness, registration) with the repository on PYTHONPATH, as the
README says for composing programs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.runtime import rpc

import sandbox.clusters
from providers.hub_status import READY_CONDITIONS
from sandbox import local_stack, tools

from .conftest import Cluster
from .kubeutil import condition, get, wait_gone
from .pulumi_cli import REPO_ROOT, VENV_PYTHON, Project
from .test_hub_stack import (
    CM_API,
    CM_KIND,
    CM_NAME,
    CM_TYPE,
    CRD_NAME,
    CRD_TYPE,
    DEPLOYMENT_TYPE,
    GONE_TIMEOUT,
    MANAGED,
    MC_PATH,
    UP_TIMEOUT,
    Declared,
    _clear,
    _client_key_fragments,
    _live_ready,
)
from .test_hub_stack import kubernetes_plugin as kubernetes_plugin_fixture  # noqa: F401  (fixtures, by these names)
from .test_hub_stack import local_hub as local_hub_fixture  # noqa: F401

# The pinned pulumi-kubernetes plugin installed; the local hub, whose cluster-wide OCM objects these tests own.
pytestmark = pytest.mark.usefixtures("kubernetes_plugin_fixture", "local_hub_fixture")

STACK = "e2e"
NOWHERE = "/nonexistent/kubeconfig"  # no ambient kube context: every resource must use the platform's provider
KLUSTERLET_PATH = "/apis/operator.open-cluster-management.io/v1/klusterlets/klusterlet"
REGISTRATION_TYPE = "pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration"
READINESS_TYPE = "pulumi-python:dynamic/ocm-hub:HubReadiness"
PROVIDER_TYPE = "pulumi:providers:kubernetes"
BAD_REPLICAS = "ocm-hub:operator.replicas: input should be greater than or equal to 1 (got 0)"


def package_launcher(directory: Path) -> Path:
    """The component package as an executable plugin, named as the engine looks for it in a plugin path."""
    directory.mkdir(parents=True, exist_ok=True)
    launcher = directory / "pulumi-resource-ocm-hub"
    launcher.write_text(
        f'#!/bin/sh\nexec "{VENV_PYTHON}" "{REPO_ROOT / "package" / "__main__.py"}" "$@"\n', encoding="utf-8"
    )
    launcher.chmod(0o755)
    return launcher


def _resources(project: Project) -> list[dict[str, Any]]:
    exported = project.run("stack", "export", timeout=60).json()
    return list(exported["deployment"].get("resources") or [])


def _kube_objects(resources: list[dict[str, Any]]) -> list[Declared]:
    """The Kubernetes objects the stack's state holds, to clear whatever a failed run leaves."""
    objects = []
    for resource in resources:
        outputs = resource.get("outputs") or {}
        if resource["type"].startswith("kubernetes:") and {"apiVersion", "kind", "metadata"} <= set(outputs):
            metadata = outputs["metadata"]
            objects.append(
                Declared(outputs["apiVersion"], outputs["kind"], metadata["name"], metadata.get("namespace"))
            )
    return objects


def _only_the_platform_provider(resources: list[dict[str, Any]]) -> None:
    """One Kubernetes provider, the program's own; every Kubernetes resource on it."""
    (provider,) = [r for r in resources if r["type"] == PROVIDER_TYPE]
    assert provider["urn"].endswith("::hub-cluster"), provider["urn"]
    kube = [r for r in resources if r["type"].startswith("kubernetes:")]
    assert {CM_TYPE, DEPLOYMENT_TYPE, CRD_TYPE} <= {r["type"] for r in kube}, [r["urn"] for r in kube]
    assert all(r["provider"].startswith(provider["urn"] + "::") for r in kube), [
        r["urn"] for r in kube if not r["provider"].startswith(provider["urn"])
    ]


def _secret_unchanged_destroyed(
    project: Project, resources: list[dict[str, Any]], reaching_hub: str, hub: Cluster
) -> list[Declared]:
    """The kubeconfig a resource of type reaching_hub uses is a secret input and no key reaches the state;
    a second up and a refresh change nothing; destroy. Returns the Kubernetes objects the stack held."""
    (resource,) = [r for r in resources if r["type"] == reaching_hub]
    assert set(resource["inputs"]["hubKubeconfig"]) == {rpc._special_sig_key, "ciphertext"}
    exported = project.run("stack", "export", timeout=60).stdout
    for needle in _client_key_fragments(str(hub.kubeconfig)):
        assert needle not in exported, "the hub's client key must not reach the state"
    project.run("up", "--yes", "--expect-no-changes", timeout=UP_TIMEOUT)
    project.run("refresh", "--yes", "--expect-no-changes", timeout=UP_TIMEOUT)
    project.run("destroy", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
    return _kube_objects(resources)


def _project(root: Path, example: str, hub: Cluster) -> Project:
    """A copy of the example at the same depth under root (its Pulumi.yaml names ../../.venv)."""
    directory = root / "examples" / example
    shutil.copytree(REPO_ROOT / "examples" / example, directory, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    (root / "state").mkdir()
    project = Project(directory, root / "state", {"KUBECONFIG": NOWHERE, "PYTHONPATH": str(REPO_ROOT)})
    project.run("stack", "init", STACK, timeout=60)
    key = "platform:hubKubeconfig" if example == "platform" else "hubKubeconfig"
    project.run("config", "set", "--secret", key, hub.kubeconfig.read_text(encoding="utf-8"), timeout=60)
    return project


def _finish(project: Project, hub: Cluster) -> None:
    """Destroy whatever the test left, then clear what destroy retained; the hub as it was found."""
    try:
        leftovers = _kube_objects(_resources(project))
        project.run("destroy", "--yes", "--skip-preview", timeout=UP_TIMEOUT, check=False)
        project.run("stack", "rm", "--yes", "--force", STACK, timeout=60, check=False)
        cluster_manager = [Declared(CM_API, CM_KIND, CM_NAME, None)]
        crd = [Declared("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME, None)]
        _clear(hub.client, [*leftovers, *cluster_manager, *crd])
    finally:
        hub.client.delete("v1", "Namespace", MANAGED)  # the hub controller made it on acceptance


@pytest.fixture
def python_platform(hub: Cluster, managed: Cluster, tmp_path: Path) -> Iterator[Project]:
    project = _project(tmp_path, "platform", hub)
    try:
        yield project
    finally:
        _finish(project, hub)


def test_python_platform_composes_a_ready_hub_on_its_own_provider_and_registers_managed_1(
    python_platform: Project, hub: Cluster, managed: Cluster
) -> None:
    project, kube = python_platform, hub.client
    chart_repository = sandbox.clusters.chart_repository()
    assert chart_repository is not None
    # The example's two addons, as the local clusters run them: their charts and images pinned to what runs.
    declared = {"ocm-hub:addons": {"clusterProxy": {"enabled": True}, "managedServiceAccount": {"enabled": True}}}
    addons = local_stack.for_local_clusters(declared, local_stack.Runtime.serving(chart_repository))["ocm-hub:addons"]
    for key, value in (
        ("clusters", json.dumps([MANAGED])),
        ("addons", json.dumps(addons)),
        ("waitForAddons", "false"),  # no addon agents run on managed-1 here (see the README, Is it working?)
        ("allowTeardown", "true"),
    ):
        project.run("config", "set", f"platform:{key}", value, timeout=60)

    project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)

    outputs = project.run("stack", "output", "--json").json()
    assert outputs["hubReady"] is True
    assert outputs["fleet"] == {"clusters": 1, "joined": 1, "available": 1, "addons": {"declared": 2, "available": 0}}
    assert outputs["clusters"][MANAGED]["joined"]["status"] == "True"
    assert {addon["enabled"] for addon in outputs["addons"].values()} >= {True}
    assert _live_ready(kube.get(CM_API, CM_KIND, CM_NAME)) == dict(READY_CONDITIONS)
    facts = get(kube, "/api/v1/namespaces/platform/configmaps/ocm-hub-facts")
    assert facts is not None
    assert facts["data"]["ready"] == "True"
    assert facts["data"]["ocmVersion"] == "v1.3.1"
    live = get(kube, MC_PATH)
    assert condition(live, "ManagedClusterJoined") == "True"
    assert condition(live, "ManagedClusterConditionAvailable") == "True"
    assert live is not None
    assert live["metadata"]["labels"]["platform"] == "edge"

    resources = _resources(project)
    _only_the_platform_provider(resources)
    objects = _secret_unchanged_destroyed(project, resources, REGISTRATION_TYPE, hub)
    for obj in objects:  # allowTeardown: nothing retained
        wait_gone(kube, obj.path(kube), timeout=GONE_TIMEOUT)
    assert get(kube, MC_PATH) is None
    assert get(managed.client, KLUSTERLET_PATH) is None, "destroy unjoined managed-1"


@pytest.fixture
def yaml_platform(hub: Cluster, tmp_path: Path) -> Iterator[Project]:
    if missing := tools.missing([tools.YAML_HOST]):
        pytest.fail(f"missing {missing}: run `make e2e-tools`", pytrace=False)
    tools.install_yaml_host()
    project = _project(tmp_path, "platform-yaml", hub)
    _use_plugin(project, package_launcher(tmp_path / "plugin").parent)
    try:
        yield project
    finally:
        _finish(project, hub)


def _use_plugin(project: Project, directory: Path, **hub_properties: Any) -> None:
    """Point the program's plugins.providers entry at directory; override OcmHub's properties."""
    path = project.directory / "Pulumi.yaml"
    program = yaml.safe_load(path.read_text(encoding="utf-8"))
    (entry,) = program["plugins"]["providers"]
    entry["path"] = str(directory)
    program["resources"]["platform-ocm"]["properties"].update(hub_properties)
    path.write_text(yaml.safe_dump(program, sort_keys=False), encoding="utf-8")


def test_yaml_platform_composes_a_ready_hub_through_the_package(yaml_platform: Project, hub: Cluster) -> None:
    project, kube = yaml_platform, hub.client
    plugin_dir = Path(
        yaml.safe_load((project.directory / "Pulumi.yaml").read_text())["plugins"]["providers"][0]["path"]
    )

    _use_plugin(project, plugin_dir, operator={"replicas": 0})
    bad = project.run("preview", timeout=UP_TIMEOUT, check=False)
    assert bad.returncode != 0
    assert BAD_REPLICAS in bad.stdout + bad.stderr, (bad.stdout + bad.stderr)[-3000:]
    _use_plugin(project, plugin_dir, operator={"replicas": 1})

    project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)

    outputs = project.run("stack", "output", "--json").json()
    assert outputs["hubReady"] is True
    assert outputs["notReadyReasons"] == []
    assert outputs["images"]["registration"] == "quay.io/open-cluster-management/registration:v1.3.1"
    assert _live_ready(kube.get(CM_API, CM_KIND, CM_NAME)) == dict(READY_CONDITIONS)
    facts = get(kube, "/api/v1/namespaces/default/configmaps/ocm-hub-facts-yaml")
    assert facts is not None
    assert facts["data"] == {"hubReady": "true", "ocmVersion": "v1.3.1"}
    resources = _resources(project)
    _only_the_platform_provider(resources)
    assert [r["type"] for r in resources].count("ocm-hub:index:OcmHub") == 1, "constructed by the package"
    objects = _secret_unchanged_destroyed(project, resources, READINESS_TYPE, hub)
    kept = {(obj.kind, obj.name) for obj in objects if obj.get(kube) is not None}
    assert kept == {(CM_KIND, CM_NAME), ("CustomResourceDefinition", CRD_NAME)}, "allowTeardown: false keeps the hub"
