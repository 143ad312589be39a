"""Readiness as the operator reports it: the rule behind the await and the `hubReady` output."""

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
