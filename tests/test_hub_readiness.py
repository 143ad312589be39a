"""The hub readiness provider as the engine runs it (the SDK's `python -m pulumi.dynamic` server over
gRPC) against the fake hub API, where the fake operator (ocmhub_testing.fake_operator) writes the
ClusterManager's status and the hub Deployments' rollout as the real operator and deployment controller do."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.dynamic.dynamic import serialize_provider

from ocmhub_testing.dynamic_server import DynamicServer, ProviderError, dynamic_server
from ocmhub_testing.fake_operator import HUB_NAMESPACE, OPERATOR, READY, FakeHubOperator, Rollout
from ocmhub_testing.fakekube import FakeKube
from providers.hub_readiness import CLUSTER_MANAGER, HubNotReadyError, HubReadinessProvider, wait_ready
from providers.hub_status import not_ready_reasons
from providers.kube import Kube, RetryPolicy
from providers.poll import Pacing
from providers.sdk_patches import pickler_restored

NAME = "cluster-manager"
SPEC = {"deployOption": {"mode": "Default"}, "workConfiguration": {"workDriver": "kube"}}
REGISTRATION = f"{HUB_NAMESPACE}/cluster-manager-registration-controller"
OPERATOR_INPUT = {"namespace": OPERATOR[0], "name": OPERATOR[1], "spec": {"replicas": 1}}


def _inputs(timeout: float = 20, **changes: Any) -> dict[str, Any]:
    return {"name": NAME, "spec": SPEC, "timeoutSeconds": timeout, "metadata": None, "status": None, **changes}


@pytest.fixture
def operator(hub: FakeKube) -> FakeHubOperator:
    return FakeHubOperator(hub, NAME, SPEC)


def _with(kind: str, status: str, reason: str = "", message: str = "") -> list[dict[str, str]]:
    """READY with one condition changed (or dropped, status "")."""
    changed = [c for c in READY if c["type"] != kind]
    if status:
        changed.append({"type": kind, "status": status, "reason": reason, "message": message})
    return changed


@pytest.fixture
def readiness(hub: FakeKube, tmp_path: Path) -> Iterator[DynamicServer]:
    """The readiness provider in the SDK's own server, configured for the fake hub."""
    with pickler_restored():
        provider = str(serialize_provider(HubReadinessProvider()))
    with dynamic_server(tmp_path / "provider.log") as server:
        server = dataclasses.replace(server, provider=provider)
        server.configure({"kubernetes:kubeconfig": yaml.safe_dump(hub.kubeconfig())})
        yield server


