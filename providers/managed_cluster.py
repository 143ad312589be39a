"""The `ManagedClusterRegistration` dynamic resource: one vela cluster registered with the OCM hub.

The provider object the engine pickles holds nothing: hub access comes from the stack's provider
configuration (`kubernetes:kubeconfig`, `kubernetes:context`, else KUBECONFIG), read in `configure`,
and credentials come from the vela Secret each time they are needed. State keeps a reference to that
Secret, never its data.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi
import yaml
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

from config.registration import CLUSTERSET_LABEL, cluster_name_problem
from providers.join import MODE_ANNOTATION, SECRET_ANNOTATION, Joiner, Registration, cluster_status
from providers.kube import Kube

# Changing these points the resource at another cluster (or agent): unjoin first, then join.
REPLACE_KEYS = ("clusterName", "secretNamespace", "secretName", "mode")
UPDATE_KEYS = (
    "endpoint",
    "labels",
    "clusterSet",
    "images",
    "hubApiServer",
    "timeoutSeconds",
    "addons",
    "waitForAddons",
    "addonTimeoutSeconds",
)
INPUT_KEYS = REPLACE_KEYS + UPDATE_KEYS


class ManagedClusterProvider(ResourceProvider):
    """Check/diff are pure; create/read/update/delete go through providers.join against the hub."""

    def configure(self, req: ConfigureRequest) -> None:
        self._hub_config = {
            "kubeconfig": req.config.get("kubernetes:kubeconfig"),
            "context": req.config.get("kubernetes:context"),
        }

    def _joiner(self) -> Joiner:
        return Joiner(hub=hub_client(getattr(self, "_hub_config", {})))

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        name = str(news.get("clusterName", ""))
        problem = cluster_name_problem(name)
        if problem:
            failures.append(CheckFailure("clusterName", f"{name!r} {problem}"))
        elif news.get("mode") == "Hosted" and len(f"klusterlet-{name}") > 63:
            failures.append(
                CheckFailure("clusterName", f"{name!r} is too long for Hosted mode (namespace klusterlet-{name})")
            )
        if news.get("mode") not in ("Default", "Hosted"):
            failures.append(CheckFailure("mode", f"{news.get('mode')!r} is not Default or Hosted"))
        timeout = news.get("timeoutSeconds")
        if not isinstance(timeout, int | float) or timeout <= 0:
            failures.append(CheckFailure("timeoutSeconds", "must be a positive number of seconds"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in INPUT_KEYS if _normal(olds.get(key)) != _normal(news.get(key))]
        replaces = [key for key in changed if key in REPLACE_KEYS]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=[key for key in REPLACE_KEYS if key not in replaces],
            delete_before_replace=True,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        reg = Registration.from_props(props)
        status = self._joiner().join(reg)
        return CreateResult(reg.cluster, {**reg.props(), "status": status})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        reg = Registration.from_props(news)
        status = self._joiner().update(reg)
        return UpdateResult({**reg.props(), "status": status})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        joiner = self._joiner()
        live = joiner.read(id_)
        if live is None:
            return ReadResult(None, {})
        inputs = {key: props[key] for key in INPUT_KEYS if key in props}
        refreshed = {**inputs, **_inputs_from_live(id_, live, inputs)}
        addons = tuple(str(name) for name in refreshed.get("addons") or ())
        status = cluster_status(live, str(refreshed.get("mode", "Default")), joiner.addons(id_, addons))
        return ReadResult(id_, {**refreshed, "status": status})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._joiner().unjoin(Registration.from_props(props))


def hub_client(config: Mapping[str, Any]) -> Kube:
    """The hub's API from provider configuration: a kubeconfig's contents or path, and a context."""
    kubeconfig, context = config.get("kubeconfig"), config.get("context") or None
    if kubeconfig:
        text = str(kubeconfig)
        parsed = yaml.safe_load(text) if "\n" in text or text.lstrip().startswith("{") else None
        if isinstance(parsed, dict):
            return Kube.from_kubeconfig(parsed, context)
        return Kube.from_file(os.path.expanduser(text), context)
    return Kube.from_file(None, context)


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
    if configs:
        found["endpoint"] = configs[0].get("url", inputs.get("endpoint"))
    secret_ref = str(annotations.get(SECRET_ANNOTATION, ""))
    if "/" in secret_ref:
        found["secretNamespace"], found["secretName"] = secret_ref.split("/", 1)
    if annotations.get(MODE_ANNOTATION) in ("Default", "Hosted"):
        found["mode"] = annotations[MODE_ANNOTATION]
    return found


def _normal(value: Any) -> Any:
    """Numbers cross the wire as doubles; compare 600 and 600.0 as equal."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


_PICKLER_LOCK = threading.Lock()


@contextlib.contextmanager
def _pickler_restored() -> Iterator[None]:
    """Undo what `serialize_provider` leaves behind on `pickle._Pickler`.

    pulumi 3.272's `serialize_provider` wraps `pickle._Pickler._batch_setitems` on every dynamic
    resource and never unwraps it, so each construction nests one more wrapper: quadratic cost, then
    RecursionError past ~300 resources (../shared/research/pulumi-dynamic-scale.md). Restoring the
    class attributes after each construction keeps every serialization one wrapper deep.
    """
    pickler: Any = pickle._Pickler
    saved = {name: pickler.__dict__[name] for name in ("_batch_setitems", "save_dict") if name in pickler.__dict__}
    with _PICKLER_LOCK:
        try:
            yield
        finally:
            for name, value in saved.items():
                setattr(pickler, name, value)


class ManagedClusterRegistration(pulumi.dynamic.Resource, module="ocm-hub", name="ManagedClusterRegistration"):
    """One vela cluster as an OCM ManagedCluster, Joined and Available."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, registration: Registration, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {**registration.props(), "status": None}
        with _pickler_restored():
            super().__init__(ManagedClusterProvider(), name, props, opts)
