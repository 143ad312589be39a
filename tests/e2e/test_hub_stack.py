"""The hub stack as users run it: `pulumi up` of the real ocm-hub program by the built CLI and the
pulumi-kubernetes plugin built from its Go module, against the local hub, where OCM's real operator
runs (the local clusters' kubelet for OCM, sandbox/kubelet.py, runs each OCM Deployment as a process).

Each scenario runs the program as a user would (`pulumi preview`, `up`, `refresh`, `destroy`, one
subprocess each) on a copy of the project, with its own file state backend and passphrase, the hub
kubeconfig in KUBECONFIG, and a copy of Pulumi.dev.yaml as the stack file, rewritten as `make up` runs
it on the local clusters (sandbox/local_stack.py: the addon charts from the local chart repository,
pinned to the binaries that run, as OCM is). The dev stack is the whole
mission: hub, the three addon releases, managed-1 registered from its vela Secret, `make status`.
Every stack runs OCM at the release of the binaries the kubelet runs (v1.2.1), and previews the
upgrade to v1.3.1.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import sandbox.clusters
from providers.hub_status import READY_CONDITIONS, hub_deployments, rollout_reason
from providers.kube import Kube
from sandbox import kubelet, local_stack, tools

from .conftest import Cluster
from .kubeutil import condition, get, kubelet_running, wait_gone
from .pulumi_cli import REPO_ROOT, VENV_PYTHON, Project, Result, as_new_stack, base_env, copy_project, missing_binaries

PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "components", "config", "providers", "fleetstatus")
CM_API, CM_KIND, CM_NAME = "operator.open-cluster-management.io/v1", "ClusterManager", "cluster-manager"
CRD_NAME = "clustermanagers.operator.open-cluster-management.io"
CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
CM_TYPE = f"kubernetes:{CM_API}:{CM_KIND}"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment"
HUB_NAMESPACE = "open-cluster-management-hub"
ADDON_NAMESPACE = "open-cluster-management-addon"
MANAGED = "managed-1"
MC_PATH = f"/apis/cluster.open-cluster-management.io/v1/managedclusters/{MANAGED}"
UP_TIMEOUT = 600.0
GONE_TIMEOUT = 180.0
FAILURE_BOUND = 30  # readinessTimeout of the failure scenario, seconds
REPLACING_OPS = {"replace", "create-replacement", "delete-replaced"}
HELM_RELEASE = "helm.sh/v3"
# Only the hub: the scenarios that are about the hub alone stay quick.
HUB_ONLY = {"addons": {}, "registration": {"discover": False}}
UPGRADE_TO = "v1.3.1"
REGISTRATION_TYPE = "pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration"


@dataclass(frozen=True)
class Declared:
    api_version: str
    kind: str
    name: str
    namespace: str | None

    def get(self, kube: Kube) -> dict[str, Any] | None:
        return kube.get(self.api_version, self.kind, self.name, self.namespace)

    def path(self, kube: Kube) -> str:
        return kube.path(self.api_version, self.kind, self.name, self.namespace)


@dataclass
class HubStack:
    """A stack of the real program on the hub, with the objects its config declares."""

    project: Project
    name: str
    declared: list[Declared]
    kube: Kube

    @property
    def stack_file(self) -> Path:
        return self.project.directory / f"Pulumi.{self.name}.yaml"

    def missing(self) -> list[Declared]:
        return [obj for obj in self.declared if obj.get(self.kube) is None]


@pytest.fixture(scope="module")
def kubernetes_plugin() -> str:
    """The provider plugin the program's pulumi_kubernetes asks for: the pinned build, installed."""
    if missing := missing_binaries() + tools.missing([tools.KUBERNETES_PLUGIN]):
        pytest.fail(f"missing Pulumi binaries {missing}: run `make e2e-tools`", pytrace=False)
    tools.install_kubernetes_plugin()
    cli = tools.pulumi_root() / "bin" / "pulumi"
    listed = subprocess.run(
        [str(cli), "plugin", "ls", "--json"], env=base_env(), capture_output=True, text=True, timeout=60, check=True
    )
    wanted = tools.kubernetes_sdk_version()
    plugins = json.loads(listed.stdout) or []
    assert any(
        p.get("kind") == "resource" and p.get("name") == "kubernetes" and p.get("version") == wanted for p in plugins
    ), plugins
    return wanted


