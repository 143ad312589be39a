"""The `HubReadiness` dynamic resource: ocm-hub's own bounded wait for a ready ClusterManager.

pulumi-kubernetes' `pulumi.com/waitFor` await ends with only "timed out waiting for the condition".
This resource polls the ClusterManager and the hub Deployments its status lists itself and, when
`readinessTimeout` passes, fails naming every unmet condition with its status, reason and message and
every Deployment not rolled out (the rule: providers/hub_status.py). Its outputs are the live object's
generation and status, so the hub's status outputs come from here and `pulumi refresh` brings them up
to date. Hub access is the registrations' (providers/hub_provider.py); it needs `get` on the
ClusterManager and on Deployments in the namespaces the ClusterManager lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from config import names
from config.wire import whole_numbers
from providers.hub_provider import HUB_KUBECONFIG, HubProvider, hub_access, with_hub_kubeconfig
from providers.hub_status import hub_deployments, not_ready_reasons, rollout_reason
from providers.kube import Kube, TransientError
from providers.poll import Pacing, Unmet
from providers.sdk_patches import serialized_once

CLUSTER_MANAGER = (names.CLUSTER_MANAGER_API_VERSION, names.CLUSTER_MANAGER_KIND)
DEPLOYMENT = ("apps/v1", "Deployment")
# A change of any is a new generation to wait for (spec), a new operator rollout (operator) or a new bound
# (timeoutSeconds).
WAIT_KEYS = ("spec", "operator", "timeoutSeconds")


class HubNotReadyError(Exception):
    """The hub was not ready within the bound; the message names every unmet condition and Deployment."""


def rollout_reasons(hub: Kube, live: Mapping[str, Any]) -> list[str]:
    """Every hub Deployment the ClusterManager lists that has not rolled out; one is listed at least."""
    listed = hub_deployments(live.get("status"))
    if not listed:
        return ["status.relatedResources lists no hub Deployment yet"]
    reasons = (rollout_reason(ns, name, hub.get(*DEPLOYMENT, name, ns)) for ns, name in listed)
    return [reason for reason in reasons if reason]


def _operator_reasons(hub: Kube, namespace: str, name: str) -> list[str]:
    reason = rollout_reason(namespace, name, hub.get(*DEPLOYMENT, name, namespace))
    return [reason] if reason else []


def wait_ready(
    hub: Kube, name: str, timeout: float, pacing: Pacing | None = None, operator: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The ClusterManager once its conditions are ready and its Deployments rolled out, and the operator's
    Deployment (namespace, name) too when given; HubNotReadyError naming each unmet one once `timeout`
    seconds passed.

    No settle: the operator's early "ready" (Deployments without a ReplicaSet) is "not rolled out" here.
    """
    pacing = pacing or Pacing()
    ready: dict[str, Any] = {}

    def look() -> Unmet | None:
        try:
            live = hub.get(*CLUSTER_MANAGER, name)
            reasons = [] if operator is None else _operator_reasons(hub, *operator)
            reasons += not_ready_reasons(live) + (rollout_reasons(hub, live) if live else [])
        except TransientError as err:  # an API server restart is a wait, not a failure
            live, reasons = None, [f"the hub API did not answer: {err}"]
        if live is None or reasons:
            return Unmet("; ".join(reasons), f"hub: waiting for ClusterManager {name}: {reasons[0]}")
        ready.update(live)
        return None

    unmet = pacing.until(look, timeout)
    if unmet is not None:
        raise HubNotReadyError(f"hub not ready within {timeout:g}s: {unmet.condition}")
    pacing.log(f"hub: ClusterManager {name} is ready")
    return ready


def observed(live: Mapping[str, Any]) -> dict[str, Any]:
    """What the outputs keep of the live object: its generation and status, as the CR's own outputs had them."""
    metadata = live.get("metadata") or {}
    return {
        "metadata": {"name": metadata.get("name"), "generation": metadata.get("generation")},
        "status": dict(live.get("status") or {}),
    }


class HubReadinessProvider(HubProvider):
    """Create/update wait (bounded); read reports the live status; diff is pure; delete leaves the hub alone."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        timeout = news.get("timeoutSeconds")
        if not isinstance(timeout, int | float) or timeout <= 0:
            return CheckResult(news, [CheckFailure("timeoutSeconds", "must be a positive number of seconds")])
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in WAIT_KEYS if whole_numbers(olds.get(key)) != whole_numbers(news.get(key))]
        rotated = olds.get(HUB_KUBECONFIG) != news.get(HUB_KUBECONFIG)
        return DiffResult(changes=bool(changed) or rotated, replaces=[], stables=["name"], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = str(props["name"])
        return CreateResult(name, self._outputs(props, self._wait(props)))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outputs(news, self._wait(news)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = self.hub(props).get(*CLUSTER_MANAGER, id_)
        if live is None:  # gone with its ClusterManager: the next up creates both and waits again
            return ReadResult(None, {})
        return ReadResult(id_, self._outputs(props, live))

    def _wait(self, props: Mapping[str, Any]) -> dict[str, Any]:
        timeout = float(props["timeoutSeconds"])
        operator = props.get("operator")
        where = (str(operator["namespace"]), str(operator["name"])) if operator else None
        return wait_ready(self.hub(props), str(props["name"]), timeout, operator=where)

    @staticmethod
    def _outputs(props: Mapping[str, Any], live: Mapping[str, Any]) -> dict[str, Any]:
        inputs = {key: props.get(key) for key in ("name", *WAIT_KEYS)}
        return {**inputs, **observed(live), **hub_access(props)}


class HubReadiness(pulumi.dynamic.Resource, module="ocm-hub", name="HubReadiness"):
    """The ClusterManager ready at its current generation and its Deployments rolled out, awaited by
    ocm-hub; its live status."""

    metadata: pulumi.Output[dict[str, Any]]
    status: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        cluster_manager: pulumi.Input[str],
        spec: Mapping[str, Any],
        timeout_seconds: int,
        hub_kubeconfig: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        operator: Mapping[str, Any] | None = None,
    ) -> None:
        """`operator`: the operator's Deployment as applied, when pulumi-kubernetes does not await it."""
        props: dict[str, Any] = {
            "name": cluster_manager,
            "spec": dict(spec),
            "timeoutSeconds": timeout_seconds,
            "metadata": None,
            "status": None,
        }
        if operator is not None:
            metadata = operator["metadata"]
            props["operator"] = {"namespace": metadata["namespace"], "name": metadata["name"], "spec": operator["spec"]}
        opts = with_hub_kubeconfig(props, hub_kubeconfig, opts)
        with serialized_once():
            super().__init__(HubReadinessProvider(), name, props, opts)
