"""Stage 2: `pulumi up` of the real ocm-hub program, by the built CLI, against the local hub cluster.

Each scenario runs the program as a user would (`pulumi preview`, `up`, `refresh`, `destroy`, one
subprocess each) on a copy of the project, with its own file state backend and passphrase, the hub
kubeconfig in KUBECONFIG, and a copy of Pulumi.dev.yaml as the stack file.

Nothing here runs OCM, so nothing would report the ClusterManager ready: `OperatorStandIn` does that
one thing in its place. The real operator runs as a process in test_ocm_live.py (stage 3); moving these
scenarios onto it waits until they can run at all (the plugin, below), so the move can be verified.

Needs the pulumi-kubernetes provider plugin at the version the pinned `pulumi_kubernetes` package
asks for, installed in the built CLI's PULUMI_HOME; without it every test here is skipped, saying so.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import build_tools
import pytest
import yaml

from providers.kube import Kube

from .conftest import Cluster
from .kubeutil import condition, get, wait_gone
from .pulumi_cli import REPO_ROOT, VENV_PYTHON, Project, Result, base_env, copy_project, missing_binaries

PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "components", "config", "providers")
CM_API, CM_KIND, CM_NAME = "operator.open-cluster-management.io/v1", "ClusterManager", "cluster-manager"
CRD_NAME = "clustermanagers.operator.open-cluster-management.io"
CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
CM_TYPE = f"kubernetes:{CM_API}:{CM_KIND}"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
READY_STATUS = {
    "Applied": "True",
    "Progressing": "False",
    "HubRegistrationDegraded": "False",
    "HubPlacementDegraded": "False",
    "ValidFeatureGates": "True",
}
STAND_IN_DELAY = 8.0  # seconds the stand-in waits after the CR appears: the engine must wait longer
UP_TIMEOUT = 420.0
GONE_TIMEOUT = 120.0
FAILURE_BOUND = 30  # readinessTimeout of the failure scenario, seconds
REPLACING_OPS = {"replace", "create-replacement", "delete-replaced"}


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


@dataclass
class OperatorStandIn:
    """Stand-in for OCM's cluster-manager operator (see the module docstring).

    Does the one thing `pulumi up` waits for: once the ClusterManager exists, it reports the hub
    healthy through the status subresource, at the CR's current generation, with the conditions the
    operator sets when every hub component is available. It writes only `delay` seconds after the CR
    appears, so a test can tell the engine really waited; it writes again after each spec change.
    """

    kube: Kube
    delay: float = STAND_IN_DELAY
    writes: list[tuple[int, float]] = field(default_factory=list)  # (generation, time.time())
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> OperatorStandIn:
        self._thread = threading.Thread(target=self._run, name="operator-stand-in", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        first_seen: float | None = None
        while not self._stop.wait(0.5):
            try:
                cr = self.kube.get(CM_API, CM_KIND, CM_NAME)
                if cr is None:
                    first_seen = None
                    continue
                first_seen = first_seen or time.monotonic()
                generation = int(cr["metadata"]["generation"])
                reported = (cr.get("status") or {}).get("observedGeneration")
                if reported != generation and time.monotonic() - first_seen >= self.delay:
                    self.kube.merge_patch(
                        CM_API, CM_KIND, CM_NAME, {"status": _ready_status(generation)}, None, "status"
                    )
                    self.writes.append((generation, time.time()))
            except Exception as err:  # keep standing in; the test reports what went wrong
                self.errors.append(f"{type(err).__name__}: {err}")


def _ready_status(generation: int) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "observedGeneration": generation,
        "conditions": [
            {
                "type": kind,
                "status": status,
                "reason": "E2EOperatorStandIn",
                "message": "set by the stage-2 e2e operator stand-in",
                "observedGeneration": generation,
                "lastTransitionTime": now,
            }
            for kind, status in READY_STATUS.items()
        ],
    }


@pytest.fixture(scope="module")
def kubernetes_plugin() -> str:
    """The provider plugin the program's pulumi_kubernetes asks for, or a skip that says what is missing."""
    if missing := missing_binaries():
        pytest.fail(f"missing Pulumi binaries {missing}: run `make e2e-tools`", pytrace=False)
    build_tools.install_pulumi_root()
    wanted = version("pulumi-kubernetes")
    cli = build_tools.pulumi_root() / "bin" / "pulumi"
    listed = subprocess.run(
        [str(cli), "plugin", "ls", "--json"], env=base_env(), capture_output=True, text=True, timeout=60, check=True
    )
    plugins = json.loads(listed.stdout) or []
    if not any(
        p.get("kind") == "resource" and p.get("name") == "kubernetes" and p.get("version") == wanted for p in plugins
    ):
        pytest.skip(
            f"no pulumi-kubernetes plugin {wanted} in PULUMI_HOME={build_tools.pulumi_home()} (the Go module "
            f"proxy refuses github.com/pulumi/pulumi-kubernetes/provider/v4); add one with `pulumi plugin install "
            f"resource kubernetes {wanted} --file BINARY` under that PULUMI_HOME"
        )
    return wanted


