"""OcmHub: the root of the tree, and the one place its public outputs are assembled."""

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pulumi

from components.cluster_manager import ClusterManager, cluster_manager_spec
from components.cluster_manager_operator import ClusterManagerOperator
from components.fleet_registration import FleetRegistration
from components.fleet_status import summarize
from components.hub_addons import AddonStatus, HubAddons, statuses
from components.operator_manifests import HUB_NAMESPACE, OPERATOR_NAMESPACE
from config.args import OcmHubArgs
from config.loader import load_args
from config.names import CREDENTIAL_TYPE_LABEL
from config.wire import whole_numbers
from providers import hub_status
from providers.discovery import GATEWAY_APISERVICE, FleetPlan, VelaSecrets, plan_fleet
from providers.hub_readiness import HubReadiness

TYPE = "ocm-hub:index:OcmHub"


class OcmHub(pulumi.ComponentResource):
    """The OCM hub (operator, ClusterManager, addons) on its Kubernetes provider's cluster, with vela's clusters joined."""

    # One line above: it is the package schema's description. Child names start with the component's
    # name, so two hubs in one stack never collide.

    hub_ready: pulumi.Output[bool]
    """True when the ClusterManager reports every ready condition for its current generation."""
    cluster_manager_conditions: pulumi.Output[list[hub_status.Condition]]
    """The ClusterManager's status conditions, sorted by type."""
    not_ready_reasons: pulumi.Output[list[str]]
    """Why the hub is not ready, one line per unmet condition; empty when ready."""
    ocm_version: str
    """The OCM release installed."""
    images: dict[str, str]
    """The image each hub component runs, by component."""
    namespaces: dict[str, str]
    """The operator's and the hub components' namespaces."""
    related_resources: pulumi.Output[list[dict[str, Any]]]
    """What the operator created on the hub (its status.relatedResources)."""
    addons: pulumi.Output[dict[str, AddonStatus]]
    """Each addon: enabled, chart, version, namespace and release status."""
    clusters: pulumi.Output[dict[str, Any]]
    """Each registered cluster: hub acceptance, Joined and Available conditions, its addons."""
    fleet_summary: pulumi.Output[dict[str, Any]]
    """Counts of declared, joined and available clusters and addons."""
    skipped_clusters: dict[str, str]
    """Discovered vela cluster Secrets left out because ocm-hub cannot use them, each with the reason."""

    def __init__(
        self,
        name: str,
        args: OcmHubArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        vela_secrets: VelaSecrets | Sequence[Mapping[str, Any]] | None = None,
        secret_keys: Collection[str] = (),
    ) -> None:
        """`args` are validated like a stack's `ocm-hub:` config (ConfigError names every bad key).
        `vela_secrets`: vela's cluster Secrets as the hub returned them (providers.discovery.fetch_vela_secrets),
        or a program's own list of them (then none is skipped: what is registered is not known); None plans
        only the clusters `registration.clusters` lists. `secret_keys`: the args given as
        secrets (of them, only `addons` may be: its Helm values are then secret inputs)."""
        cfg = load_args({key: value for key, value in args.items() if key != "hub_kubeconfig"})
        listed = None if vela_secrets is None else VelaSecrets.of(vela_secrets)
        fleet = plan_fleet(cfg, listed) if cfg.registration.active else FleetPlan([], {})
        planned = fleet.registrations
        super().__init__(TYPE, name, None, opts)
        for secret, reason in sorted(fleet.skipped.items()):
            pulumi.log.warn(f"registration: skipped {secret} (see output skippedClusters): {reason}", self)
        if listed is not None and listed.gateway_problem is not None:
            pulumi.log.warn(
                f"KubeVela's cluster gateway (APIService {GATEWAY_APISERVICE}) is not Available "
                f"({listed.gateway_problem}): `vela cluster` commands fail until it is; registration goes on from "
                "vela's Secrets",
                self,
            )
        if cfg.registration.discover and listed is not None and not listed.secrets:
            pulumi.log.warn(
                f"registration.discover: found no vela clusters: no Secret in {cfg.registration.secret_namespace} "
                f"carries {CREDENTIAL_TYPE_LABEL} (KubeVela is not installed on this cluster, or no cluster was "
                "joined with `vela cluster join` yet), so no cluster is registered",
                self,
            )
        for item in planned:
            if item.registration.insecure:
                pulumi.log.warn(
                    f"registration: cluster {item.registration.cluster} is registered with allowInsecure: its vela "
                    "secret may have no CA, and then ocm-hub reaches it without verifying its TLS certificate",
                    self,
                )
        if cfg.registration.discover and vela_secrets is None:
            pulumi.log.warn(
                "registration.discover: no vela cluster Secrets were listed (offline render, or a program that "
                "did not pass vela_secrets, as through the component package), so only registration.clusters "
                "are registered",
                self,
            )
        self.operator = ClusterManagerOperator(f"{name}-operator", cfg, pulumi.ResourceOptions(parent=self))
        self.cluster_manager = ClusterManager(
            f"{name}-cluster-manager",
            cfg,
            pulumi.ResourceOptions(
                parent=self,
                depends_on=[self.operator],
                retain_on_delete=not cfg.allow_teardown,
            ),
        )
        if "hub_kubeconfig" not in args and self.get_provider("kubernetes:index:Provider") is not None:
            pulumi.log.warn(
                "OcmHub has its own kubernetes provider but no hub_kubeconfig: the readiness check and the "
                "registrations reach the hub through the stack's kubernetes:kubeconfig/kubernetes:context "
                "(else KUBECONFIG); pass that provider's kubeconfig as hub_kubeconfig",
                self,
            )
        # The hub is awaited by ocm-hub itself (providers/hub_readiness.py), so a timeout names the unmet
        # conditions; everything that needs a ready hub depends on this, not on the ClusterManager.
        self.readiness = HubReadiness(
            f"{name}-readiness",
            self.cluster_manager.metadata.apply(lambda metadata: str(metadata["name"])),
            cluster_manager_spec(cfg),
            cfg.readiness_timeout,
            args.get("hub_kubeconfig"),
            pulumi.ResourceOptions(parent=self, depends_on=[self.cluster_manager]),
            operator=self.operator.rendered_deployment,
        )
        releases = cfg.addon_releases()
        self.hub_addons = (
            HubAddons(
                f"{name}-addons",
                releases,
                self.readiness,
                pulumi.ResourceOptions(parent=self),
                secret_values="addons" in secret_keys,
                hub_kubeconfig=args.get("hub_kubeconfig"),
            )
            if releases
            else None
        )
        self.addons = self.hub_addons.status if self.hub_addons else pulumi.Output.from_input(statuses([], {}))
        self.registration = (
            FleetRegistration(
                f"{name}-registration",
                planned,
                self.cluster_manager,
                self.readiness,
                cfg.allow_teardown,
                args.get("hub_kubeconfig"),
                pulumi.ResourceOptions(parent=self),
            )
            if planned
            else None
        )
        self.clusters = self.registration.status if self.registration else pulumi.Output.from_input({})
        addon_count = len(releases)
        self.fleet_summary = self.clusters.apply(lambda clusters: summarize(clusters, len(planned), addon_count))
        live = pulumi.Output.all(self.readiness.metadata, self.readiness.status)
        self.not_ready_reasons = live.apply(
            lambda v: hub_status.not_ready_reasons(whole_numbers({"metadata": v[0], "status": v[1]}))
        )
        self.hub_ready = self.not_ready_reasons.apply(lambda reasons: not reasons)
        self.cluster_manager_conditions = self.readiness.status.apply(hub_status.conditions)
        self.related_resources = self.readiness.status.apply(
            lambda status: list((status or {}).get("relatedResources") or [])
        )
        self.ocm_version = cfg.ocm_version
        self.images = cfg.all_images()
        self.namespaces = {"operator": OPERATOR_NAMESPACE, "hub": HUB_NAMESPACE}
        self.skipped_clusters = fleet.skipped
        self.register_outputs(self.outputs())

    def outputs(self) -> dict[str, Any]:
        """Stack exports, by name: the facts `kubectl get clustermanager cluster-manager -o yaml` shows.
        The same names as the component package's outputs (camelCase of the attributes above)."""
        return {
            "hubReady": self.hub_ready,
            "clusterManagerConditions": self.cluster_manager_conditions,
            "notReadyReasons": self.not_ready_reasons,
            "ocmVersion": self.ocm_version,
            "images": self.images,
            "namespaces": self.namespaces,
            "relatedResources": self.related_resources,
            "addons": self.addons,
            "clusters": self.clusters,
            "fleetSummary": self.fleet_summary,
            "skippedClusters": self.skipped_clusters,
        }
