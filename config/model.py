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
    """Strict base: camelCase keys, unknown keys rejected, frozen once validated."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=False,
    )


class ImageOverrides(Model):
    registration_operator: ImageRef | None = None
    registration: ImageRef | None = None
    work: ImageRef | None = None
    placement: ImageRef | None = None
    add_on_manager: ImageRef | None = None


class ImagesConfig(Model):
    registry: Registry = DEFAULT_REGISTRY
    tag: ImageTag | None = Field(default=None, description="Defaults to the OCM version.")
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    overrides: ImageOverrides = ImageOverrides()


class ResourceRequirements(Model):
    requests: dict[ResourceName, Quantity] = {}
    limits: dict[ResourceName, Quantity] = {}


class Toleration(Model):
    key: LabelKey | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: Annotated[Count, Field(ge=0)] | None = None


class OperatorConfig(Model):
    replicas: Annotated[Count, Field(ge=1, le=10)] = 3
    resources: ResourceRequirements = ResourceRequirements(requests={"cpu": "2m", "memory": "16Mi"})
    node_selector: dict[LabelKey, LabelValue] = {}
    tolerations: list[Toleration] = []
    enable_sync_labels: Switch = False


class HubRegistrationConfig(Model):
    feature_gates: dict[str, GateMode] = {}
    auto_approve_users: list[Annotated[str, Field(min_length=1)]] = []


class GatesConfig(Model):
    feature_gates: dict[str, GateMode] = {}


class NodePlacement(Model):
    node_selector: dict[LabelKey, LabelValue] = {}
    tolerations: list[Toleration] = []


class HubResourceRequirement(Model):
    type: Literal["Default", "BestEffort", "ResourceRequirement"] = "Default"
    resource_requirements: ResourceRequirements | None = None


class ClusterManagerConfig(Model):
    deploy_mode: Literal["Default", "Hosted"] = "Default"
    registration: HubRegistrationConfig = HubRegistrationConfig()
    work: GatesConfig = GatesConfig()
    add_on_manager: GatesConfig = GatesConfig()
    placement: GatesConfig = GatesConfig()
    node_placement: NodePlacement = NodePlacement()
    resource_requirement: HubResourceRequirement = HubResourceRequirement()


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
