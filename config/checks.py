"""Rules across fields, checked after the schema: each returns problems with exact key paths."""

from __future__ import annotations

from dataclasses import dataclass

from config.addons import CHARTS, chart_value_keys
from config.model import ResourceRequirements, Toleration
from config.names import VELA_NAMESPACE, cluster_name_problem
from config.quantity import parse_quantity
from config.stack import StackConfig
from config.versions import RELEASES


@dataclass(frozen=True)
class Problem:
    """One bad input: where (a path of keys and indexes), what was given, and what is allowed."""

    path: tuple[str | int, ...]
    message: str
    value: object = None
    show_value: bool = True


def check(cfg: StackConfig) -> list[Problem]:
    if cfg.ocm_version not in RELEASES:
        allowed = ", ".join(sorted(RELEASES))
        return [Problem(("ocmVersion",), f"is not a supported OCM release; supported: {allowed}", cfg.ocm_version)]
    problems: list[Problem] = []
    problems += _check_gates(cfg)
    problems += _check_auto_approval(cfg)
    problems += _check_deploy_mode(cfg)
    problems += _check_resources(("operator", "resources"), cfg.operator.resources)
    problems += _check_tolerations(("operator", "tolerations"), cfg.operator.tolerations)
    problems += _check_tolerations(
        ("clusterManager", "nodePlacement", "tolerations"), cfg.cluster_manager.node_placement.tolerations
    )
    problems += _check_hub_resources(cfg)
    problems += _check_unique(("imagePullSecrets",), cfg.image_pull_secrets)
    problems += _check_addons(cfg)
    problems += _check_unique(
        ("clusterManager", "registration", "autoApproveUsers"), cfg.cluster_manager.registration.auto_approve_users
    )
    problems += _check_registration(cfg)
    return problems


def _check_registration(cfg: StackConfig) -> list[Problem]:
    """Everything about the clusters that the stack file alone decides, at render time."""
    registration = cfg.registration
    path: tuple[str | int, ...] = ("registration",)
    filters = {"include": registration.include, "exclude": registration.exclude, "selector": registration.selector}
    problems = [
        Problem(
            (*path, key),
            "has no effect unless registration.discover is true: it filters discovered Secrets only",
            value,
        )
        for key, value in filters.items()
        if value and not registration.discover
    ]
    names: dict[str, int] = {}
    targets: dict[str, int] = {}
    for index, entry in enumerate(registration.clusters):
        where = (*path, "clusters", index)
        if entry.name in names:
            problems.append(
                Problem(
                    (*where, "name"), f"is listed twice (also registration.clusters[{names[entry.name]}])", entry.name
                )
            )
            continue
        names[entry.name] = index
        target = entry.managed_cluster_name or entry.name
        key = "managedClusterName" if entry.managed_cluster_name else "name"
        if entry.managed_cluster_name is None and (problem := cluster_name_problem(entry.name)):
            problems.append(
                Problem(
                    (*where, "name"),
                    f"cannot be a ManagedCluster name: it {problem}; set managedClusterName",
                    entry.name,
                )
            )
        elif (entry.mode or registration.defaults.mode) == "Hosted" and len(f"klusterlet-{target}") > 63:
            problems.append(
                Problem(
                    (*where, key),
                    f"is too long for mode Hosted (its klusterlet namespace klusterlet-{target} exceeds 63)",
                    target,
                )
            )
        if target in targets:
            problems.append(
                Problem(
                    (*where, key),
                    f"makes ManagedCluster {target!r}, as registration.clusters[{targets[target]}] does; "
                    "each cluster needs its own managedClusterName",
                    target,
                )
            )
        targets.setdefault(target, index)
    return problems


def _check_gates(cfg: StackConfig) -> list[Problem]:
    release = RELEASES[cfg.ocm_version]
    cm = cfg.cluster_manager
    sections = {
        "registration": cm.registration.feature_gates,
        "work": cm.work.feature_gates,
        "addOnManager": cm.add_on_manager.feature_gates,
        "placement": cm.placement.feature_gates,
    }
    problems = []
    for section, gates in sections.items():
        known = release.gates(section)
        for name in gates:
            if name not in known:
                where = ("clusterManager", section, "featureGates", name)
                problems.append(Problem(where, _unknown_gate(cfg.ocm_version, section, name), name))
    return problems


def _unknown_gate(version: str, section: str, name: str) -> str:
    """A gate of another release names it and the way there: a hub runs one release's ClusterManager CRD, so
    a gate new in the next one is set after the upgrade is applied, not with it."""
    others = [v for v, other in RELEASES.items() if name in other.gates(section)]
    if others:
        return (
            f"is a {section} feature gate of OCM {', '.join(others)}, not of {version}, whose ClusterManager has "
            f"no field for it: set ocmVersion: {others[-1]}; on a hub that runs {version}, in two changes: "
            "ocmVersion first (pulumi up), then the gate"
        )
    known = ", ".join(sorted(RELEASES[version].gates(section))) or "none"
    return f"is not a {section} feature gate of OCM {version}; known: {known}"


