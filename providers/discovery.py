"""Which vela clusters to register: list vela's Secrets on the hub and apply the stack's selection.

Runs while the program is evaluated (one resource per cluster needs the list up front). Every bad
secret is reported at once, by name, before any resource is declared.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from config.addons import CHARTS
from config.names import CREDENTIAL_TYPE_LABEL
from config.offline import is_offline
from config.registration import ClusterEntry, RegistrationConfig
from config.stack import StackConfig
from providers.klusterlet import Images
from providers.kube import Kube, KubeError, hub_client
from providers.registration import MANAGED_CLUSTER, SECRET_ANNOTATION, Registration
from providers.vela import ALIAS_ANNOTATION, VelaCluster, VelaSecretError, check_cluster_name, parse_secret

GATEWAY_APISERVICE = "v1alpha1.cluster.core.oam.dev"
GATEWAY_APISERVICE_PATH = f"/apis/apiregistration.k8s.io/v1/apiservices/{GATEWAY_APISERVICE}"


class DiscoveryError(Exception):
    """One or more vela clusters cannot be registered; one line per secret and problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"cannot register {len(problems)} vela cluster{'s' if len(problems) != 1 else ''}:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\n(fix the secret, or leave it out with ocm-hub:registration.exclude)"
        )


@dataclass(frozen=True)
class Planned:
    """A cluster to register, and whether to adopt an existing registration instead of creating it."""

    registration: Registration
    adopt: bool


@dataclass(frozen=True)
class FleetPlan:
    """The registrations, sorted by ManagedCluster name, and the discovered secrets left out (name: why)."""

    registrations: list[Planned]
    skipped: dict[str, str]


@dataclass(frozen=True)
class VelaSecrets:
    """vela's cluster Secrets, and which of them ocm-hub has registered already (`namespace/name`, from the
    ManagedClusters' secret annotation), or None when that is not known (Secrets a composing program
    listed itself): a registered cluster whose secret turned unusable must never be skipped, since leaving
    it out of the program would unjoin it, so with `registered` unknown nothing is skipped."""

    secrets: Sequence[Mapping[str, Any]]
    registered: frozenset[str] | None = None
    # Why vela's cluster gateway APIService is not Available (None: it is, or there is none, or unknown).
    gateway_problem: str | None = None

    @classmethod
    def of(cls, secrets: VelaSecrets | Sequence[Mapping[str, Any]]) -> VelaSecrets:
        """`fetch_vela_secrets`' answer as it is, or a program's own list (what is registered unknown)."""
        return secrets if isinstance(secrets, VelaSecrets) else cls(secrets)


def fetch_vela_secrets(registration: RegistrationConfig, kube_config: Mapping[str, Any]) -> VelaSecrets | None:
    """Vela's cluster Secrets from the hub, or None offline (config/offline.py: no cluster to ask)."""
    if not registration.active or is_offline():
        return None
    selector = CREDENTIAL_TYPE_LABEL
    if registration.selector:
        selector += "," + registration.selector
    hub = hub_client(kube_config)
    names = {entry.name for entry in registration.clusters}
    secrets = hub.list("v1", "Secret", registration.secret_namespace, selector) if registration.discover else []
    found = {s["metadata"]["name"] for s in secrets}
    for name in sorted(names - found):
        secret = hub.get("v1", "Secret", name, registration.secret_namespace)
        if secret is not None:
            secrets.append(secret)
    try:
        clusters = hub.list(*MANAGED_CLUSTER)
    except KubeError as err:
        if err.status != 404:  # 404: no OCM hub yet, so nothing is registered
            raise
        clusters = []
    registered = {str((c.get("metadata", {}).get("annotations") or {}).get(SECRET_ANNOTATION, "")) for c in clusters}
    return VelaSecrets(secrets, frozenset(registered - {""}), gateway_problem(hub))


