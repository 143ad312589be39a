"""Plays the cluster-manager operator and the hub's deployment controller on a fake hub, for the readiness wait.

What the real ones write (ocm v1.2.1, the release the local clusters run): the operator applies each hub
Deployment in open-cluster-management-hub, then patches the ClusterManager's status once — conditions,
observedGeneration, and every object it applied in `relatedResources` (Deployments among them) and
`generations` (pkg/operator/operators/clustermanager/controllers/clustermanagercontroller). The
deployment controller reports each Deployment's rollout in its status. The operator's conditions are
the test's to choose, and each Deployment's `Rollout` too, so a test can make them disagree as the real
ones do: conditions ready while a Deployment has no ReplicaSet yet, or while its new pod is pending.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config import names
from ocmhub_testing.fakekube import FakeKube
from providers.hub_status import READY_CONDITIONS

CLUSTER_MANAGER = (names.CLUSTER_MANAGER_API_VERSION, names.CLUSTER_MANAGER_KIND)
DEPLOYMENT = ("apps/v1", "Deployment")
HUB_NAMESPACE = "open-cluster-management-hub"
OPERATOR = ("open-cluster-management", "cluster-manager")  # the operator's own Deployment, as upstream names it
# The hub Deployments with the default feature gates: clustermanager_runtime_reconcile.go's deploymentFiles,
# and addOnManagerDeploymentFiles under AddonManagement (on by default).
COMPONENTS = (
    "registration-controller",
    "registration-webhook",
    "work-webhook",
    "placement-controller",
    "addon-webhook",
    "addon-manager-controller",
)
CREATED_BY = "open-cluster-management.io/created-by-clustermanager"
READY = [
    {"type": kind, "status": status, "reason": f"Fake{kind}", "message": ""}
    for kind, status in READY_CONDITIONS.items()
]

Json = dict[str, Any]


class Rollout(enum.Enum):
    """A Deployment's status as the deployment controller reports it."""

    DONE = "done"  # every replica updated and available
    UNOBSERVED = "unobserved"  # just applied: no ReplicaSet yet, no status
    UNAVAILABLE = "unavailable"  # its pods exist but none is available (e.g. unschedulable)
    OLD_PODS = "old pods"  # a template change: the old pod still serves, the new one is pending


def _deployment_status(rollout: Rollout, generation: int, replicas: int) -> Json:
    """The status fields the deployment controller sets (zero counts omitted, as the API does)."""
    if rollout is Rollout.UNOBSERVED:
        return {}
    available_when = ("True", "MinimumReplicasAvailable")
    # replicas, updated, available, the Available condition, the Progressing reason
    table = {
        Rollout.DONE: (replicas, replicas, replicas, available_when, "NewReplicaSetAvailable"),
        Rollout.UNAVAILABLE: (replicas, replicas, 0, ("False", "MinimumReplicasUnavailable"), "ReplicaSetUpdated"),
        Rollout.OLD_PODS: (replicas + 1, 1, replicas, available_when, "ReplicaSetUpdated"),
    }
    total, updated, available, (is_available, why), progressing = table[rollout]
    counts = {
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": total - available,
    }
    return {
        "observedGeneration": generation,
        **{key: value for key, value in counts.items() if value},
        "conditions": [
            {"type": "Available", "status": is_available, "reason": why},
            {"type": "Progressing", "status": "True", "reason": progressing},
        ],
    }


def _related(group: str, resource: str, name: str, namespace: str = "") -> Json:
    return {"group": group, "version": "v1", "resource": resource, "namespace": namespace, "name": name}


@dataclass
class FakeHubOperator:
    """The cluster-manager operator of one ClusterManager on `hub`, and the deployment controller under it."""

    hub: FakeKube
    name: str = names.CLUSTER_MANAGER_NAME
    spec: Mapping[str, Any] = field(default_factory=lambda: {"deployOption": {"mode": "Default"}})
    replicas: int = 1

    @property
    def deployments(self) -> list[str]:
        return [f"{self.name}-{component}" for component in COMPONENTS]

    def report(self, conditions: Iterable[Mapping[str, str]], observed: int | None = None) -> Json:
        """A sync: the ClusterManager (made if missing) with these conditions and observedGeneration
        (default: its generation); each hub Deployment applied (made if missing, with no status yet)
        and listed in relatedResources and generations."""
        live = self.hub.get_object(*CLUSTER_MANAGER, self.name) or self.hub.put_object(
            {
                "apiVersion": CLUSTER_MANAGER[0],
                "kind": CLUSTER_MANAGER[1],
                "metadata": {"name": self.name},
                "spec": self.spec,
            }
        )
        applied = [self._apply(name) for name in self.deployments]
        generation = live["metadata"]["generation"]
        live["status"] = {
            "observedGeneration": generation if observed is None else observed,
            "conditions": [dict(c) for c in conditions],
            "relatedResources": [
                _related(
                    "apiextensions.k8s.io",
                    "customresourcedefinitions",
                    "managedclusters.cluster.open-cluster-management.io",
                ),
                _related("", "namespaces", HUB_NAMESPACE),
                *(_related("apps", "deployments", d["metadata"]["name"], HUB_NAMESPACE) for d in applied),
            ],
            "generations": [
                {
                    **_related("apps", "deployments", d["metadata"]["name"], HUB_NAMESPACE),
                    "lastGeneration": d["metadata"]["generation"],
                }
                for d in applied
            ],
        }
        return self.hub.put_object(live)

    def roll_out(self, rollout: Rollout = Rollout.DONE, *names: str) -> None:
        """The deployment controller's report on each named hub Deployment (default: all of them)."""
        for name in names or self.deployments:
            deployment = self._apply(name)
            deployment["status"] = _deployment_status(rollout, deployment["metadata"]["generation"], self.replicas)
            self.hub.put_object(deployment)

    def ready(self) -> Json:
        """A hub the real operator and deployment controller call ready: conditions met, every Deployment rolled out."""
        self.roll_out(Rollout.DONE)
        return self.report(READY)

    def remove(self, name: str) -> None:
        """A listed Deployment gone (someone deleted it; the operator has not applied it again yet)."""
        self.hub.delete_object(*DEPLOYMENT, name, HUB_NAMESPACE)

    def run_operator(self, rollout: Rollout = Rollout.DONE) -> None:
        """The operator's own Deployment (made if missing), as the deployment controller reports it."""
        deployment = self._apply(OPERATOR[1], OPERATOR[0])
        deployment["status"] = _deployment_status(rollout, deployment["metadata"]["generation"], self.replicas)
        self.hub.put_object(deployment)

    def _apply(self, name: str, namespace: str = HUB_NAMESPACE) -> Json:
        if self.hub.get_object("v1", "Namespace", namespace) is None:  # the operator makes it first
            self.hub.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        return self.hub.get_object(*DEPLOYMENT, name, namespace) or self.hub.put_object(
            {
                "apiVersion": DEPLOYMENT[0],
                "kind": DEPLOYMENT[1],
                "metadata": {"name": name, "namespace": namespace, "labels": {CREATED_BY: self.name}},
                "spec": {
                    "replicas": self.replicas,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name}]}},
                },
            }
        )
