"""`OcmHubArgs`: the stack configuration as typed component arguments, for programs that compose OcmHub.

Written by `python -m config.derive` from the pydantic models (config/model.py, addons.py, registration.py,
stack.py): edit those, not this file. One TypedDict per model, with its name, field names and descriptions, so a
Python caller gets type checking and the Pulumi schema analyzer infers the component package's schema from these
classes (the string after each key is its description). The models stay the single validator: OcmHub validates
these arguments exactly as `pulumi up` validates a stack file. Keys are snake_case here and camelCase in the
schema and in Pulumi.<stack>.yaml. Durations (a number of seconds or a string such as "10m") are typed Any, since
the schema has no unions.
"""

from typing import Any, TypedDict

import pulumi


class ImageOverrides(TypedDict, total=False):
    """Whole image references that replace the computed ones, per component."""

    registration_operator: str
    """Image of the cluster-manager operator Deployment (upstream's registration-operator image), with a tag or digest."""
    registration: str
    """Image of the hub registration controller and webhook, with a tag or digest."""
    work: str
    """Image of the hub work webhook and controller, with a tag or digest."""
    placement: str
    """Image of the placement controller, with a tag or digest."""
    add_on_manager: str
    """Image of the addon-manager controller, with a tag or digest."""


class ImagesConfig(TypedDict, total=False):
    """Where the OCM images come from."""

    registry: str
    """Registry (and path) of every OCM image, e.g. a mirror; no tag and no trailing `/`. Default: `quay.io/open-cluster-management`."""
    tag: str
    """Tag of every OCM image; defaults to `ocmVersion`."""
    pull_policy: str
    """imagePullPolicy of the operator Deployment: Always, IfNotPresent or Never. Default: `IfNotPresent`."""
    overrides: ImageOverrides
    """Per-component image references, used as given."""


class ResourceRequirements(TypedDict, total=False):
    """Container requests and limits (cpu, memory, ephemeral-storage) as Kubernetes quantities, numbers included."""

    requests: dict[str, str]
    """Requested resources, e.g. {cpu: 2m, memory: 16Mi}; a request above its limit is an error."""
    limits: dict[str, str]
    """Resource limits, same keys as requests."""


class Toleration(TypedDict, total=False):
    """A Kubernetes toleration."""

    key: str
    """Taint key the toleration matches: required with operator Equal; empty with Exists matches every taint."""
    operator: str
    """Exists or Equal. Default: `Equal`."""
    value: str
    """Taint value to match with operator Equal; empty with Exists."""
    effect: str
    """NoSchedule, PreferNoSchedule or NoExecute; empty matches every effect."""
    toleration_seconds: int
    """How long a NoExecute taint is tolerated; only with effect NoExecute."""


class OperatorConfig(TypedDict, total=False):
    """The cluster-manager operator Deployment in open-cluster-management."""

    replicas: int
    """Operator replicas, 1 to 10, leader-elected (as many as the upstream chart runs by default). Default: `3`."""
    resources: ResourceRequirements
    """Operator container requests and limits (cpu, memory, ephemeral-storage); a request above its limit is an error. Default: `{requests: {cpu: 2m, memory: 16Mi}}`."""
    node_selector: dict[str, str]
    """Node labels the operator pods must match."""
    tolerations: list[Toleration]
    """Taints the operator pods tolerate."""
    enable_sync_labels: bool
    """Let the operator copy its labels onto the resources it creates (`--enable-sync-labels`). Default: `false`."""


class HubRegistrationConfig(TypedDict, total=False):
    """Hub registration settings of the ClusterManager."""

    feature_gates: dict[str, str]
    """Registration feature gates, gate name: Enable or Disable; a name `ocmVersion` does not know is an error that lists the known ones."""
    auto_approve_users: list[str]
    """Users whose cluster CSRs are approved automatically; only with the ManagedClusterAutoApproval gate enabled, which accepts every cluster that asks (enable it on purpose only)."""