@pytest.fixture(scope="module")
def local_hub(hub: Cluster) -> Cluster:
    """These tests create and delete OCM's cluster-wide objects: never on a hub that is not ours."""
    if not hub.local:
        pytest.skip("the hub stack scenarios run only against the local hub (hack/localcluster.py)")
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
        self.root = Path(tempfile.mkdtemp(prefix="ocm-hub-e2e-stack-"))
        self.stacks: list[HubStack] = []

    def make(self, name: str, **overrides: Any) -> HubStack:
        config = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
        config["config"].update({f"ocm-hub:{key}": value for key, value in overrides.items()})
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
        if doc
    ]


def _clear(kube: Kube, declared: list[Declared]) -> None:
    """Delete what is left of the declared objects, CR first (its CRD's deletion waits for it)."""
    ordered = sorted(declared, key=lambda obj: obj.kind != CM_KIND)
    for obj in ordered:
        kube.delete(obj.api_version, obj.kind, obj.name, obj.namespace)
    for obj in ordered:
        wait_gone(kube, obj.path(kube), timeout=GONE_TIMEOUT)


def _up_with_stand_in(stack: HubStack) -> tuple[Result, OperatorStandIn]:
    with OperatorStandIn(Kube.from_file(stack.project.extra_env["KUBECONFIG"])) as stand_in:
        up = stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
    assert not stand_in.errors, f"the operator stand-in failed: {stand_in.errors}"
    return up, stand_in


@pytest.fixture(scope="class")
def dev_stack(kubernetes_plugin: str, local_hub: Cluster) -> Iterator[tuple[HubStack, OperatorStandIn, Result]]:
    """The dev stack, previewed and brought up once for the tests of one class, the stand-in running."""
    factory = StackFactory(local_hub)
    try:
        stack = factory.make("dev")
        stack.project.run("preview", timeout=UP_TIMEOUT)
        assert stack.missing() == stack.declared, "preview creates nothing"
        with OperatorStandIn(Kube.from_file(str(local_hub.kubeconfig))) as stand_in:
            up = stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
            yield stack, stand_in, up
        assert not stand_in.errors, f"the operator stand-in failed: {stand_in.errors}"
    finally:
        factory.close()