@pytest.fixture(scope="module")
def local_hub(hub: Cluster) -> Cluster:
    """These tests create and delete OCM's cluster-wide objects: never on a hub that is not ours."""
    if not hub.local:
        pytest.skip("the hub stack scenarios run only against the local hub (sandbox/clusters.py)")
    if sandbox.clusters.kubelet_pid() is None or sandbox.clusters.chart_repository() is None:
        pytest.fail("the local clusters' kubelet is not running: `make cluster-up` starts it", pytrace=False)
    return hub


@pytest.fixture
def stack_factory(kubernetes_plugin: str, local_hub: Cluster) -> Iterator[StackFactory]:
    factory = StackFactory(local_hub)
    try:
        yield factory
    finally:
        factory.close()


class StackFactory:
    """Makes hub stacks from Pulumi.dev.yaml plus overrides, and always destroys and removes them."""

    def __init__(self, hub: Cluster) -> None:
        self.hub = hub
        repository = sandbox.clusters.chart_repository()
        assert repository is not None, "the local clusters serve their charts"
        self.runtime = local_stack.Runtime.serving(repository)
        self.root = Path(tempfile.mkdtemp(prefix="ocm-hub-e2e-stack-"))
        self.stacks: list[HubStack] = []

    def make(self, name: str, **overrides: Any) -> HubStack:
        config = yaml.safe_load(as_new_stack((REPO_ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8")))
        config["config"].update({f"ocm-hub:{key}": value for key, value in overrides.items()})
        # As `make up` runs it on the local clusters: OCM and the addons at the release of what runs.
        config["config"] = local_stack.for_local_clusters(config["config"], self.runtime)
        directory = copy_project(self.root / name / "program", PROGRAM_FILES)
        (self.root / name / "state").mkdir()
        project = Project(directory, self.root / name / "state", {"KUBECONFIG": str(self.hub.kubeconfig)})
        stack = HubStack(project, name, [], self.hub.client)
        # Written before `stack init`, which adds the passphrase salt to it.
        stack.stack_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        project.run("stack", "init", name, timeout=60)
        stack.declared = _declared(stack.stack_file)
        _clear(self.hub.client, stack.declared)  # a failed earlier run must not decide this one
        self.stacks.append(stack)
        return stack

    def close(self) -> None:
        try:
            for stack in self.stacks:
                stack.project.run("destroy", "--yes", "--skip-preview", timeout=UP_TIMEOUT, check=False)
                stack.project.run("stack", "rm", "--yes", "--force", stack.name, timeout=60, check=False)
                _clear(self.hub.client, stack.declared)  # what destroy retained, or left after a failure
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _declared(stack_file: Path) -> list[Declared]:
    """Every object the stack declares, from the offline render of the same program and config."""
    rendered = subprocess.run(
        [str(VENV_PYTHON), "-m", "render", "--config", str(stack_file)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    return [
        Declared(doc["apiVersion"], doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace"))
        for doc in yaml.safe_load_all(rendered)
        if doc and doc["apiVersion"] != HELM_RELEASE  # a release is its Secrets: checked on their own
    ]


def _clear(kube: Kube, declared: list[Declared]) -> None:
    """Delete what is left of the declared objects, CR first (its CRD's deletion waits for it). A CR
    whose operator is gone keeps the operator's finalizer: the cleanup lets go of it."""
    ordered = sorted(declared, key=lambda obj: obj.kind != CM_KIND)
    for obj in ordered:
        kube.delete(obj.api_version, obj.kind, obj.name, obj.namespace)
    cr = kube.get(CM_API, CM_KIND, CM_NAME)
    if cr is not None and not kubelet.running(kube, "open-cluster-management", "cluster-manager"):
        # What the operator would have done: its finalizer, and the hub components it ran. Left running,
        # they make the next stack's hub look ready before its own components are.
        kube.merge_patch(CM_API, CM_KIND, CM_NAME, {"metadata": {"finalizers": None}})
        kube.delete("v1", "Namespace", HUB_NAMESPACE)
        wait_gone(kube, f"/api/v1/namespaces/{HUB_NAMESPACE}", timeout=GONE_TIMEOUT)
    for obj in ordered:
        wait_gone(kube, obj.path(kube), timeout=GONE_TIMEOUT)


@pytest.fixture(scope="class")
def dev_stack(kubernetes_plugin: str, local_hub: Cluster, managed: Cluster) -> Iterator[tuple[HubStack, Result]]:
    """The dev stack as written (hub, addons, registration), previewed and brought up once per class."""
    factory = StackFactory(local_hub)
    try:
        stack = factory.make("dev")
        preview = stack.project.run("preview", "--json", timeout=UP_TIMEOUT).json()
        assert stack.missing() == stack.declared, "preview creates nothing"
        assert preview["changeSummary"].get("create", 0) >= len(stack.declared)
        up = stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
        yield stack, up
    finally:
        factory.close()
        local_hub.client.delete("v1", "Namespace", MANAGED)  # the hub controller made it on acceptance


def _live_ready(cr: dict[str, Any] | None) -> dict[str, str]:
    assert cr is not None
    generation = cr["metadata"]["generation"]
    return {
        c["type"]: c["status"]
        for c in cr["status"]["conditions"]
        if c["type"] in READY_CONDITIONS and c.get("observedGeneration", generation) == generation
    }


def _not_rolled_out(kube: Kube, cr: dict[str, Any]) -> list[str]:
    """Why each hub Deployment the operator lists has not rolled out (`kubectl rollout status`'s rule)."""
    listed = hub_deployments(cr["status"])
    assert listed, f"the operator lists the hub Deployments in status.relatedResources: {cr['status']}"
    reasons = (rollout_reason(ns, name, kube.get("apps/v1", "Deployment", name, ns)) for ns, name in listed)
    return [reason for reason in reasons if reason]


class TestDevStack:
    """One dev stack, in order: up, outputs, addons, registration, status, idempotence, an in-place
    update, state, destroy with teardown."""

    def test_up_creates_every_declared_object_and_the_real_operator_makes_the_hub_ready(
        self, dev_stack: tuple[HubStack, Result]
    ) -> None:
        stack, _ = dev_stack
        assert stack.declared, "the render lists the objects"
        assert not stack.missing(), "every declared object exists on the API server"
        cr = stack.kube.get(CM_API, CM_KIND, CM_NAME)
        assert _live_ready(cr) == dict(READY_CONDITIONS), "pulumi up returned only once the operator reported ready"
        assert cr is not None
        assert cr["status"]["observedGeneration"] == cr["metadata"]["generation"]
        reasons = {c["reason"] for c in cr["status"]["conditions"]}
        assert "ClusterManagerApplied" in reasons, f"conditions written by OCM's operator: {reasons}"
        assert _not_rolled_out(stack.kube, cr) == [], "pulumi up returned only once every hub Deployment rolled out"
        for name in ("cluster-manager-registration-controller", "cluster-manager-registration-webhook"):
            kubelet_running(stack.kube, HUB_NAMESPACE, name, timeout=0)

    def test_outputs_match_the_api_server(self, dev_stack: tuple[HubStack, Result]) -> None:
        stack, _ = dev_stack
        outputs = stack.project.run("stack", "output", "--json").json()
        cr = stack.kube.get(CM_API, CM_KIND, CM_NAME)
        deployment = stack.kube.get("apps/v1", "Deployment", "cluster-manager", "open-cluster-management")
        assert cr is not None
        assert deployment is not None
        live_conditions = sorted(
            (
                {"type": c["type"], "status": c["status"], "reason": c["reason"], "message": c["message"]}
                for c in cr["status"]["conditions"]
            ),
            key=lambda c: c["type"],
        )
        assert outputs["clusterManagerConditions"] == live_conditions
        assert outputs["hubReady"] is True
        assert outputs["notReadyReasons"] == []
        operator_image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert outputs["images"] == {
            "registrationOperator": operator_image,
            "registration": cr["spec"]["registrationImagePullSpec"],
            "work": cr["spec"]["workImagePullSpec"],
            "placement": cr["spec"]["placementImagePullSpec"],
            "addOnManager": cr["spec"]["addOnManagerImagePullSpec"],
        }
        assert operator_image.endswith(f":{outputs['ocmVersion']}")

    def test_the_three_addon_releases_are_installed_from_the_chart_repository(
        self, dev_stack: tuple[HubStack, Result]
    ) -> None:
        stack, _ = dev_stack
        secrets = stack.kube.list("v1", "Secret", ADDON_NAMESPACE, "owner=helm")
        releases = {s["metadata"]["labels"]["name"]: s["metadata"]["labels"]["status"] for s in secrets}
        assert set(releases) == {"cluster-proxy", "managed-serviceaccount", "cluster-gateway-addon-manager"}, releases
        assert set(releases.values()) == {"deployed"}

    def test_managed_1_is_registered_from_its_vela_secret_by_the_real_agents(
        self, dev_stack: tuple[HubStack, Result]
    ) -> None:
        stack, _ = dev_stack
        status = stack.project.run("stack", "output", "--json").json()["clusters"][MANAGED]
        assert status["joined"]["status"] == "True"
        assert status["available"]["status"] == "True"
        live = get(stack.kube, MC_PATH)
        assert condition(live, "ManagedClusterJoined") == "True"
        assert condition(live, "ManagedClusterConditionAvailable") == "True"

    def test_make_status_shows_the_hub_ready_and_managed_1_joined_and_available(
        self, dev_stack: tuple[HubStack, Result]
    ) -> None:
        stack, _ = dev_stack
        env = {**stack.project.env, "PYTHONPATH": str(stack.project.directory)}
        shown = subprocess.run(
            [str(VENV_PYTHON), "-m", "fleetstatus", "--stack", stack.name, "--json"],
            cwd=stack.project.directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        report = json.loads(shown.stdout)
        assert (report["source"], report["hubReady"]) == ("live", True), report
        cluster = report["clusters"][MANAGED]
        assert (cluster["joined"]["status"], cluster["available"]["status"]) == ("True", "True"), cluster

    def test_second_up_and_refresh_change_nothing(self, dev_stack: tuple[HubStack, Result]) -> None:
        stack, _ = dev_stack
        stack.project.run("up", "--yes", "--expect-no-changes", timeout=UP_TIMEOUT)
        stack.project.run("refresh", "--yes", "--expect-no-changes", timeout=UP_TIMEOUT)
        assert set(stack.project.run("preview", "--json", timeout=UP_TIMEOUT).json()["changeSummary"]) == {"same"}

    def test_replicas_and_a_feature_gate_update_in_place(self, dev_stack: tuple[HubStack, Result]) -> None:
        stack, _ = dev_stack
        stack.project.run("config", "set", "--path", "ocm-hub:operator.replicas", "2", timeout=60)
        # A gate off by default (the ClusterManager lists every gate, an unset one with its default mode).
        gate = "ocm-hub:clusterManager.registration.featureGates.ClusterImporter"
        stack.project.run("config", "set", "--path", gate, "Enable", timeout=60)
        preview = stack.project.run("preview", "--diff", "--json", timeout=UP_TIMEOUT).json()
        ops: dict[str, set[str]] = {}
        for step in preview["steps"]:
            kind = (step.get("newState") or step.get("oldState") or {}).get("type", "")
            ops.setdefault(kind, set()).add(step["op"])
        for kind in (CRD_TYPE, CM_TYPE, NAMESPACE_TYPE, DEPLOYMENT_TYPE):
            assert not ops.get(kind, set()) & REPLACING_OPS, f"{kind} must not be replaced: {ops.get(kind)}"
        assert "update" in ops[CM_TYPE], f"the ClusterManager is updated in place: {ops}"
        assert "update" in ops[DEPLOYMENT_TYPE], f"the operator Deployment is updated in place: {ops}"
        registrations = {op for kind, found in ops.items() if "ManagedClusterRegistration" in kind for op in found}
        assert registrations <= {"same"}, f"the fleet is left alone: {registrations}"

        stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
        cr = stack.kube.get(CM_API, CM_KIND, CM_NAME)
        assert _live_ready(cr) == dict(READY_CONDITIONS), "ready again, at the new generation"
        assert cr is not None
        assert _not_rolled_out(stack.kube, cr) == [], "the gate's new registration pods rolled out"
        assert {"feature": "ClusterImporter", "mode": "Enable"} in cr["spec"]["registrationConfiguration"][
            "featureGates"
        ]
        deployment = stack.kube.get("apps/v1", "Deployment", "cluster-manager", "open-cluster-management")
        assert deployment is not None
        assert deployment["spec"]["replicas"] == 2

    def test_an_ocm_upgrade_previews_as_in_place_updates_only(self, dev_stack: tuple[HubStack, Result]) -> None:
        """v1.2.1 (the release running here) to v1.3.1: nothing replaced, the fleet's klusterlets follow."""
        stack, _ = dev_stack
        original = stack.stack_file.read_text(encoding="utf-8")
        try:
            stack.project.run("config", "set", "ocm-hub:ocmVersion", UPGRADE_TO, timeout=60)
            preview = stack.project.run("preview", "--diff", "--json", timeout=UP_TIMEOUT).json()
        finally:
            stack.stack_file.write_text(original, encoding="utf-8")
        ops: dict[str, set[str]] = {}
        for step in preview["steps"]:
            kind = (step.get("newState") or step.get("oldState") or {}).get("type", "")
            ops.setdefault(kind, set()).add(step["op"])
        replaced = {kind: found & REPLACING_OPS for kind, found in ops.items() if found & REPLACING_OPS}
        assert not replaced, f"an upgrade replaces nothing: {replaced}"
        assert not any("delete" in found for found in ops.values()), ops
        for kind in (CRD_TYPE, CM_TYPE, DEPLOYMENT_TYPE, REGISTRATION_TYPE):
            assert "update" in ops.get(kind, set()), f"{kind} is updated in place: {ops}"

    def test_state_holds_no_secret_material(self, dev_stack: tuple[HubStack, Result], managed: Cluster) -> None:
        stack, _ = dev_stack
        exported = stack.project.run("stack", "export", timeout=60).stdout
        for kubeconfig in (stack.project.extra_env["KUBECONFIG"], str(managed.kubeconfig)):
            for needle in _client_key_fragments(kubeconfig):
                assert needle not in exported, f"the client key of {kubeconfig} must not reach the state"

    def test_destroy_with_teardown_removes_everything_and_unjoins(
        self, dev_stack: tuple[HubStack, Result], managed: Cluster
    ) -> None:
        stack, _ = dev_stack
        stack.project.run("destroy", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
        for obj in stack.declared:
            wait_gone(stack.kube, obj.path(stack.kube), timeout=GONE_TIMEOUT)
        assert get(stack.kube, MC_PATH) is None
        assert get(managed.client, "/apis/operator.open-cluster-management.io/v1/klusterlets/klusterlet") is None
        assert stack.kube.list("v1", "Secret", ADDON_NAMESPACE, "owner=helm") == []


def test_destroy_without_teardown_keeps_the_cluster_manager_and_its_crd(stack_factory: StackFactory) -> None:
    stack = stack_factory.make("kept", allowTeardown=False, **HUB_ONLY)
    stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
    stack.project.run("destroy", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
    kept = {(obj.kind, obj.name) for obj in stack.declared if obj.get(stack.kube) is not None}
    assert kept == {(CM_KIND, CM_NAME), ("CustomResourceDefinition", CRD_NAME)}
    crd = get(stack.kube, stack.kube.path("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME))
    assert condition(crd, "Established") == "True", "the retained CRD still serves the CR"


def test_up_fails_within_the_readiness_bound_naming_the_unmet_condition(stack_factory: StackFactory) -> None:
    """Hub components that no node can take: the operator reports them degraded, and up says so."""
    nowhere = {"registration": {"featureGates": {"DefaultClusterSet": "Enable"}}}
    nowhere["nodePlacement"] = {"nodeSelector": {"ocm-hub.io/e2e": "nowhere"}}
    stack = stack_factory.make("unready", readinessTimeout=f"{FAILURE_BOUND}s", clusterManager=nowhere, **HUB_ONLY)
    up = stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT, check=False)
    output = up.stdout + up.stderr
    assert up.returncode != 0, "with the hub's components unschedulable, pulumi up fails"
    assert up.seconds < FAILURE_BOUND + 150, f"bounded by readinessTimeout ({up.seconds:.0f}s)"
    unmet = [kind for kind in READY_CONDITIONS if f"condition {kind}" in output]
    assert unmet, f"the error names the unmet condition with its status and reason:\n{output[-3000:]}"
    assert f"deployment {HUB_NAMESPACE}/" in output, f"and the Deployments not rolled out:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    assert "KeyboardInterrupt" not in output, output[-3000:]


def _client_key_fragments(kubeconfig: str) -> list[str]:
    """The client key as the kubeconfig holds it (base64) and as PEM body lines, to search for."""
    config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))
    user = next(u["user"] for u in config["users"])
    encoded = str(user["client-key-data"])
    pem = base64.b64decode(encoded).decode()
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return [encoded, *body, "".join(body)]
