"""HubAddons: the optional OCM addons as Helm releases, installed once the hub is ready."""

from typing import Any, TypedDict

import pulumi
from pulumi_kubernetes.core.v1 import Namespace
from pulumi_kubernetes.helm.v3 import Release, RepositoryOptsArgs
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs

from config.addons import ADDON_NAMESPACE, CHARTS
from config.addons import Release as ReleaseSpec
from providers.vela_apiservice import VelaApiService


class AddonStatus(TypedDict):
    """One addon's Helm release on the hub."""

    enabled: bool
    """Whether the stack installs it."""
    chart: str
    """Chart name, also the release name."""
    version: str
    """Chart version installed."""
    namespace: str
    """Namespace of the release."""
    status: str
    """Helm's release status (deployed, failed, ...), or disabled."""


class HubAddons(pulumi.ComponentResource):
    """One Helm release per enabled addon (so `helm list` shows them) in one shared namespace.

    Releases depend on the awaited ClusterManager: their ClusterManagementAddOns, Placements and
    ManagedClusterSetBindings need the hub CRDs the operator installs. An addon that others need
    (cluster-proxy, managed-serviceaccount for the gateway) is installed before them. Beside the
    gateway's release, `vela_apiservice` gives KubeVela's APIService back when that release goes
    (providers/vela_apiservice.py says why).
    """

    namespace: Namespace
    releases: dict[str, Release]
    vela_apiservice: VelaApiService | None
    status: pulumi.Output[dict[str, AddonStatus]]

    def __init__(
        self,
        name: str,
        specs: list[ReleaseSpec],
        hub_ready: pulumi.Resource,
        opts: pulumi.ResourceOptions | None = None,
        *,
        secret_values: bool = False,
        hub_kubeconfig: pulumi.Input[str] | None = None,
    ) -> None:
        """`secret_values`: the stack gave some values as secrets; Pulumi marks secrets per input, so
        each release's whole `values` is then secret (in state, previews and renders). `hub_kubeconfig`:
        a composing program's own hub, for the APIService hand-back (else the stack's)."""
        super().__init__("ocm-hub:index:HubAddons", name, None, opts)
        self.namespace = Namespace(
            f"{name}-namespace", metadata=ObjectMetaArgs(name=ADDON_NAMESPACE), opts=pulumi.ResourceOptions(parent=self)
        )
        self.releases = {}
        for spec in specs:
            needs = [self.releases[key] for key in CHARTS[spec.key].requires if key in self.releases]
            self.releases[spec.key] = Release(
                f"{name}-{spec.chart}",
                name=spec.chart,
                chart=spec.chart,
                version=spec.version,
                repository_opts=RepositoryOptsArgs(repo=spec.repository),
                namespace=self.namespace.metadata.name,
                values=pulumi.Output.secret(dict(spec.values)) if secret_values else dict(spec.values),
                timeout=spec.timeout_seconds,
                create_namespace=False,
                atomic=False,
                cleanup_on_fail=True,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[hub_ready, *needs]),
            )
        gateway = self.releases.get("clusterGateway")
        self.vela_apiservice = (
            VelaApiService(
                f"{name}-vela-apiservice",
                ADDON_NAMESPACE,
                hub_kubeconfig,
                pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
            )
            if gateway is not None
            else None
        )
        self.status = pulumi.Output.all(**{key: release.status for key, release in self.releases.items()}).apply(
            lambda live: statuses(specs, live)
        )
        self.register_outputs({"status": self.status})


def statuses(specs: list[ReleaseSpec], live: dict[str, Any]) -> dict[str, AddonStatus]:
    """Every addon, enabled or not, with the release status Helm reports for the enabled ones."""
    by_key = {spec.key: spec for spec in specs}
    result: dict[str, AddonStatus] = {}
    for key, chart in CHARTS.items():
        spec = by_key.get(key)
        release_status = live.get(key)
        result[key] = AddonStatus(
            enabled=spec is not None,
            chart=chart.chart,
            version=spec.version if spec else "",
            namespace=ADDON_NAMESPACE if spec else "",
            status=_helm_status(release_status) if spec else "disabled",
        )
    return result


def _helm_status(release_status: Any) -> str:
    if release_status is None:
        return "unknown"
    value = getattr(release_status, "status", None)
    if value is None and isinstance(release_status, dict):
        value = release_status.get("status")
    return str(value or "unknown")
