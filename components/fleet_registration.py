"""FleetRegistration: every selected vela cluster as a ManagedClusterRegistration, after the hub is ready."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs
from pulumi_kubernetes.rbac.v1 import ClusterRole, PolicyRuleArgs

from providers.discovery import Planned
from providers.klusterlet import bootstrap_role
from providers.managed_cluster import ManagedClusterRegistration


class FleetRegistration(pulumi.ComponentResource):
    """Registrations are deleted (unjoined) when a cluster leaves the config, but survive `pulumi destroy`
    unless teardown is allowed: they are `deletedWith` the retained ClusterManager, so destroying the
    stack skips them while removing one cluster still runs its unjoin. They start once `hub_ready`
    (the hub's readiness resource) is created.

    Joins run alongside the addon installs rather than after them: each join waits (bounded) for its
    addons to become Available anyway, and each extra dependency costs every one of 1,000 resources.
    """

    clusters: dict[str, ManagedClusterRegistration]
    status: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        planned: list[Planned],
        cluster_manager: pulumi.Resource,
        hub_ready: pulumi.Resource,
        allow_teardown: bool,
        hub_kubeconfig: pulumi.Input[str] | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ocm-hub:index:FleetRegistration", name, None, opts)
        role = bootstrap_role()
        bootstrap = ClusterRole(
            f"{name}-bootstrap-role",
            metadata=ObjectMetaArgs(name=role["metadata"]["name"]),
            rules=[
                PolicyRuleArgs(api_groups=rule["apiGroups"], resources=rule["resources"], verbs=rule["verbs"])
                for rule in role["rules"]
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        prefix = name.removesuffix("-registration")
        self.clusters = {}
        for item in planned:
            cluster = item.registration.cluster
            self.clusters[cluster] = ManagedClusterRegistration(
                f"{prefix}-cluster-{cluster}",
                item.registration,
                hub_kubeconfig,
                pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[hub_ready, bootstrap],
                    deleted_with=None if allow_teardown else cluster_manager,
                    import_=cluster if item.adopt else None,
                ),
            )
        self.status = pulumi.Output.all(
            **{cluster: resource.status for cluster, resource in self.clusters.items()}
        ).apply(lambda statuses: dict(statuses) if isinstance(statuses, dict) else {})
        self.register_outputs({"status": self.status})
