"""The hub readiness provider as the engine runs it (the SDK's `python -m pulumi.dynamic` server over
gRPC) against the fake hub API, where the test plays the cluster-manager operator by writing the
ClusterManager's status."""

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
from ocmhub_testing.fakekube import FakeKube
from providers.hub_provider import pickler_restored
from providers.hub_readiness import CLUSTER_MANAGER, HubNotReadyError, HubReadinessProvider, wait_ready
from providers.hub_status import READY_CONDITIONS, not_ready_reasons
from providers.kube import Kube
from providers.poll import Pacing

NAME = "cluster-manager"
SPEC = {"deployOption": {"mode": "Default"}, "workConfiguration": {"workDriver": "kube"}}
READY = [
    {"type": kind, "status": status, "reason": f"Fake{kind}", "message": ""}
    for kind, status in READY_CONDITIONS.items()
]


def _inputs(timeout: float = 20, **changes: Any) -> dict[str, Any]:
    return {"name": NAME, "spec": SPEC, "timeoutSeconds": timeout, "metadata": None, "status": None, **changes}


def _put(hub: FakeKube, conditions: list[dict[str, str]], observed: int | None = None) -> dict[str, Any]:
    """The ClusterManager as the operator leaves it: conditions and observedGeneration (default: current)."""
    live = hub.get_object(*CLUSTER_MANAGER, NAME) or hub.put_object(
        {"apiVersion": CLUSTER_MANAGER[0], "kind": CLUSTER_MANAGER[1], "metadata": {"name": NAME}, "spec": SPEC}
    )
    generation = live["metadata"]["generation"]
    live["status"] = {
        "observedGeneration": generation if observed is None else observed,
        "conditions": conditions,
        "relatedResources": [{"group": "apps", "resource": "deployments", "name": "cluster-manager-registration"}],
    }
    return hub.put_object(live)


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
        provider = str(serialize_provider(HubReadinessProvider(settle_seconds=0.5)))
    with dynamic_server(tmp_path / "provider.log") as server:
        server = dataclasses.replace(server, provider=provider)
        server.configure({"kubernetes:kubeconfig": yaml.safe_dump(hub.kubeconfig())})
        yield server


def test_a_ready_hub_is_created_with_its_live_status(readiness: DynamicServer, hub: FakeKube) -> None:
    _put(hub, READY)
    id_, outs = readiness.create(_inputs())
    assert id_ == NAME
    assert outs["metadata"] == {"name": NAME, "generation": 1}
    assert not_ready_reasons(outs) == []
    assert outs["status"]["relatedResources"][0]["name"] == "cluster-manager-registration"
    assert outs["spec"] == SPEC
    assert outs["timeoutSeconds"] == 20


def test_create_waits_until_the_operator_reports_ready(readiness: DynamicServer, hub: FakeKube) -> None:
    _put(hub, _with("Applied", ""), observed=0)
    operator = threading.Timer(1.0, lambda: _put(hub, READY))
    operator.start()
    started = time.monotonic()
    try:
        _, outs = readiness.create(_inputs())
    finally:
        operator.cancel()
    assert 1.0 <= time.monotonic() - started < 10
    assert not_ready_reasons(outs) == []


def test_not_ready_within_the_bound_names_each_unmet_condition(readiness: DynamicServer, hub: FakeKube) -> None:
    degraded = [c for c in READY if c["type"] not in ("Applied", "HubRegistrationDegraded")] + [
        {
            "type": "HubRegistrationDegraded",
            "status": "True",
            "reason": "GetRegistrationDeploymentFailed",
            "message": "deployment cluster-manager-registration-controller not found",
        }
    ]
    _put(hub, degraded)
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


def test_a_missing_cluster_manager_and_a_stale_status_are_named(readiness: DynamicServer, hub: FakeKube) -> None:
    with pytest.raises(ProviderError, match=r"hub not ready within 1s: ClusterManager not found"):
        readiness.create(_inputs(timeout=1))
    _put(hub, READY, observed=0)
    with pytest.raises(ProviderError, match=r"status\.observedGeneration 0 has not caught up with generation 1"):
        readiness.create(_inputs(timeout=1))


def test_refresh_reads_the_live_status_and_forgets_a_deleted_hub(readiness: DynamicServer, hub: FakeKube) -> None:
    _put(hub, READY)
    id_, outs = readiness.create(_inputs())
    _put(hub, _with("HubPlacementDegraded", "True", "PlacementFailed", "no placement controller"))
    read_id, refreshed = readiness.read(id_, outs)
    assert read_id == NAME
    assert not_ready_reasons(refreshed) == [
        "condition HubPlacementDegraded=True (want False): PlacementFailed: no placement controller"
    ]
    assert refreshed["spec"] == SPEC  # the inputs stay, so the next up sees no change
    hub.delete_object(*CLUSTER_MANAGER, NAME)
    gone_id, _ = readiness.read(id_, outs)
    assert gone_id == ""


