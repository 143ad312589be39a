"""Stack configuration for ocm-hub, as pydantic models.

Keys are camelCase in Pulumi.<stack>.yaml (Kubernetes style) and snake_case in Python.
Unknown keys are errors so a typo can never pass silently. Rules that need more than one
field (feature gates known to the chosen release, auto-approval users needing their gate)
live in `checks.py` so that every message can name the exact key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt
from pydantic.alias_generators import to_camel

from config.quantity import parse_quantity
from config.selector import qualified_name_problem
from config.versions import DEFAULT_REGISTRY

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Docker reference grammar: an optional registry host (with a dot or port, or localhost), then
# lowercase path components; the tag or digest is what pins the image.
_DOMAIN = r"(?:(?:[a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+(?::[0-9]+)?|localhost(?::[0-9]+)?|[a-zA-Z0-9-]+:[0-9]+)"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"
_IMAGE_REF = re.compile(rf"^(?:{_DOMAIN}/)?{_PATH}(?::{_TAG}(?:@{_DIGEST})?|@{_DIGEST})$")
_REGISTRY = re.compile(rf"^(?:{_DOMAIN}(?:/{_PATH})?|{_PATH})$")
_TAG_ONLY = re.compile(rf"^{_TAG}$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise ValueError("must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253)")
    return value


def _image_ref(value: str) -> str:
    if not _IMAGE_REF.match(value):
        raise ValueError(
            "must be a full image reference with an explicit tag or digest, "
            "e.g. registry.example.com/ocm/registration:v1.3.1 (an untagged image pulls :latest)"
        )
    return value


def _registry(value: str) -> str:
    if value.endswith("/") or not _REGISTRY.match(value):
        raise ValueError(
            "must be a registry host with an optional path and no tag or trailing '/', "
            "e.g. quay.io/open-cluster-management or mirror.example.com:5000/ocm"
        )
    return value


def _tag(value: str) -> str:
    if not _TAG_ONLY.match(value):
        raise ValueError("must be an image tag (letters, digits, '_', '.', '-'; at most 128)")
    return value


def _quantity(value: str) -> str:
    parse_quantity(value)
    return value


def _number_as_quantity(value: object) -> object:
    """Kubernetes takes `cpu: 1` and `cpu: 0.5` as quantities; a YAML boolean is no number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _label_key(value: str) -> str:
    problem = qualified_name_problem(value)
    if problem:
        raise ValueError(f"must be a Kubernetes label key ([prefix/]name): {problem}")
    return value


def _label_value(value: str) -> str:
    if not _LABEL_VALUE.match(value):
        raise ValueError("must be a Kubernetes label value (at most 63 alphanumerics, '-', '_', '.')")
    return value


_DURATION_HINT = "must be a duration such as 90s, 10m or 1h30m, or a whole number of seconds"


def _duration_seconds(value: object) -> int:
    """Accepts Go-style durations ("10m", "1h30m", "90s") or whole seconds; one message for anything else
    (an `int | str` union would report one error per member)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif not isinstance(value, str):
        raise ValueError(_DURATION_HINT)
    elif value.strip().isdigit():
        seconds = int(value)
    else:
        match = _DURATION.match(value.strip())
        if not value.strip() or not match:
            raise ValueError(_DURATION_HINT)
        hours, minutes, secs = (int(g) if g else 0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if not 30 <= seconds <= 6 * 3600:
        raise ValueError("must be between 30s and 6h")
    return seconds


DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
ImageRef = Annotated[str, AfterValidator(_image_ref)]
Registry = Annotated[str, AfterValidator(_registry)]
ImageTag = Annotated[str, AfterValidator(_tag)]
Quantity = Annotated[str, BeforeValidator(_number_as_quantity), AfterValidator(_quantity)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]
Seconds = Annotated[int, BeforeValidator(_duration_seconds)]
# Switches and counts take YAML booleans and integers only: `'yes'` must not turn teardown on.
Switch = StrictBool
Count = StrictInt
GateMode = Literal["Enable", "Disable"]
ResourceName = Literal["cpu", "memory", "ephemeral-storage"]


class Model(BaseModel):
    """Strict base: camelCase keys, unknown keys rejected, frozen once validated.

    Each field's description is the docstring under it (`use_attribute_docstrings`): the one place a key is
    described, from which `python -m config.derive` writes config/args.py and the README's tables.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=False,
        use_attribute_docstrings=True,
    )


class ImageOverrides(Model):
    """Whole image references that replace the computed ones, per component."""

    registration_operator: ImageRef | None = None
    """Image of the cluster-manager operator Deployment (upstream's registration-operator image), with a tag or
    digest."""
    registration: ImageRef | None = None
    """Image of the hub registration controller and webhook, with a tag or digest."""
    work: ImageRef | None = None
    """Image of the hub work webhook and controller, with a tag or digest."""
    placement: ImageRef | None = None
    """Image of the placement controller, with a tag or digest."""
    add_on_manager: ImageRef | None = None
    """Image of the addon-manager controller, with a tag or digest."""


