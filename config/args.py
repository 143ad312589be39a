"""`OcmHubArgs`: the stack configuration as typed component arguments, for programs that compose OcmHub.

One TypedDict per pydantic model, with the model's name and field names (tests/test_package.py fails
on any drift), so a Python caller gets type checking and the Pulumi schema analyzer can infer the
component package's schema from these classes, descriptions included (the string after each key).
The pydantic models stay the single validator: OcmHub validates these arguments exactly as
`pulumi up` validates a stack file, with the same messages. Keys are snake_case here and camelCase
in the schema and in Pulumi.<stack>.yaml. Values the models accept in two forms (a number of seconds
or a duration such as "10m") are typed Any, since the schema has no unions.
"""

from typing import Any, TypedDict

import pulumi


class ImageOverrides(TypedDict, total=False):
    """Whole image references that replace the computed ones, per component."""

    registration_operator: str
    """Image of the registration-operator (cluster-manager) Deployment."""
    registration: str
    """Image of the hub registration controller and webhook."""
    work: str
    """Image of the hub work webhook and controller."""
    placement: str
    """Image of the placement controller."""
    add_on_manager: str
    """Image of the addon-manager controller."""


class ImagesConfig(TypedDict, total=False):
    """Where the OCM images come from."""

    registry: str
    """Registry (and path) of the OCM images; default quay.io/open-cluster-management."""
    tag: str
    """Tag of every OCM image; defaults to the OCM version."""
    pull_policy: str
    """imagePullPolicy: Always, IfNotPresent (default) or Never."""
    overrides: ImageOverrides
    """Per-component image references, used as given."""


class ResourceRequirements(TypedDict, total=False):
    """Container resource requests and limits (cpu, memory, ephemeral-storage), as quantities."""

    requests: dict[str, str]
    """Requested resources, e.g. {"cpu": "2m", "memory": "16Mi"}."""
    limits: dict[str, str]
    """Resource limits, same keys as requests."""


class Toleration(TypedDict, total=False):
    """A Kubernetes toleration."""

    key: str
    """Taint key the toleration matches; empty with operator Exists matches every taint."""
    operator: str
    """Exists or Equal (default)."""
    value: str
    """Taint value to match, with operator Equal."""
    effect: str
    """NoSchedule, PreferNoSchedule or NoExecute; empty matches every effect."""
    toleration_seconds: int
    """How long a NoExecute taint is tolerated."""


class OperatorConfig(TypedDict, total=False):
    """The registration-operator Deployment in open-cluster-management."""

    replicas: int
    """Operator replicas, 1 to 10; default 3 (leader-elected)."""
    resources: ResourceRequirements
    """Operator container resources; default requests cpu 2m, memory 16Mi."""
    node_selector: dict[str, str]
    """Node labels the operator pods must match."""
    tolerations: list[Toleration]
    """Taints the operator pods tolerate."""
    enable_sync_labels: bool
    """Let the operator copy its labels onto the resources it creates."""


class HubRegistrationConfig(TypedDict, total=False):
    """Hub registration settings of the ClusterManager."""

    feature_gates: dict[str, str]
    """Registration feature gates of the chosen OCM release: gate name -> Enable or Disable."""
    auto_approve_users: list[str]
    """Users whose cluster CSRs are approved automatically; needs the ManagedClusterAutoApproval gate."""


class GatesConfig(TypedDict, total=False):
    """Feature gates of one hub component."""

    feature_gates: dict[str, str]
    """Feature gates of the chosen OCM release: gate name -> Enable or Disable."""


class NodePlacement(TypedDict, total=False):
    """Where the hub components run."""

    node_selector: dict[str, str]
    """Node labels the hub component pods must match."""
    tolerations: list[Toleration]
    """Taints the hub component pods tolerate."""


class HubResourceRequirement(TypedDict, total=False):
    """Resources of the hub component containers."""

    type: str
    """Default, BestEffort or ResourceRequirement (then resourceRequirements applies)."""
    resource_requirements: ResourceRequirements
    """Requests and limits, with type ResourceRequirement."""


class ClusterManagerConfig(TypedDict, total=False):
    """The ClusterManager custom resource the operator reconciles into the hub."""

    deploy_mode: str
    """Default (hub components on this cluster) or Hosted."""
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
    """Install this addon; default false."""
    version: str
    """Chart version; defaults to the version ocm-hub ships facts for."""
    repository: str
    """Helm repository URL; defaults to addons.repository."""
    values: dict[str, Any]
    """Chart values, merged over ocm-hub's defaults; top-level keys must exist in the chart."""
    timeout: Any
    """Seconds (or a duration such as "10m") the release may take; default 600."""