class GatesConfig(TypedDict, total=False):
    """Feature gates of one hub component."""

    feature_gates: dict[str, str]
    """Feature gates of that component, gate name: Enable or Disable; a name `ocmVersion` does not know is an error that lists the known ones."""


class NodePlacement(TypedDict, total=False):
    """Where the hub components run."""

    node_selector: dict[str, str]
    """Node labels the hub controller pods must match."""
    tolerations: list[Toleration]
    """Taints the hub controller pods tolerate."""


class HubResourceRequirement(TypedDict, total=False):
    """Resources of the hub component containers."""

    type: str
    """Default, BestEffort or ResourceRequirement (then resourceRequirements is required). Default: `Default`."""
    resource_requirements: ResourceRequirements
    """Requests and limits of the hub containers; only with type ResourceRequirement."""


class ClusterManagerConfig(TypedDict, total=False):
    """The ClusterManager custom resource the operator reconciles into the hub."""

    deploy_mode: str
    """Default only: Hosted runs the hub controllers on a separate management cluster with an external hub kubeconfig, which this program does not manage, so it is an error. Default: `Default`."""
    registration: HubRegistrationConfig
    """Registration controller settings."""
    work: GatesConfig
    """Work controller feature gates."""
    add_on_manager: GatesConfig
    """Addon-manager feature gates."""
    placement: GatesConfig
    """Placement controller feature gates."""
    node_placement: NodePlacement
    """Node selector and tolerations of the hub components."""
    resource_requirement: HubResourceRequirement
    """Resources of the hub components."""


class AddonConfig(TypedDict, total=False):
    """One addon's Helm release on the hub."""

    enabled: bool
    """Install this addon; clusterGateway needs clusterProxy and managedServiceAccount enabled too. Default: `false`."""
    version: str
    """Chart version; defaults to the one ocm-hub ships facts for (`config/charts/`): clusterProxy 0.11.0, managedServiceAccount 0.10.0, clusterGateway 1.4.0."""
    repository: str
    """Helm repository of this addon; defaults to addons.repository."""
    values: dict[str, Any]
    """Helm values over ocm-hub's defaults; top-level keys must exist in the chart's values.yaml (or be a subchart or `global`). The only values that may be `secure:`."""
    timeout: Any
    """Helm release timeout: a duration such as 10m, or seconds; 30s to 6h. Default: `10m`."""


class AddonsConfig(TypedDict, total=False):
    """The addon Helm releases, installed once the hub is ready."""

    repository: str
    """Helm repository of every addon: https:// or oci:// (plain http:// only on the loopback), with a host, no query or fragment, and no `user:password@` (refused without showing it). Default: `https://open-cluster-management.io/helm-charts`."""
    cluster_proxy: AddonConfig
    """The cluster-proxy addon."""
    managed_service_account: AddonConfig
    """The managed-serviceaccount addon."""
    cluster_gateway: AddonConfig
    """KubeVela's cluster-gateway addon manager (needs clusterProxy and managedServiceAccount)."""


class ClusterEntry(TypedDict, total=False):
    """One vela cluster, by its secret name, with optional per-cluster settings."""

    name: str
    """Name of the vela cluster Secret (required)."""
    managed_cluster_name: str
    """ManagedCluster name; defaults to the secret name, which must then be a DNS-1123 label."""
    labels: dict[str, str]
    """Labels of this ManagedCluster, over the defaults."""
    cluster_set: str
    """ManagedClusterSet of this cluster, over the default."""
    mode: str
    """Klusterlet mode of this cluster, over the default."""
    import_: bool
    """Adopt a ManagedCluster ocm-hub registered before (state lost): read it instead of creating it. Default: `false`."""
    allow_insecure: bool
    """Register this cluster although its vela Secret has no CA (vela's insecure cluster): TLS is not verified, and every preview warns. Default: `false`."""