def test_a_ready_hub_is_created_with_its_live_status_at_once(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    operator.ready()
    started = time.monotonic()
    id_, outs = readiness.create(_inputs())
    assert time.monotonic() - started < 8, "no hold (it was 10 s) once the conditions are met and all rolled out"
    assert id_ == NAME
    assert outs["metadata"] == {"name": NAME, "generation": 1}
    assert not_ready_reasons(outs) == []
    listed = [r["name"] for r in outs["status"]["relatedResources"] if r["resource"] == "deployments"]
    assert listed == operator.deployments
    assert outs["spec"] == SPEC
    assert outs["timeoutSeconds"] == 20


def test_create_waits_until_the_operator_reports_ready(readiness: DynamicServer, operator: FakeHubOperator) -> None:
    operator.report(_with("Applied", ""), observed=0)
    timer = threading.Timer(1.0, operator.ready)
    timer.start()
    started = time.monotonic()
    try:
        _, outs = readiness.create(_inputs())
    finally:
        timer.cancel()
    assert 1.0 <= time.monotonic() - started < 10
    assert not_ready_reasons(outs) == []


def test_create_waits_for_the_deployments_the_operator_calls_ready_already(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    """The real operator reports a fresh hub ready before its Deployments have a ReplicaSet (seen on the
    local hub with every hub pod unschedulable): the wait goes on until the deployment controller says
    each rolled out."""
    operator.report(READY)
    operator.roll_out(Rollout.UNOBSERVED)
    rolled_out = threading.Event()

    def deployment_controller() -> None:
        """Rolls out once the wait has seen the Deployments unobserved: a wait that ends sooner never sees it."""
        deadline = time.monotonic() + 20
        while not operator.hub.count(method="GET", path="/deployments/") and time.monotonic() < deadline:
            time.sleep(0.05)
        operator.roll_out()
        rolled_out.set()

    controller = threading.Thread(target=deployment_controller, daemon=True)
    controller.start()
    readiness.create(_inputs())
    assert rolled_out.is_set(), "create returned before the Deployments rolled out"
    controller.join(20)


def test_not_ready_within_the_bound_names_each_unmet_condition(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    degraded = [c for c in READY if c["type"] not in ("Applied", "HubRegistrationDegraded")] + [
        {
            "type": "HubRegistrationDegraded",
            "status": "True",
            "reason": "GetRegistrationDeploymentFailed",
            "message": "deployment cluster-manager-registration-controller not found",
        }
    ]
    operator.roll_out()
    operator.report(degraded)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        readiness.create(_inputs(timeout=2))
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert message.endswith(
        "hub not ready within 2s: condition Applied is missing (want True); "
        "condition HubRegistrationDegraded=True (want False): GetRegistrationDeploymentFailed: "
        "deployment cluster-manager-registration-controller not found\n"
    )
    assert "Traceback" not in message
    assert 'File "' not in message
    assert 2 <= elapsed < 6


def test_ready_conditions_with_a_deployment_not_available_are_not_ready(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    operator.ready()
    operator.roll_out(Rollout.UNAVAILABLE, "cluster-manager-registration-controller")
    with pytest.raises(ProviderError) as caught:
        readiness.create(_inputs(timeout=1))
    assert str(caught.value).endswith(
        f"hub not ready within 1s: deployment {REGISTRATION}: 0 of 1 replicas available\n"
    )


def test_every_deployment_not_rolled_out_is_named_with_the_conditions(operator: FakeHubOperator) -> None:
    operator.report(_with("HubRegistrationDegraded", "True", "UnavailableRegistrationPod", "1 unavailable"))
    operator.roll_out(Rollout.UNAVAILABLE)
    operator.roll_out(Rollout.DONE, "cluster-manager-work-webhook")
    operator.roll_out(Rollout.OLD_PODS, "cluster-manager-placement-controller")
    operator.roll_out(Rollout.UNOBSERVED, "cluster-manager-addon-webhook")
    operator.remove("cluster-manager-addon-manager-controller")
    with pytest.raises(HubNotReadyError) as caught:
        wait_ready(Kube(operator.hub.api_client()), NAME, 10, _fake_clock())
    assert str(caught.value).split(": ", 1)[1].split("; ") == [
        "condition HubRegistrationDegraded=True (want False): UnavailableRegistrationPod: 1 unavailable",
        f"deployment {REGISTRATION}: 0 of 1 replicas available",
        f"deployment {HUB_NAMESPACE}/cluster-manager-registration-webhook: 0 of 1 replicas available",
        f"deployment {HUB_NAMESPACE}/cluster-manager-placement-controller: 1 old replicas pending termination",
        f"deployment {HUB_NAMESPACE}/cluster-manager-addon-webhook: generation 1 not yet observed by the "
        "deployment controller (observed 0)",
        f"deployment {HUB_NAMESPACE}/cluster-manager-addon-manager-controller: not found",
    ]


def test_a_listed_deployment_that_does_not_exist_is_not_ready(operator: FakeHubOperator) -> None:
    operator.ready()
    operator.remove("cluster-manager-placement-controller")
    with pytest.raises(
        HubNotReadyError, match=r"within 10s: deployment \S+/cluster-manager-placement-controller: not found$"
    ):
        wait_ready(Kube(operator.hub.api_client()), NAME, 10, _fake_clock())


def test_a_cluster_manager_that_lists_no_deployment_is_not_ready(operator: FakeHubOperator) -> None:
    live = operator.ready()
    live["status"]["relatedResources"] = [r for r in live["status"]["relatedResources"] if r["group"] != "apps"]
    operator.hub.put_object(live)
    with pytest.raises(HubNotReadyError, match=r"within 10s: status\.relatedResources lists no hub Deployment yet$"):
        wait_ready(Kube(operator.hub.api_client()), NAME, 10, _fake_clock())


def test_a_hub_api_that_does_not_answer_is_a_wait(operator: FakeHubOperator) -> None:
    operator.ready()
    operator.hub.inject("GET", "/deployments/", 503, times=None)
    hub = Kube(operator.hub.api_client(), retry=RetryPolicy(attempts=1))
    with pytest.raises(HubNotReadyError, match=r"within 10s: the hub API did not answer: GET \S+/deployments/\S+: 503"):
        wait_ready(hub, NAME, 10, _fake_clock())
    operator.hub.clear_faults()
    assert wait_ready(hub, NAME, 10, _fake_clock())["metadata"]["name"] == NAME


def test_a_missing_cluster_manager_and_a_stale_status_are_named(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    with pytest.raises(ProviderError, match=r"hub not ready within 1s: ClusterManager not found"):
        readiness.create(_inputs(timeout=1))
    operator.roll_out()
    operator.report(READY, observed=0)
    with pytest.raises(ProviderError, match=r"status\.observedGeneration 0 has not caught up with generation 1"):
        readiness.create(_inputs(timeout=1))


def test_refresh_reads_the_live_status_and_forgets_a_deleted_hub(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    operator.ready()
    id_, outs = readiness.create(_inputs())
    operator.report(_with("HubPlacementDegraded", "True", "PlacementFailed", "no placement controller"))
    read_id, refreshed = readiness.read(id_, outs)
    assert read_id == NAME
    assert not_ready_reasons(refreshed) == [
        "condition HubPlacementDegraded=True (want False): PlacementFailed: no placement controller"
    ]
    assert refreshed["spec"] == SPEC  # the inputs stay, so the next up sees no change
    operator.hub.delete_object(*CLUSTER_MANAGER, NAME)
    gone_id, _ = readiness.read(id_, outs)
    assert gone_id == ""


def test_diff_is_pure_and_updates_on_spec_timeout_or_hub_change(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    operator.ready()
    _, outs = readiness.create(_inputs())
    operator.hub.clear_requests()
    none = readiness.diff(NAME, outs, _inputs(timeout=20.0))
    assert none.changes == none.DIFF_NONE
    assert operator.hub.requests == []  # diff never calls the API
    for news in (
        _inputs(spec={**SPEC, "nodePlacement": {"nodeSelector": {"infra": "true"}}}),
        _inputs(timeout=30),
        _inputs(hubKubeconfig="apiVersion: v1\nkind: Config\n"),
        _inputs(operator=OPERATOR_INPUT),
    ):
        some = readiness.diff(NAME, outs, news)
        assert some.changes == some.DIFF_SOME
        assert list(some.replaces) == []


def test_update_waits_for_the_new_generation_and_its_rollout(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    operator.ready()
    _, outs = readiness.create(_inputs())
    live = operator.hub.get_object(*CLUSTER_MANAGER, NAME)
    assert live is not None
    operator.hub.put_object({**live, "spec": {**SPEC, "nodePlacement": {"nodeSelector": {"infra": "true"}}}})
    with pytest.raises(ProviderError, match=r"has not caught up with generation 2"):
        readiness.update(NAME, outs, _inputs(timeout=1))
    operator.report(READY)  # the operator's own rule: the old pod is ready, so nothing is rolling
    operator.roll_out(Rollout.OLD_PODS, "cluster-manager-registration-controller")
    with pytest.raises(ProviderError, match=r"registration-controller: 1 old replicas pending termination"):
        readiness.update(NAME, outs, _inputs(timeout=1))
    operator.roll_out()
    updated = readiness.update(NAME, outs, _inputs(timeout=1))
    assert updated["metadata"]["generation"] == 2
    assert not not_ready_reasons(updated)


def test_the_operators_deployment_when_given_is_rolled_out_before_the_hub_is_ready(
    readiness: DynamicServer, operator: FakeHubOperator
) -> None:
    """pulumi-kubernetes does not await it (components/operator_manifests.py): an operator that never
    becomes available is named, even while the ClusterManager still shows an older operator's ready status."""
    operator.ready()
    operator.run_operator(Rollout.UNAVAILABLE)
    with pytest.raises(
        ProviderError, match=r"deployment open-cluster-management/cluster-manager: 0 of 1 replicas available"
    ):
        readiness.create(_inputs(timeout=1, operator=OPERATOR_INPUT))
    _, outs = readiness.create(_inputs(timeout=1))
    assert not_ready_reasons(outs) == [], "without it, only the ClusterManager's own rule"
    operator.run_operator(Rollout.DONE)
    _, outs = readiness.create(_inputs(timeout=1, operator=OPERATOR_INPUT))
    assert outs["operator"] == OPERATOR_INPUT


def test_delete_leaves_the_hub_alone(readiness: DynamicServer, operator: FakeHubOperator) -> None:
    operator.ready()
    id_, outs = readiness.create(_inputs())
    operator.hub.clear_requests()
    readiness.delete(id_, outs)
    assert operator.hub.requests == []
    assert operator.hub.get_object(*CLUSTER_MANAGER, NAME) is not None


def test_check_rejects_a_bound_that_is_not_positive(readiness: DynamicServer) -> None:
    assert readiness.check(_inputs(timeout=0)) == [("timeoutSeconds", "must be a positive number of seconds")]
    assert readiness.check(_inputs()) == []


def test_the_first_look_that_finds_the_hub_ready_ends_the_wait(operator: FakeHubOperator) -> None:
    operator.ready()
    now = [0.0]
    pacing = _fake_clock(now)
    wait_ready(Kube(operator.hub.api_client()), NAME, 60, pacing)
    assert now[0] == 0.0


def test_the_wait_says_why_at_least_every_15_seconds(operator: FakeHubOperator) -> None:
    operator.roll_out()
    operator.report(_with("Progressing", "True", "ClusterManagerDeploymentRolling", "rolling out"))
    now = [0.0]
    logged: list[tuple[float, str]] = []

    def sleep(seconds: float) -> None:
        assert seconds > 0
        now[0] += seconds

    pacing = Pacing(clock=lambda: now[0], sleep=sleep, log=lambda line: logged.append((now[0], line)))
    with pytest.raises(HubNotReadyError, match=r"hub not ready within 60s: condition Progressing=True"):
        wait_ready(Kube(operator.hub.api_client()), NAME, 60, pacing)
    assert 59.9 <= now[0] <= 60.0  # never sleeps past the bound
    times = [0.0] + [at for at, _ in logged] + [now[0]]
    assert len(logged) >= 3
    assert max(b - a for a, b in itertools.pairwise(times)) <= 15
    assert logged[0][1].startswith(
        "hub: waiting for ClusterManager cluster-manager: condition Progressing=True (want False)"
    )
    assert logged[0][1].endswith("(15s of 60s)")


def _fake_clock(now: list[float] | None = None) -> Pacing:
    """Pacing on a clock that only sleeping moves: a wait's bound passes at once."""
    clock = now if now is not None else [0.0]
    return Pacing(
        clock=lambda: clock[0], sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds), log=lambda _: None
    )