class TestDevStack:
    """One dev stack, in order: up, outputs, idempotence, an in-place upgrade preview, state, destroy."""

    def test_up_creates_every_declared_object_and_waits_for_the_hub(
        self, dev_stack: tuple[HubStack, OperatorStandIn, Result]
    ) -> None:
        stack, stand_in, up = dev_stack
        assert stack.declared, "the render lists the objects"
        assert not stack.missing(), "every declared object exists on the API server"
        assert stand_in.writes, "the stand-in reported the hub ready"
        generation, written_at = stand_in.writes[0]
        assert up.finished_at > written_at, "pulumi up finished only after the hub was reported ready"
        assert up.seconds >= STAND_IN_DELAY
        cr = stack.kube.get(CM_API, CM_KIND, CM_NAME)
        assert cr is not None
        assert cr["metadata"]["generation"] == generation

    def test_outputs_match_the_api_server(self, dev_stack: tuple[HubStack, OperatorStandIn, Result]) -> None:
        stack, _, _ = dev_stack
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

    def test_second_up_and_refresh_change_nothing(self, dev_stack: tuple[HubStack, OperatorStandIn, Result]) -> None:
        stack, _, _ = dev_stack
        stack.project.run("up", "--yes", "--expect-no-changes", timeout=UP_TIMEOUT)
        stack.project.run("refresh", "--yes", "--expect-no-changes", timeout=UP_TIMEOUT)
        assert set(stack.project.run("preview", "--json", timeout=UP_TIMEOUT).json()["changeSummary"]) == {"same"}

    def test_image_tag_change_updates_in_place(self, dev_stack: tuple[HubStack, OperatorStandIn, Result]) -> None:
        stack, _, _ = dev_stack
        original = stack.stack_file.read_text(encoding="utf-8")
        try:
            stack.project.run("config", "set", "--path", "ocm-hub:images.tag", "v1.3.0", timeout=60)
            preview = stack.project.run("preview", "--diff", "--json", timeout=UP_TIMEOUT).json()
        finally:
            stack.stack_file.write_text(original, encoding="utf-8")
        ops: dict[str, set[str]] = {}
        for step in preview["steps"]:
            kind = (step.get("newState") or step.get("oldState") or {}).get("type", "")
            ops.setdefault(kind, set()).add(step["op"])
        for kind in (CRD_TYPE, CM_TYPE, NAMESPACE_TYPE):
            assert not ops.get(kind, set()) & REPLACING_OPS, f"{kind} must not be replaced: {ops.get(kind)}"
        assert "update" in ops[CM_TYPE], f"the ClusterManager is updated in place: {ops}"

    def test_state_holds_no_secret_material(self, dev_stack: tuple[HubStack, OperatorStandIn, Result]) -> None:
        stack, _, _ = dev_stack
        exported = stack.project.run("stack", "export", timeout=60).stdout
        for needle in _client_key_fragments(stack.project.extra_env["KUBECONFIG"]):
            assert needle not in exported, "the kubeconfig's client key must not reach the state"

    def test_destroy_with_teardown_removes_everything(
        self, dev_stack: tuple[HubStack, OperatorStandIn, Result]
    ) -> None:
        stack, _, _ = dev_stack
        stack.project.run("destroy", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
        for obj in stack.declared:
            wait_gone(stack.kube, obj.path(stack.kube), timeout=GONE_TIMEOUT)


def test_destroy_without_teardown_keeps_the_cluster_manager_and_its_crd(stack_factory: StackFactory) -> None:
    stack = stack_factory.make("kept", allowTeardown=False)
    _up_with_stand_in(stack)
    stack.project.run("destroy", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
    kept = {(obj.kind, obj.name) for obj in stack.declared if obj.get(stack.kube) is not None}
    assert kept == {(CM_KIND, CM_NAME), ("CustomResourceDefinition", CRD_NAME)}
    crd = get(stack.kube, stack.kube.path("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME))
    assert condition(crd, "Established") == "True", "the retained CRD still serves the CR"


def test_up_fails_within_the_readiness_bound_naming_the_unmet_condition(stack_factory: StackFactory) -> None:
    stack = stack_factory.make("unready", readinessTimeout=f"{FAILURE_BOUND}s")
    up = stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT, check=False)
    output = up.stdout + up.stderr
    assert up.returncode != 0, "with nothing reporting the hub ready, pulumi up fails"
    assert up.seconds < FAILURE_BOUND + 150, f"bounded by readinessTimeout ({up.seconds:.0f}s)"
    assert "Applied" in output, f"the error names the unmet condition:\n{output[-3000:]}"


def _client_key_fragments(kubeconfig: str) -> list[str]:
    """The client key as the kubeconfig holds it (base64) and as PEM body lines, to search for."""
    config = yaml.safe_load(Path(kubeconfig).read_text(encoding="utf-8"))
    user = next(u["user"] for u in config["users"])
    encoded = str(user["client-key-data"])
    pem = base64.b64decode(encoded).decode()
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return [encoded, *body, "".join(body)]