def _check_auto_approval(cfg: StackConfig) -> list[Problem]:
    registration = cfg.cluster_manager.registration
    if registration.auto_approve_users and registration.feature_gates.get("ManagedClusterAutoApproval") != "Enable":
        return [
            Problem(
                ("clusterManager", "registration", "autoApproveUsers"),
                "has no effect unless clusterManager.registration.featureGates.ManagedClusterAutoApproval is Enable "
                "(which accepts every cluster that asks; enable it only on purpose)",
                registration.auto_approve_users,
            )
        ]
    return []


def _check_deploy_mode(cfg: StackConfig) -> list[Problem]:
    if cfg.cluster_manager.deploy_mode == "Hosted":
        return [
            Problem(
                ("clusterManager", "deployMode"),
                "Hosted is not supported: it runs the hub controllers on a separate management cluster "
                "with an external hub kubeconfig, which this program does not manage; allowed: Default",
                "Hosted",
            )
        ]
    return []


def _check_resources(path: tuple[str | int, ...], resources: ResourceRequirements) -> list[Problem]:
    problems = []
    for name, limit in resources.limits.items():
        request = resources.requests.get(name)
        if request is not None and parse_quantity(request) > parse_quantity(limit):
            problems.append(Problem((*path, "requests", name), f"must not exceed its limit {limit}", request))
    return problems


def _check_hub_resources(cfg: StackConfig) -> list[Problem]:
    requirement = cfg.cluster_manager.resource_requirement
    path: tuple[str | int, ...] = ("clusterManager", "resourceRequirement")
    if requirement.type == "ResourceRequirement":
        if requirement.resource_requirements is None:
            return [
                Problem((*path, "resourceRequirements"), "is required when type is ResourceRequirement", None, False)
            ]
        return _check_resources((*path, "resourceRequirements"), requirement.resource_requirements)
    if requirement.resource_requirements is not None:
        return [
            Problem(
                (*path, "resourceRequirements"),
                f"is only used when type is ResourceRequirement (type is {requirement.type})",
                None,
                False,
            )
        ]
    return []


def _check_tolerations(path: tuple[str | int, ...], tolerations: list[Toleration]) -> list[Problem]:
    problems = []
    for index, toleration in enumerate(tolerations):
        if toleration.operator == "Exists" and toleration.value:
            problems.append(Problem((*path, index, "value"), "must be empty when operator is Exists", toleration.value))
        if toleration.operator == "Equal" and not toleration.key:
            problems.append(Problem((*path, index, "key"), "is required when operator is Equal", None, False))
        if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
            problems.append(
                Problem(
                    (*path, index, "tolerationSeconds"),
                    "is only allowed with effect NoExecute",
                    toleration.toleration_seconds,
                )
            )
    return problems


def _check_unique(path: tuple[str | int, ...], values: list[str]) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for index, value in enumerate(values):
        if value in seen:
            problems.append(Problem((*path, index), "is listed twice", value))
        seen.add(value)
    return problems


def _check_addons(cfg: StackConfig) -> list[Problem]:
    problems = []
    addons = cfg.addons.by_key()
    for key, addon in addons.items():
        known = chart_value_keys(key)
        for name in addon.values:
            if name not in known:
                problems.append(
                    Problem(
                        ("addons", key, "values", name),
                        f"is not a value of chart {CHARTS[key].chart} {CHARTS[key].default_version}; "
                        f"known: {', '.join(sorted(known))}",
                        name,
                    )
                )
        if addon.enabled:
            missing = [need for need in CHARTS[key].requires if not addons[need].enabled]
            if missing:
                needs = " and ".join(f"addons.{need}.enabled: true" for need in missing)
                problems.append(
                    Problem(
                        ("addons", key, "enabled"),
                        f"{CHARTS[key].chart} needs {needs} (it uses their APIs and agents)",
                        True,
                    )
                )
    return problems + _check_gateway(cfg)


def _check_gateway(cfg: StackConfig) -> list[Problem]:
    """The gateway must keep reading the secrets vela writes, and must not overwrite them."""
    release = next((r for r in cfg.addon_releases() if r.key == "clusterGateway"), None)
    if release is None:
        return []
    gateway = release.values.get("clusterGateway") or {}
    path: tuple[str | int, ...] = ("addons", "clusterGateway", "values", "clusterGateway")
    install, secrets = gateway.get("installNamespace"), gateway.get("secretNamespace")
    problems = []
    if install != secrets:
        problems.append(
            Problem(
                (*path, "secretNamespace"),
                f"must equal installNamespace ({install}): `vela cluster join` writes secrets to the namespace of the "
                "gateway Service the APIService points at, so a different secretNamespace hides every cluster vela joins",
                secrets,
            )
        )
    if secrets == VELA_NAMESPACE and release.values.get("manualSecretManagement") is False:
        problems.append(
            Problem(
                ("addons", "clusterGateway", "values", "manualSecretManagement"),
                f"must stay true while secretNamespace is {VELA_NAMESPACE}: the addon-manager would overwrite "
                "vela's cluster secrets with its own",
                False,
            )
        )
    return problems
