"""The `ManagedClusterRegistration` dynamic resource: one vela cluster registered with the OCM hub.

Create and update join (providers/join.py), delete unjoins (providers/unjoin.py); hub access and the
provider's serialization are shared with the hub's readiness (providers/hub_provider.py). Vela
credentials come from the vela Secret each time they are needed: state keeps a reference to that
Secret, never its data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from config.names import CLUSTERSET_LABEL, MAX_CONCURRENT_JOINS, cluster_name_problem
from config.versions import RELEASES
from providers.cluster_status import cluster_status, read_addons
from providers.hub_provider import HUB_KUBECONFIG, HubProvider, hub_access, with_hub_kubeconfig
from providers.join import join, update
from providers.registration import (
    MANAGED_CLUSTER,
    MODE_ANNOTATION,
    REPLACE_KEYS,
    SECRET_ANNOTATION,
    WIRE_KEYS,
    ClusterAccess,
    Kind,
    Registration,
    changed,
    read_input,
)
from providers.sdk_patches import (
    provider_server_can_widen,
    serialized_once,
    stack_traces_from_frames,
    widen_provider_server,
)
from providers.unjoin import unjoin


class ManagedClusterProvider(HubProvider):
    """Check/diff are pure; create and update join (providers/join.py), delete unjoins (providers/unjoin.py)."""

    def _access(self, props: Mapping[str, Any]) -> ClusterAccess:
        _serve_concurrently(_spec(props))
        return ClusterAccess(hub=self.hub(props))

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        spec = _spec(news)
        _serve_concurrently(spec)
        failures = []
        name = str(spec.get("clusterName", ""))
        problem = cluster_name_problem(name)
        if problem:
            failures.append(CheckFailure("spec.clusterName", f"{name!r} {problem}"))
        elif spec.get("mode") == "Hosted" and len(f"klusterlet-{name}") > 63:
            failures.append(
                CheckFailure("spec.clusterName", f"{name!r} is too long for Hosted mode (namespace klusterlet-{name})")
            )
        if spec.get("mode") not in ("Default", "Hosted"):
            failures.append(CheckFailure("spec.mode", f"{spec.get('mode')!r} is not Default or Hosted"))
        version = spec.get("ocmVersion")
        if version is not None and version not in RELEASES:
            failures.append(
                CheckFailure("spec.ocmVersion", f"{version!r} is not a supported OCM release ({', '.join(RELEASES)})")
            )
        timeout = spec.get("timeoutSeconds")
        if not isinstance(timeout, int | float) or timeout <= 0:
            failures.append(CheckFailure("spec.timeoutSeconds", "must be a positive number of seconds"))
        if not failures:
            try:
                Registration.from_props(spec)
            except (KeyError, TypeError, ValueError) as err:
                failures.append(CheckFailure("spec", f"cannot be read ({type(err).__name__}: {err})"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace and update inputs only (registration.Kind): a changed setting, such as a join timeout, is
        no change to the cluster, and takes effect at the registration's next create or update."""
        differ = changed(_spec(olds), _spec(news))
        replaces = [f"spec.{wire.key}" for wire in differ if wire.kind is Kind.REPLACE]
        # A rotated hub kubeconfig is an in-place update, so the next delete unjoins with valid credentials.
        rotated = olds.get(HUB_KUBECONFIG) != news.get(HUB_KUBECONFIG)
        return DiffResult(
            changes=bool(differ) or rotated,
            replaces=replaces,
            stables=[f"spec.{key}" for key in REPLACE_KEYS if f"spec.{key}" not in replaces],
            delete_before_replace=True,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        reg = Registration.from_props(_spec(props))
        status = join(self._access(props), reg)
        return CreateResult(reg.cluster, {"spec": reg.props(), "status": status, **hub_access(props)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        reg = Registration.from_props(_spec(news))
        status = update(self._access(news), reg)
        return UpdateResult({"spec": reg.props(), "status": status, **hub_access(news)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        hub = self._access(props).hub
        live = hub.get(*MANAGED_CLUSTER, id_)
        if live is None:
            return ReadResult(None, {})
        inputs = {key: value for key, value in _spec(props).items() if key in WIRE_KEYS}
        refreshed = {**inputs, **_inputs_from_live(id_, live, inputs)}
        addons = tuple(str(name) for name in refreshed.get("addons") or ())
        status = cluster_status(live, str(refreshed.get("mode", "Default")), read_addons(hub, id_, addons))
        return ReadResult(id_, {"spec": refreshed, "status": status, **hub_access(props)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        unjoin(self._access(props), Registration.from_props(_spec(props)))


def _serve_concurrently(spec: Mapping[str, Any]) -> None:
    """Let the provider server work on `maxConcurrentJoins` registrations at once, not the SDK's 4. Check comes
    first for every resource of an up or preview; delete and refresh reach it through `_access`."""
    count = spec.get("maxConcurrentJoins")  # a wire number may arrive as a float
    widen_provider_server(int(count) if isinstance(count, int | float) and count >= 1 else MAX_CONCURRENT_JOINS)


def _spec(props: Mapping[str, Any]) -> dict[str, Any]:
    """All inputs live under one `spec` property: one Output per resource instead of fifteen, which is
    most of what a 1,000-cluster program costs to evaluate."""
    spec = props.get("spec")
    return dict(spec) if isinstance(spec, Mapping) else {}


def _inputs_from_live(cluster: str, live: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What the hub says about the inputs we own, so `pulumi refresh` shows drift and import works."""
    metadata = live.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    configs = (live.get("spec") or {}).get("managedClusterClientConfigs") or []
    found: dict[str, Any] = {"clusterName": cluster}
    owned = inputs.get("labels") or {}
    found["labels"] = {key: labels[key] for key in owned if key in labels}
    if CLUSTERSET_LABEL in labels:
        found["clusterSet"] = labels[CLUSTERSET_LABEL]
    if configs and read_input("endpoint", inputs) is not None:
        found["endpoint"] = configs[0].get("url", inputs.get("endpoint"))  # else the vela secret's, not drift
    secret_ref = str(annotations.get(SECRET_ANNOTATION, ""))
    if "/" in secret_ref:
        found["secretNamespace"], found["secretName"] = secret_ref.split("/", 1)
    if annotations.get(MODE_ANNOTATION) in ("Default", "Hosted"):
        found["mode"] = annotations[MODE_ANNOTATION]
    return found


class ManagedClusterRegistration(pulumi.dynamic.Resource, module="ocm-hub", name="ManagedClusterRegistration"):
    """One vela cluster as an OCM ManagedCluster, Joined and Available."""

    if TYPE_CHECKING:  # not at run time: the SDK resolves a class's annotations again on every construction
        status: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        registration: Registration,
        hub_kubeconfig: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        provider_server_can_widen()  # says so once when it cannot: joins would then progress 4 at a time
        props: dict[str, Any] = {"spec": registration.props(), "status": None}
        opts = with_hub_kubeconfig(props, hub_kubeconfig, opts)
        with serialized_once(), stack_traces_from_frames():
            super().__init__(ManagedClusterProvider(), name, props, opts)
