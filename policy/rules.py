"""The ocm-hub guardrails as pure functions of a resource's type and inputs.

The policy pack (`__main__.py`) runs them inside `pulumi preview --policy-pack`, and `make review`
runs them on the offline render, so a violation reads the same in both places. Nothing here imports
Pulumi, and no message ever repeats a value that could be a credential.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class Unknown:
    """A value the engine cannot know during preview (an output of another resource): never checked."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()

CLUSTER_MANAGER = "kubernetes:operator.open-cluster-management.io/v1:ClusterManager"
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
CLUSTER_MANAGER_CRD = "clustermanagers.operator.open-cluster-management.io"
SECRET = "kubernetes:core/v1:Secret"
REGISTRATION = "pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration"
HELM_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
UPSTREAM_CHARTS = "https://open-cluster-management.io/helm-charts"
HUB_NAMESPACES = ("open-cluster-management", "open-cluster-management-hub", "open-cluster-management-addon")
LEVELS = ("advisory", "mandatory", "remediate", "disabled")

# Where each workload type keeps its pod spec.
POD_SPECS: Mapping[str, tuple[str, ...]] = {
    "kubernetes:core/v1:Pod": ("spec",),
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# The ClusterManager's image fields; the CRD defaults each one to an untagged image.
CLUSTER_MANAGER_IMAGES = (
    "registrationImagePullSpec",
    "workImagePullSpec",
    "placementImagePullSpec",
    "addOnManagerImagePullSpec",
)


@dataclass(frozen=True)
class Resource:
    """What a policy sees of one resource.

    `retain_on_delete` is None when the caller cannot know it: the policy protocol (pulumi-policy
    1.21, engine 3.2xx) carries `protect` but not `retainOnDelete`, so only `make review`, which
    records the program's own registration requests, can pass it.
    """

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""
    protect: bool = False
    retain_on_delete: bool | None = None


Check = Callable[[Resource, Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class Rule:
    """One policy: `check` returns a message per violation; `config` is the JSON schema of each setting."""

    name: str
    description: str
    check: Check
    severity: str
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    enforcement: str = "mandatory"

    def settings(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The policy's settings: what the stack's policy config gives, else the schema default."""
        return {key: given.get(key, schema.get("default")) for key, schema in self.config.items()}


@dataclass(frozen=True)
class Finding:
    """One violation, at the enforcement level the stack's policy config gives its policy."""

    policy: str
    enforcement: str
    resource: Resource
    message: str


# --- every container image carries an explicit tag or digest -------------------------------------

_DIGEST = re.compile(r"@[A-Za-z0-9_+.-]+:[0-9a-fA-F]{32,}$")


def image_problem(image: str) -> str | None:
    """Why an image reference does not pin what runs, or None when its tag or digest does."""
    if _DIGEST.search(image):
        return None
    last = image.rsplit("/", 1)[-1]  # a registry port (host:5000/x) is not a tag
    if ":" not in last:
        return "has no tag or digest, so it pulls :latest"
    if last.split(":", 1)[1] == "latest":
        return "uses the moving tag :latest"
    return None


def _image_refs(resource: Resource) -> Iterator[tuple[str, Any]]:
    if resource.type in POD_SPECS:
        for where, container in _containers(resource):
            yield f"{where}.image", container.get("image")
    elif resource.type == CLUSTER_MANAGER:
        spec = _get(resource.props, ("spec",))
        if isinstance(spec, Mapping):
            for key in CLUSTER_MANAGER_IMAGES:
                yield f"spec.{key}", spec.get(key, "")
    elif resource.type == REGISTRATION:
        spec = resource.props.get("spec")
        where, inputs = ("spec.", spec) if isinstance(spec, Mapping) else ("", resource.props)  # older ocm-hub: flat
        images = inputs.get("images")
        if isinstance(images, Mapping):
            for key in sorted(images):
                yield f"{where}images.{key}", images[key]


def check_image_tags(resource: Resource, _settings: Mapping[str, Any]) -> list[str]:
    messages = []
    for where, image in _image_refs(resource):
        if image == "":
            messages.append(f"{where} is not set, so the CRD's untagged default image (:latest) runs")
        elif isinstance(image, str):
            problem = image_problem(image)
            if problem:
                messages.append(f"{where} {image} {problem}")
    return messages


# --- fleet safety ----------------------------------------------------------------------------------


def _is_hub_operator(container: Mapping[str, Any]) -> bool:
    words = [*_strings(container.get("command")), *_strings(container.get("args"))]
    return "hub" in words and any(w.endswith("registration-operator") for w in words)


def check_fleet_safety(resource: Resource, settings: Mapping[str, Any]) -> list[str]:
    if settings.get("allowTeardown"):
        return []
    messages = []
    if resource.type in POD_SPECS:
        for where, container in _containers(resource):
            if _is_hub_operator(container) and "--skip-remove-crds" not in _strings(container.get("args")):
                messages.append(
                    f"{where} runs `registration-operator hub` without --skip-remove-crds: deleting the "
                    "ClusterManager would make it delete the hub CRDs, and with them every ManagedCluster, "
                    "ManifestWork and addon"
                )
    is_crd = resource.type == CRD and _get(resource.props, ("metadata", "name")) == CLUSTER_MANAGER_CRD
    if (is_crd or resource.type == CLUSTER_MANAGER) and resource.retain_on_delete is False and not resource.protect:
        what = (
            "deleting the CRD deletes every ClusterManager with it"
            if is_crd
            else "deleting the ClusterManager tears the hub down"
        )
        messages.append(
            "is neither retainOnDelete nor protected: `pulumi destroy`, or a refactor that drops it from the "
            f"program, deletes it from the cluster, and {what}"
        )
    return messages


# --- no automatic acceptance of clusters -----------------------------------------------------------


def check_auto_approval(resource: Resource, settings: Mapping[str, Any]) -> list[str]:
    if resource.type != CLUSTER_MANAGER or settings.get("allowAutoApproval"):
        return []
    gates = _get(resource.props, ("spec", "registrationConfiguration", "featureGates"))
    enabled = [
        gate
        for gate in (gates if isinstance(gates, list) else [])
        if isinstance(gate, Mapping) and gate.get("feature") == "ManagedClusterAutoApproval"
    ]
    if any(gate.get("mode") == "Enable" for gate in enabled):
        return [
            "spec.registrationConfiguration.featureGates enables ManagedClusterAutoApproval: the hub then accepts "
            "clusters that ask to join without anyone approving them"
        ]
    return []


def check_cluster_tls(resource: Resource, settings: Mapping[str, Any]) -> list[str]:
    """A registration with allowInsecure may reach its cluster without verifying its certificate."""
    if resource.type != REGISTRATION or _get(resource.props, ("spec", "insecure")) is not True:
        return []
    cluster = _get(resource.props, ("spec", "clusterName"))
    if cluster in (settings.get("allowInsecureClusters") or []):
        return []
    return [
        f"cluster {cluster} is registered with allowInsecure: its vela Secret may hold no CA, and then ocm-hub "
        "joins it without verifying its TLS certificate (list it in allowInsecureClusters to accept that)"
    ]


# --- Helm charts: pinned versions from allowed repositories ----------------------------------------

_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def check_chart_version(resource: Resource, _settings: Mapping[str, Any]) -> list[str]:
    if resource.type not in HELM_TYPES:
        return []
    version, chart = resource.props.get("version"), resource.props.get("chart")
    if isinstance(version, Unknown):
        return []
    if not version:
        return [f"chart {chart} has no version: every `pulumi up` may install whatever the repository serves as latest"]
    if not isinstance(version, str) or not _EXACT_VERSION.match(version):
        return [f"chart {chart} version {version} is a range or not a version: pin one exact chart version"]
    return []


def chart_repository(props: Mapping[str, Any]) -> str | None:
    """The repository a chart comes from: `repositoryOpts.repo`, or the URL in `chart`; None for a local chart."""
    repo = _get(props, ("repositoryOpts", "repo"))
    if isinstance(repo, str) and repo:
        return repo.rstrip("/")
    chart = props.get("chart")
    if isinstance(chart, str) and "://" in chart:
        return chart.rsplit("/", 1)[0]
    return None


def check_chart_repository(resource: Resource, settings: Mapping[str, Any]) -> list[str]:
    if resource.type not in HELM_TYPES:
        return []
    repository = chart_repository(resource.props)
    allowed = [str(item).rstrip("/") for item in settings.get("allowedRepositories") or []]
    if repository is None or repository in allowed:
        return []
    return [
        f"chart {resource.props.get('chart')} comes from {_without_userinfo(repository)}, which is not an allowed "
        f"repository ({', '.join(allowed) or 'none allowed'}): list mirrors in this policy's allowedRepositories"
    ]


# --- hub workloads keep upstream's hardening -------------------------------------------------------


def _hardening_gaps(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[str]:
    pod_context = _mapping(pod.get("securityContext"))
    context = _mapping(container.get("securityContext"))
    gaps = []
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if non_root is not True or 0 in (context.get("runAsUser"), pod_context.get("runAsUser")):
        gaps.append("runAsNonRoot is not true")
    if context.get("readOnlyRootFilesystem") is not True:
        gaps.append("readOnlyRootFilesystem is not true")
    if context.get("allowPrivilegeEscalation") is not False:
        gaps.append("allowPrivilegeEscalation is not false")
    if context.get("privileged") is True:
        gaps.append("it is privileged")
    drop = _get(context, ("capabilities", "drop"))
    if "ALL" not in _strings(drop):
        gaps.append("capabilities.drop lacks ALL")
    requests = _get(container, ("resources", "requests"))
    missing = [name for name in ("cpu", "memory") if not (isinstance(requests, Mapping) and requests.get(name))]
    if missing:
        gaps.append(f"no {' or '.join(missing)} request")
    return gaps


def check_hardening(resource: Resource, settings: Mapping[str, Any]) -> list[str]:
    if resource.type not in POD_SPECS:
        return []
    namespace = _get(resource.props, ("metadata", "namespace"))
    if namespace not in (settings.get("namespaces") or []):
        return []
    pod = _get(resource.props, POD_SPECS[resource.type])
    messages = []
    for where, container in _containers(resource):
        gaps = _hardening_gaps(_mapping(pod), container)
        if gaps:
            messages.append(f"{where}: {', '.join(gaps)} (upstream OCM sets all of these)")
    return messages


# --- no credential in clear text -------------------------------------------------------------------

# Keys whose string values are credentials. Names that refer to a credential (secretName,
# existingSecret, imagePullSecret, tokenSecretRef) are references and end otherwise.
_CREDENTIAL_KEYS = (
    "password",
    "passwd",
    "passphrase",
    "token",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "clientkey",
    "clientkeydata",
    "tlskey",
    "clientsecret",
    "kubeconfig",
)
_CREDENTIAL_VALUES = (
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "a bearer token (JWT)"),
    (re.compile(r"\bclient-key-data:\s*\S"), "a kubeconfig with a client key"),
    (re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"), "a URL with a password"),
)


_FREE_TEXT_KEYS = frozenset({"metadata.labels", "metadata.annotations"})


def credential_kind(key: str, value: str) -> str | None:
    """What credential a string input holds, judged by its key and its content; None if none."""
    for pattern, kind in _CREDENTIAL_VALUES:
        if pattern.search(value):
            return kind
    normalized = re.sub(r"[^a-z0-9]", "", key.lower())
    if value and normalized.endswith(_CREDENTIAL_KEYS):
        return f"a credential ({key})"
    return None


def _credential_inputs(value: Any, path: str, by_key: bool) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        # An env var ({name: DB_PASSWORD, value: ...}) is named by its `name`.
        env_name = value.get("name") if isinstance(value.get("name"), str) else None
        for key in value:
            if str(key).startswith("__"):  # engine-internal, e.g. a dynamic resource's serialized provider
                continue
            child = f"{path}.{key}" if path else str(key)
            item = value[key]
            if isinstance(item, str):
                named = env_name if key == "value" and env_name else str(key)
                kind = credential_kind(named if by_key else "", item)
                if kind:
                    yield child, kind
            else:  # label and annotation keys are free text: only their values are judged
                yield from _credential_inputs(item, child, by_key and child not in _FREE_TEXT_KEYS)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                kind = credential_kind("", item)
                if kind:
                    yield f"{path}[{index}]", kind
            else:
                yield from _credential_inputs(item, f"{path}[{index}]", by_key)


def check_credentials(resource: Resource, _settings: Mapping[str, Any]) -> list[str]:
    if resource.type.startswith("pulumi:providers:"):
        return []  # provider configuration is the engine's own, stored as secret config
    props = resource.props
    if resource.type == SECRET:
        props = {key: value for key, value in props.items() if key not in ("data", "stringData")}
    return [
        f"{path} holds {kind} in clear text: keep it in a Kubernetes Secret and pass a reference "
        "(a value marked secret still reaches the object, and policies cannot see the marking)"
        for path, kind in _credential_inputs(props, "", True)
    ]


RULES: tuple[Rule, ...] = (
    Rule(
        "image-tag-pinned",
        "Every container image names an explicit tag or digest: an untagged image pulls :latest, so what runs "
        "changes without any change to the program.",
        check_image_tags,
        "high",
    ),
    Rule(
        "fleet-teardown-protection",
        "The ClusterManager and its CRD are retained on delete and the operator runs with --skip-remove-crds: "
        "deleting either makes the operator remove the hub CRDs and with them every ManagedCluster. Set "
        "allowTeardown for hubs that may be wiped.",
        check_fleet_safety,
        "critical",
        {"allowTeardown": {"type": "boolean", "default": False}},
    ),
    Rule(
        "cluster-auto-approval-disabled",
        "ManagedClusterAutoApproval is off: with it the hub accepts any cluster that asks to join, with nobody "
        "approving. Set allowAutoApproval to permit it.",
        check_auto_approval,
        "high",
        {"allowAutoApproval": {"type": "boolean", "default": False}},
    ),
    Rule(
        "cluster-tls-verified",
        "Every registered cluster is reached with its TLS certificate verified: a registration's allowInsecure "
        "(vela's cluster without a CA) is flagged unless the cluster is listed in allowInsecureClusters.",
        check_cluster_tls,
        "high",
        {"allowInsecureClusters": {"type": "array", "items": {"type": "string"}, "default": []}},
    ),
    Rule(
        "helm-chart-version-pinned",
        "Helm releases pin one exact chart version, so a deploy installs the chart that was reviewed.",
        check_chart_version,
        "high",
    ),
    Rule(
        "helm-repository-allowed",
        "Helm charts come only from allowed repositories (upstream OCM and the mirrors listed in "
        "allowedRepositories), so nothing installs code from an unvetted source.",
        check_chart_repository,
        "high",
        {
            "allowedRepositories": {
                "type": "array",
                "items": {"type": "string"},
                "default": [UPSTREAM_CHARTS],
            }
        },
    ),
    Rule(
        "hub-workload-hardening",
        "Hub workloads keep upstream OCM's hardening (non-root, read-only root filesystem, no privilege "
        "escalation, all capabilities dropped, cpu and memory requests): the operator holds cluster-wide rights.",
        check_hardening,
        "medium",
        {"namespaces": {"type": "array", "items": {"type": "string"}, "default": list(HUB_NAMESPACES)}},
    ),
    Rule(
        "no-plaintext-credentials",
        "No resource input holds a credential in clear text (Kubernetes Secret data aside): state and cluster "
        "objects would expose it; registrations hold references to vela's Secrets only.",
        check_credentials,
        "critical",
    ),
)


def policy_settings(rule: Rule, pack_config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A rule's enforcement level and settings from a `--policy-pack-config` document."""
    level = rule.enforcement
    if isinstance(pack_config.get("all"), str):
        level = pack_config["all"]
    entry = pack_config.get(rule.name)
    given: Mapping[str, Any] = {}
    if isinstance(entry, str):
        level = entry
    elif isinstance(entry, Mapping):
        level = str(entry.get("enforcementLevel", level))
        given = entry
    return level, rule.settings(given)


def evaluate(resources: Iterable[Resource], pack_config: Mapping[str, Any]) -> list[Finding]:
    """Every violation, rule by rule in pack order, resources in the order given."""
    resources = list(resources)
    findings = []
    for rule in RULES:
        level, settings = policy_settings(rule, pack_config)
        if level == "disabled":
            continue
        for resource in resources:
            findings += [Finding(rule.name, level, resource, message) for message in rule.check(resource, settings)]
    return findings


def _get(value: Any, path: Iterable[str]) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _containers(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each container of a workload, with where it sits (`spec.template.spec.containers[name]`)."""
    path = POD_SPECS[resource.type]
    pod = _get(resource.props, path)
    if not isinstance(pod, Mapping):
        return
    for kind in ("initContainers", "containers"):
        items = pod.get(kind)
        for index, container in enumerate(items if isinstance(items, list) else []):
            if isinstance(container, Mapping):
                label = container.get("name") if isinstance(container.get("name"), str) else index
                yield f"{'.'.join(path)}.{kind}[{label}]", container


def _without_userinfo(url: str) -> str:
    return re.sub(r"(://)[^/@\s]*@", r"\1", url)
