"""OcmHub: the root of the tree, and the one place its public outputs are assembled."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

from components import hub_status
from components.cluster_manager import ClusterManager
from components.fleet_registration import FleetRegistration
from components.fleet_status import summarize
from components.hub_addons import AddonStatus, HubAddons, statuses
from components.operator_manifests import HUB_NAMESPACE, OPERATOR_NAMESPACE
from components.registration_operator import RegistrationOperator
from config import StackConfig
from providers.discovery import plan

TYPE = "ocm-hub:index:OcmHub"


class OcmHub(pulumi.ComponentResource):
    """The OCM hub control plane on the cluster of the (explicit or default) Kubernetes provider.

    Pass `opts=ResourceOptions(providers={"kubernetes": p})` (or `provider=p`) to target another
    cluster; every child inherits it. Child names start with this component's name, so two hubs
    in one stack never collide.
    """

    operator: RegistrationOperator
    cluster_manager: ClusterManager
    addons: HubAddons | None
    registration: FleetRegistration | None
    clusters: pulumi.Output[dict[str, Any]]
    summary: pulumi.Output[dict[str, Any]]
    addon_status: pulumi.Output[dict[str, AddonStatus]]
    ready: pulumi.Output[bool]
    conditions: pulumi.Output[list[hub_status.Condition]]
    not_ready_reasons: pulumi.Output[list[str]]
    related_resources: pulumi.Output[list[dict[str, Any]]]
    ocm_version: str
    images: dict[str, str]
    namespaces: dict[str, str]

    def __init__(
        self,
        name: str,
        cfg: StackConfig,
        opts: pulumi.ResourceOptions | None = None,
        vela_secrets: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """`vela_secrets`: vela's cluster Secrets as the hub returned them (see
        providers.discovery.fetch_vela_secrets); None plans only the clusters the config lists."""
        planned = plan(cfg, vela_secrets) if cfg.registration.active else []
        super().__init__(TYPE, name, None, opts)
        self.operator = RegistrationOperator(f"{name}-operator", cfg, pulumi.ResourceOptions(parent=self))
        self.cluster_manager = ClusterManager(
            f"{name}-cluster-manager",
            cfg,
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.operator],
                retain_on_delete=not cfg.allow_teardown,
            ),
        )
        releases = cfg.addon_releases()
        self.addons = (
            HubAddons(f"{name}-addons", releases, self.cluster_manager, pulumi.ResourceOptions(parent=self))
            if releases
            else None
        )
        self.addon_status = self.addons.status if self.addons else pulumi.Output.from_input(statuses([], {}))
        self.registration = (
            FleetRegistration(
                f"{name}-registration",
                planned,
                self.cluster_manager,
                cfg.allow_teardown,
                pulumi.ResourceOptions(parent=self),
            )
            if planned
            else None
        )
        self.clusters = self.registration.status if self.registration else pulumi.Output.from_input({})
        addon_count = len(cfg.addon_releases())
        self.summary = self.clusters.apply(lambda clusters: summarize(clusters, len(planned), addon_count))
        live = pulumi.Output.all(self.cluster_manager.metadata, self.cluster_manager.status)
        self.not_ready_reasons = live.apply(lambda v: hub_status.not_ready_reasons({"metadata": v[0], "status": v[1]}))
        self.ready = self.not_ready_reasons.apply(lambda reasons: not reasons)
        self.conditions = self.cluster_manager.status.apply(hub_status.conditions)
        self.related_resources = self.cluster_manager.status.apply(
            lambda status: list((status or {}).get("relatedResources") or [])
        )
        self.ocm_version = cfg.ocm_version
        self.images = cfg.all_images()
        self.namespaces = {"operator": OPERATOR_NAMESPACE, "hub": HUB_NAMESPACE}
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, Any]:
        """Stack exports, by name: the facts `kubectl get clustermanager cluster-manager -o yaml` shows."""
        return {
            "hubReady": self.ready,
            "clusterManagerConditions": self.conditions,
            "notReadyReasons": self.not_ready_reasons,
            "ocmVersion": self.ocm_version,
            "images": self.images,
            "namespaces": self.namespaces,
            "relatedResources": self.related_resources,
            "addons": self.addon_status,
            "clusters": self.clusters,
            "fleetSummary": self.summary,
        }
