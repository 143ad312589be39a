"""Readiness as the operator and the deployment controller report it: the rule behind the await and the
`hubReady` output."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest

from providers import hub_status

READY: dict[str, str | None] = dict(hub_status.READY_CONDITIONS)


def _object(statuses: Mapping[str, str | None], generation: int = 2, observed: int | None = 2) -> dict[str, Any]:
    conditions = [
        {"type": kind, "status": status, "reason": f"{kind}Reason", "message": f"{kind} says {status}"}
        for kind, status in statuses.items()
        if status is not None
    ]
    status: dict[str, Any] = {"conditions": conditions}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"generation": generation}, "status": status}


def test_all_ready_conditions_mean_ready() -> None:
    assert hub_status.is_ready(_object(READY))
    assert hub_status.not_ready_reasons(_object(READY)) == []


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (kind, status)
        for kind, status in itertools.product(hub_status.READY_CONDITIONS, ["True", "False", "Unknown", None])
        if status != hub_status.READY_CONDITIONS[kind]
    ],
)
def test_any_unmet_condition_is_named(kind: str, status: str | None) -> None:
    obj = _object({**READY, kind: status})
    reasons = hub_status.not_ready_reasons(obj)
    assert not hub_status.is_ready(obj)
    assert len(reasons) == 1
    assert kind in reasons[0]
    if status is not None:
        assert f"{kind}Reason" in reasons[0]
        assert f"{kind} says {status}" in reasons[0]


def test_stale_status_is_not_ready() -> None:
    reasons = hub_status.not_ready_reasons(_object(READY, generation=3, observed=2))
    assert reasons == ["status.observedGeneration 2 has not caught up with generation 3"]


def test_missing_object_is_not_ready() -> None:
    assert hub_status.not_ready_reasons(None) == ["ClusterManager not found"]


def test_no_available_condition_is_required() -> None:
    assert "Available" not in hub_status.READY_CONDITIONS


def test_conditions_are_trimmed_and_sorted() -> None:
    status = {
        "conditions": [{"type": "Z", "status": "True", "lastTransitionTime": "t"}, {"type": "A", "status": "False"}]
    }
    assert hub_status.conditions(status) == [
        {"type": "A", "status": "False", "reason": "", "message": ""},
        {"type": "Z", "status": "True", "reason": "", "message": ""},
    ]


def test_the_hub_deployments_are_the_ones_the_operator_lists_in_their_namespace() -> None:
    def entry(group: str, resource: str, name: str, namespace: str = "") -> dict[str, str]:
        return {"group": group, "version": "v1", "resource": resource, "namespace": namespace, "name": name}

    status = {
        "relatedResources": [
            entry("", "namespaces", "open-cluster-management-hub"),
            entry("apps", "deployments", "cluster-manager-registration-controller", "open-cluster-management-hub"),
            entry(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "managedclusters.cluster.open-cluster-management.io",
            ),
            entry(
                "apps", "deployments", "hosted-placement-controller", "hosted"
            ),  # Hosted: the namespace is the CR's name
            entry("", "services", "cluster-manager-registration-webhook", "open-cluster-management-hub"),
        ]
    }
    assert hub_status.hub_deployments(status) == [
        ("open-cluster-management-hub", "cluster-manager-registration-controller"),
        ("hosted", "hosted-placement-controller"),
    ]
    assert hub_status.hub_deployments({}) == []
    assert hub_status.hub_deployments(None) == []


def _deployment(desired: int | None = 1, generation: int = 2, **status: Any) -> dict[str, Any]:
    """A Deployment with `desired` in spec.replicas (None: unset) and these status fields."""
    spec = {} if desired is None else {"replicas": desired}
    return {"metadata": {"generation": generation}, "spec": spec, "status": status}


@pytest.mark.parametrize(
    ("deployment", "reason"),
    [
        (None, "not found"),
        (_deployment(), "generation 2 not yet observed by the deployment controller (observed 0)"),
        (_deployment(observedGeneration=1, replicas=1, updatedReplicas=1, availableReplicas=1), "generation 2 not yet"),
        (_deployment(observedGeneration=2, replicas=1), "0 of 1 replicas updated"),
        (_deployment(3, observedGeneration=2, replicas=4, updatedReplicas=3, availableReplicas=3), "1 old replicas"),
        (_deployment(observedGeneration=2, replicas=1, updatedReplicas=1), "0 of 1 replicas available"),
        (_deployment(None, observedGeneration=2, replicas=1, updatedReplicas=1), "0 of 1 replicas available"),
        (
            _deployment(
                observedGeneration=2,
                replicas=1,
                updatedReplicas=1,
                conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "too slow"}],
            ),
            "exceeded its progress deadline: too slow",
        ),
    ],
)
def test_a_deployment_not_rolled_out_says_why_as_kubectl_rollout_status_would(
    deployment: dict[str, Any] | None, reason: str
) -> None:
    said = hub_status.rollout_reason("ns", "name", deployment)
    assert said is not None
    assert said.startswith(f"deployment ns/name: {reason}")


@pytest.mark.parametrize(
    "deployment",
    [
        _deployment(observedGeneration=2, replicas=1, updatedReplicas=1, availableReplicas=1),
        _deployment(3, observedGeneration=5, replicas=3, updatedReplicas=3, availableReplicas=3),
        _deployment(0, observedGeneration=2),  # scaled to zero: nothing to wait for
    ],
)
def test_a_rolled_out_deployment_has_no_reason(deployment: dict[str, Any]) -> None:
    assert hub_status.rollout_reason("ns", "name", deployment) is None