def test_diff_is_pure_and_updates_on_spec_timeout_or_hub_change(readiness: DynamicServer, hub: FakeKube) -> None:
    _put(hub, READY)
    _, outs = readiness.create(_inputs())
    hub.clear_requests()
    none = readiness.diff(NAME, outs, _inputs(timeout=20.0))
    assert none.changes == none.DIFF_NONE
    assert hub.requests == []  # diff never calls the API
    for news in (
        _inputs(spec={**SPEC, "nodePlacement": {"nodeSelector": {"infra": "true"}}}),
        _inputs(timeout=30),
        _inputs(hubKubeconfig="apiVersion: v1\nkind: Config\n"),
    ):
        some = readiness.diff(NAME, outs, news)
        assert some.changes == some.DIFF_SOME
        assert list(some.replaces) == []


def test_update_waits_for_the_new_generation(readiness: DynamicServer, hub: FakeKube) -> None:
    _put(hub, READY)
    _, outs = readiness.create(_inputs())
    live = hub.get_object(*CLUSTER_MANAGER, NAME)
    assert live is not None
    hub.put_object({**live, "spec": {**SPEC, "nodePlacement": {"nodeSelector": {"infra": "true"}}}})
    with pytest.raises(ProviderError, match=r"has not caught up with generation 2"):
        readiness.update(NAME, outs, _inputs(timeout=1))
    _put(hub, READY)
    updated = readiness.update(NAME, outs, _inputs(timeout=1))
    assert updated["metadata"]["generation"] == 2
    assert not not_ready_reasons(updated)


def test_delete_leaves_the_hub_alone(readiness: DynamicServer, hub: FakeKube) -> None:
    _put(hub, READY)
    id_, outs = readiness.create(_inputs())
    hub.clear_requests()
    readiness.delete(id_, outs)
    assert hub.requests == []
    assert hub.get_object(*CLUSTER_MANAGER, NAME) is not None


def test_check_rejects_a_bound_that_is_not_positive(readiness: DynamicServer) -> None:
    assert readiness.check(_inputs(timeout=0)) == [("timeoutSeconds", "must be a positive number of seconds")]
    assert readiness.check(_inputs()) == []


def test_ready_must_hold_a_while_before_the_wait_ends(hub: FakeKube) -> None:
    """The operator reports a fresh hub ready for a moment before its Deployments have pods (seen on the
    local hub with every hub pod unschedulable): a ready that does not hold does not end the wait."""
    _put(hub, READY)
    degraded = _with("HubRegistrationDegraded", "True", "UnavailableRegistrationPod", "0/1 available")
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 3.0:
            _put(hub, degraded)

    pacing = Pacing(clock=lambda: now[0], sleep=sleep, log=lambda _line: None)
    with pytest.raises(HubNotReadyError, match=r"condition HubRegistrationDegraded=True \(want False\)"):
        wait_ready(Kube(hub.api_client()), NAME, 60, pacing, settle=10)
    _put(hub, READY)
    now[0] = 0.0
    steady = Pacing(clock=lambda: now[0], sleep=lambda seconds: now.__setitem__(0, now[0] + seconds), log=print)
    wait_ready(Kube(hub.api_client()), NAME, 60, steady, settle=10)
    assert 10.0 <= now[0] < 13.0


def test_the_wait_says_why_at_least_every_15_seconds(hub: FakeKube) -> None:
    _put(hub, _with("Progressing", "True", "ClusterManagerDeploymentRolling", "rolling out"))
    now = [0.0]
    logged: list[tuple[float, str]] = []

    def sleep(seconds: float) -> None:
        assert seconds > 0
        now[0] += seconds

    pacing = Pacing(clock=lambda: now[0], sleep=sleep, log=lambda line: logged.append((now[0], line)))
    with pytest.raises(HubNotReadyError, match=r"hub not ready within 60s: condition Progressing=True"):
        wait_ready(Kube(hub.api_client()), NAME, 60, pacing)
    assert 59.9 <= now[0] <= 60.0  # never sleeps past the bound
    times = [0.0] + [at for at, _ in logged] + [now[0]]
    assert len(logged) >= 3
    assert max(b - a for a, b in itertools.pairwise(times)) <= 15
    assert logged[0][1].startswith(
        "hub: waiting for ClusterManager cluster-manager (15s of 60s): condition Progressing=True (want False)"
    )