class ImagesConfig(Model):
    """Where the OCM images come from."""

    registry: Registry = DEFAULT_REGISTRY
    """Registry (and path) of every OCM image, e.g. a mirror; no tag and no trailing `/`."""
    tag: ImageTag | None = None
    """Tag of every OCM image; defaults to `ocmVersion`."""
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    """imagePullPolicy of the operator Deployment: Always, IfNotPresent or Never."""
    overrides: ImageOverrides = ImageOverrides()
    """Per-component image references, used as given."""


class ResourceRequirements(Model):
    """Container requests and limits (cpu, memory, ephemeral-storage) as Kubernetes quantities, numbers included."""

    requests: dict[ResourceName, Quantity] = {}
    """Requested resources, e.g. {cpu: 2m, memory: 16Mi}; a request above its limit is an error."""
    limits: dict[ResourceName, Quantity] = {}
    """Resource limits, same keys as requests."""


class Toleration(Model):
    """A Kubernetes toleration."""

    key: LabelKey | None = None
    """Taint key the toleration matches: required with operator Equal; empty with Exists matches every taint."""
    operator: Literal["Exists", "Equal"] = "Equal"
    """Exists or Equal."""
    value: LabelValue | None = None
    """Taint value to match with operator Equal; empty with Exists."""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """NoSchedule, PreferNoSchedule or NoExecute; empty matches every effect."""
    toleration_seconds: Annotated[Count, Field(ge=0)] | None = None
    """How long a NoExecute taint is tolerated; only with effect NoExecute."""


class OperatorConfig(Model):
    """The cluster-manager operator Deployment in open-cluster-management."""

    replicas: Annotated[Count, Field(ge=1, le=10)] = 3
    """Operator replicas, 1 to 10, leader-elected (as many as the upstream chart runs by default)."""
    resources: ResourceRequirements = ResourceRequirements(requests={"cpu": "2m", "memory": "16Mi"})
    """Operator container requests and limits (cpu, memory, ephemeral-storage); a request above its limit is an
    error."""
    node_selector: dict[LabelKey, LabelValue] = {}
    """Node labels the operator pods must match."""
    tolerations: list[Toleration] = []
    """Taints the operator pods tolerate."""
    enable_sync_labels: Switch = False
    """Let the operator copy its labels onto the resources it creates (`--enable-sync-labels`)."""


class HubRegistrationConfig(Model):
    """Hub registration settings of the ClusterManager."""

    feature_gates: dict[str, GateMode] = {}
    """Registration feature gates, gate name: Enable or Disable; a name `ocmVersion` does not know is an error that
    lists the known ones."""
    auto_approve_users: list[Annotated[str, Field(min_length=1)]] = []
    """Users whose cluster CSRs are approved automatically; only with the ManagedClusterAutoApproval gate enabled,
    which accepts every cluster that asks (enable it on purpose only)."""


class GatesConfig(Model):
    """Feature gates of one hub component."""

    feature_gates: dict[str, GateMode] = {}
    """Feature gates of that component, gate name: Enable or Disable; a name `ocmVersion` does not know is an error
    that lists the known ones."""


class NodePlacement(Model):
    """Where the hub components run."""

    node_selector: dict[LabelKey, LabelValue] = {}
    """Node labels the hub controller pods must match."""
    tolerations: list[Toleration] = []
    """Taints the hub controller pods tolerate."""


class HubResourceRequirement(Model):
    """Resources of the hub component containers."""

    type: Literal["Default", "BestEffort", "ResourceRequirement"] = "Default"
    """Default, BestEffort or ResourceRequirement (then resourceRequirements is required)."""
    resource_requirements: ResourceRequirements | None = None
    """Requests and limits of the hub containers; only with type ResourceRequirement."""


class ClusterManagerConfig(Model):
    """The ClusterManager custom resource the operator reconciles into the hub."""

    deploy_mode: Literal["Default", "Hosted"] = "Default"
    """Default only: Hosted runs the hub controllers on a separate management cluster with an external hub
    kubeconfig, which this program does not manage, so it is an error."""
    registration: HubRegistrationConfig = HubRegistrationConfig()
    """Registration controller settings."""
    work: GatesConfig = GatesConfig()
    """Work controller feature gates."""
    add_on_manager: GatesConfig = GatesConfig()
    """Addon-manager feature gates."""
    placement: GatesConfig = GatesConfig()
    """Placement controller feature gates."""
    node_placement: NodePlacement = NodePlacement()
    """Node selector and tolerations of the hub components."""
    resource_requirement: HubResourceRequirement = HubResourceRequirement()
    """Resources of the hub components."""


__all__ = [
    "ClusterManagerConfig",
    "Count",
    "DnsSubdomain",
    "ImagesConfig",
    "Model",
    "OperatorConfig",
    "ResourceRequirements",
    "Switch",
    "Toleration",
]