class ClusterDefaults(TypedDict, total=False):
    """Settings of every registered cluster that its entry does not override."""

    labels: dict[str, str]
    """Labels set on every ManagedCluster."""
    cluster_set: str
    """ManagedClusterSet of every ManagedCluster; created unless it is default or global. Default: `default`."""
    mode: str
    """Klusterlet mode: Default (agents on the managed cluster) or Hosted (agents on the hub). Default: `Default`."""


class RegistrationConfig(TypedDict, total=False):
    """Which of vela's clusters become OCM ManagedClusters, and how."""

    discover: bool
    """Register every vela cluster Secret found on the hub, filtered by include, exclude and selector. Default: `false`."""
    secret_namespace: str
    """Namespace of vela's cluster Secrets. Default: `vela-system`."""
    include: list[str]
    """Discovered secret names (globs) to keep; all if empty."""
    exclude: list[str]
    """Discovered secret names (globs) never registered."""
    selector: str
    """Label selector the discovered Secrets must match, parsed as the API server parses one: `a=b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>3`."""
    clusters: list[ClusterEntry]
    """Clusters registered even without discover, and per-cluster overrides."""
    defaults: ClusterDefaults
    """Settings of every cluster its entry does not override."""
    hub_api_server: str
    """https URL of the hub API the agents dial (a host, no query or fragment, no `user:password@`: refused without showing it); defaults to the hub kubeconfig's server. A change updates each registration: its agents get a new bootstrap kubeconfig, bootstrap again, and the update waits (joinTimeout) until they dial the new URL."""
    join_timeout: Any
    """Bound on each join and unjoin wait: a duration such as 15m, or seconds; 30s to 6h. A setting: changing it updates no registration (each uses it from its next create or update). Default: `15m`."""
    wait_for_addons: bool
    """Wait until each enabled addon is Available on each cluster a run registers. A setting, as joinTimeout. Default: `true`."""
    addon_timeout: Any
    """Bound on the wait for a cluster's addons: a duration such as 10m, or seconds; 30s to 6h. A setting, as joinTimeout. Default: `10m`."""
    strict: bool
    """Stop the run on any unusable discovered Secret instead of skipping it (all or nothing). Default: `false`."""
    max_concurrent_joins: int
    """How many registrations join or unjoin at once, 1 to 256 (the engine's `--parallel`, 4 per core by default, bounds them too: set it or PULUMI_PARALLEL as high); calls to the hub share one rate limit whatever this is. A setting, as joinTimeout. Default: `32`."""


class OcmHubArgs(TypedDict, total=False):
    """Arguments of the OcmHub component: a stack's `ocm-hub:` config, plus how registration reaches the hub."""

    ocm_version: str
    """OCM release, v1.2.1 or v1.3.1; selects the version bundle (`config/releases/`): image tags, known feature gates, every upstream object and the klusterlet of every registration. Default: `v1.3.1`."""
    images: ImagesConfig
    """Image registry, tag, pull policy and per-component overrides."""
    image_pull_secrets: list[str]
    """More Secrets in the operator namespace to pull the images with; upstream's open-cluster-management-image-pull-credentials is always listed."""
    operator: OperatorConfig
    """The cluster-manager operator Deployment."""
    cluster_manager: ClusterManagerConfig
    """The ClusterManager custom resource."""
    addons: AddonsConfig
    """Addon Helm releases on the hub."""
    registration: RegistrationConfig
    """Vela clusters registered as ManagedClusters."""
    readiness_timeout: Any
    """Bound on the operator's rollout and on the wait until the hub is ready: a duration such as 90s, 10m or 1h30m, or seconds; 30s to 6h. Default: `10m`."""
    allow_teardown: bool
    """Let `pulumi destroy` remove the hub. When false, the ClusterManager CRD and CR and the registrations survive it and the operator never removes the hub CRDs, so the fleet cannot be wiped by accident. Default: `false`."""
    hub_kubeconfig: pulumi.Input[str]
    """Hub kubeconfig (contents, kept secret) for registration; default: the stack's kubernetes: config."""