class AddonsConfig(TypedDict, total=False):
    """The addon Helm releases installed once the hub is ready."""

    repository: str
    """Helm repository URL of the OCM charts; default https://open-cluster-management.io/helm-charts."""
    cluster_proxy: AddonConfig
    """The cluster-proxy addon."""
    managed_service_account: AddonConfig
    """The managed-serviceaccount addon."""
    cluster_gateway: AddonConfig
    """KubeVela's cluster-gateway addon manager (needs clusterProxy and managedServiceAccount)."""


class ClusterDefaults(TypedDict, total=False):
    """Settings of every registered cluster that its entry does not override."""

    labels: dict[str, str]
    """Labels set on every ManagedCluster."""
    cluster_set: str
    """ManagedClusterSet of every ManagedCluster; default "default"."""
    mode: str
    """Klusterlet mode: Default (agents on the managed cluster) or Hosted."""


class ClusterEntry(TypedDict, total=False):
    """One vela cluster, by its secret name, with optional per-cluster settings."""

    name: str
    """Name of the vela cluster Secret (required)."""
    managed_cluster_name: str
    """ManagedCluster name; defaults to the secret name."""
    labels: dict[str, str]
    """Labels of this ManagedCluster, over the defaults."""
    cluster_set: str
    """ManagedClusterSet of this cluster, over the default."""
    mode: str
    """Klusterlet mode of this cluster, over the default."""
    import_: bool
    """Adopt a ManagedCluster ocm-hub registered before (state lost): read it instead of creating it."""
    allow_insecure: bool
    """Register this cluster although its vela Secret has no CA (vela's insecure cluster); warned and flagged."""


class RegistrationConfig(TypedDict, total=False):
    """Which of vela's clusters become OCM ManagedClusters, and how."""

    discover: bool
    """Register every vela cluster Secret found on the hub (filtered by include, exclude, selector)."""
    secret_namespace: str
    """Namespace of vela's cluster Secrets; default vela-system."""
    include: list[str]
    """Discovered secret names (globs) to keep; all if empty."""
    exclude: list[str]
    """Secret names (globs) never registered."""
    selector: str
    """Label selector the discovered Secrets must match, e.g. "env in (prod,staging)"."""
    clusters: list[ClusterEntry]
    """Clusters registered even without discover, and per-cluster overrides."""
    defaults: ClusterDefaults
    """Settings of every cluster its entry does not override."""
    hub_api_server: str
    """Hub API URL the agents dial; defaults to the hub kubeconfig's server."""
    join_timeout: Any
    """Seconds (or a duration) a join may take until Joined and Available; default 900."""
    wait_for_addons: bool
    """Wait until each enabled addon is Available on each cluster a run registers; default true."""
    strict: bool
    """Stop the run on any unusable discovered Secret instead of skipping it; default false."""
    addon_timeout: Any
    """Seconds (or a duration) to wait for a cluster's addons; default 600."""


class OcmHubArgs(TypedDict, total=False):
    """Arguments of the OcmHub component: a stack's `ocm-hub:` config, plus how registration reaches the hub."""

    # Not derived from a base TypedDict: the schema analyzer reads descriptions from the class's own source.

    ocm_version: str
    """OCM release to install; default v1.3.1."""
    images: ImagesConfig
    """Image registry, tag, pull policy and per-component overrides."""
    image_pull_secrets: list[str]
    """Secrets in the operator namespace used to pull the images."""
    operator: OperatorConfig
    """The registration-operator Deployment."""
    cluster_manager: ClusterManagerConfig
    """The ClusterManager custom resource."""
    addons: AddonsConfig
    """Addon Helm releases on the hub."""
    registration: RegistrationConfig
    """Vela clusters registered as ManagedClusters."""
    readiness_timeout: Any
    """Seconds (or a duration) to wait for the ClusterManager's ready conditions; default 600."""
    allow_teardown: bool
    """When false (default) the ClusterManager CRD and CR and the registrations survive `pulumi destroy`."""
    hub_kubeconfig: pulumi.Input[str]
    """Hub kubeconfig (contents, kept secret) for registration; default: the stack's kubernetes: config."""