def gateway_condition(hub: Kube) -> dict[str, Any] | None:
    """The Available condition of APIService v1alpha1.cluster.core.oam.dev, vela's cluster gateway
    (every `vela cluster` command needs it); {} when it has none yet, None when there is no such
    APIService (no KubeVela). Other API errors are raised."""
    try:
        apiservice = hub.request("GET", GATEWAY_APISERVICE_PATH)
    except KubeError as err:
        if err.status == 404:
            return None
        raise
    conditions = (apiservice.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Available"), {})


def gateway_problem(hub: Kube) -> str | None:
    """Why vela's cluster gateway is not Available; None when it is, or there is none. Advisory only:
    registration needs vela's Secrets, not the gateway, so an API error here (a user who may not read
    APIServices) is no reason to stop."""
    try:
        available = gateway_condition(hub)
    except KubeError:
        return None
    if available is None or available.get("status") == "True":
        return None
    return ": ".join(str(part) for part in (available.get("reason"), available.get("message")) if part) or "no status"


def plan(cfg: StackConfig, secrets: VelaSecrets | None) -> list[Planned]:
    """The registrations, sorted by ManagedCluster name; DiscoveryError lists every bad secret."""
    return plan_fleet(cfg, secrets).registrations


def plan_fleet(cfg: StackConfig, secrets: VelaSecrets | None) -> FleetPlan:
    """The registrations and the skipped secrets; None plans the clusters `registration.clusters` names,
    their endpoints left to their Secrets. A discovered secret ocm-hub cannot use is skipped (with its
    reason) unless `registration.strict` is set or it may be registered already (its registration must
    not be dropped: the run stops); one named in `registration.clusters` is an error. DiscoveryError
    lists every problem at once."""
    registration = cfg.registration
    entries = {entry.name: entry for entry in registration.clusters}
    if secrets is None:
        offline = sorted(entries.values(), key=lambda e: _target(e, e.name))
        return FleetPlan([_offline(cfg, entry) for entry in offline], {})
    registered = secrets.registered
    by_name = {str(s["metadata"]["name"]): s for s in secrets.secrets}
    selected = {name for name in by_name if registration.discover and _selected(registration, name)}
    selected |= set(entries)
    problems: list[str] = []
    skipped: dict[str, str] = {}
    planned: dict[str, Planned] = {}
    for name in sorted(selected):
        entry = entries.get(name)
        secret = by_name.get(name)
        if secret is None:
            problems.append(
                f"vela cluster secret {registration.secret_namespace}/{name} (listed in registration.clusters) does not exist"
            )
            continue
        try:
            vela = parse_secret(dict(secret), allow_insecure=bool(entry and entry.allow_insecure))
            target = _target(entry, name)
            check_cluster_name(
                registration.secret_namespace,
                name,
                target,
                entry is not None and entry.managed_cluster_name is not None,
            )
        except VelaSecretError as err:
            ref = f"{registration.secret_namespace}/{name}"
            if entry is not None or registration.strict:
                problems.append(str(err))
            elif registered is None or ref in registered:
                state = "may be registered already (the secrets were not listed by fetch_vela_secrets)"
                if registered is not None:
                    state = "is registered with OCM"
                problems.append(f"{err}; this cluster {state}, and skipping it would unjoin it, so this run stops")
            else:
                skipped[name] = str(err)
            continue
        if target in planned:
            other = planned[target].registration.secret_name
            problems.append(
                f"vela cluster secrets {registration.secret_namespace}/{other} and {registration.secret_namespace}/{name} "
                f"both become ManagedCluster {target!r}; set managedClusterName for one of them"
            )
            continue
        planned[target] = Planned(_registration(cfg, entry, name, target, vela), bool(entry and entry.import_))
    if problems:
        raise DiscoveryError(problems)
    return FleetPlan([planned[key] for key in sorted(planned)], skipped)


def _selected(registration: RegistrationConfig, name: str) -> bool:
    if registration.include and not any(fnmatch.fnmatchcase(name, p) for p in registration.include):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in registration.exclude)


def _target(entry: ClusterEntry | None, name: str) -> str:
    return entry.managed_cluster_name if entry and entry.managed_cluster_name else name


def _offline(cfg: StackConfig, entry: ClusterEntry) -> Planned:
    return Planned(_registration(cfg, entry, entry.name, _target(entry, entry.name), None), entry.import_)


def _registration(
    cfg: StackConfig, entry: ClusterEntry | None, secret: str, target: str, vela: VelaCluster | None
) -> Registration:
    """vela's own labels go to the ManagedCluster too (OCM Placements then select what vela's topology
    policies select), under the stack's; vela's alias as the same annotation."""
    defaults = cfg.registration.defaults
    return Registration(
        cluster=target,
        secret_namespace=cfg.registration.secret_namespace,
        secret_name=secret,
        endpoint=vela.endpoint if vela else None,
        labels={**(vela.user_labels() if vela else {}), **defaults.labels, **(entry.labels if entry else {})},
        annotations={ALIAS_ANNOTATION: vela.alias} if vela and vela.alias else {},
        insecure=bool(entry and entry.allow_insecure),
        cluster_set=(entry.cluster_set if entry and entry.cluster_set else None) or defaults.cluster_set,
        mode=(entry.mode if entry and entry.mode else None) or defaults.mode,
        images=Images(cfg.image("registrationOperator"), cfg.image("registration"), cfg.image("work")),
        hub_api_server=cfg.registration.hub_api_server,
        timeout_seconds=cfg.registration.join_timeout,
        max_concurrent_joins=cfg.registration.max_concurrent_joins,
        addons=tuple(CHARTS[release.key].addon for release in cfg.addon_releases()),
        wait_for_addons=cfg.registration.wait_for_addons,
        addon_timeout_seconds=cfg.registration.addon_timeout,
        ocm_version=cfg.ocm_version,
    )
