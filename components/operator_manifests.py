"""The registration-operator (hub mode) objects, mirrored from upstream OCM in one place.

Source: open-cluster-management-io/ocm v1.3.1, deploy/cluster-manager/config/{operator,rbac}/.
`tests/test_conformance.py` compares what this module builds with those files field by field;
an OCM upgrade changes the release bundle in config/versions.py and, if upstream changed, this file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pulumi_kubernetes.apps.v1 import DeploymentSpecArgs
from pulumi_kubernetes.core.v1 import (
    AffinityArgs,
    CapabilitiesArgs,
    ContainerArgs,
    EmptyDirVolumeSourceArgs,
    EnvVarArgs,
    EnvVarSourceArgs,
    HTTPGetActionArgs,
    LocalObjectReferenceArgs,
    ObjectFieldSelectorArgs,
    PodAffinityTermArgs,
    PodAntiAffinityArgs,
    PodSecurityContextArgs,
    PodSpecArgs,
    PodTemplateSpecArgs,
    ProbeArgs,
    ResourceRequirementsArgs,
    SecurityContextArgs,
    TolerationArgs,
    VolumeArgs,
    VolumeMountArgs,
    WeightedPodAffinityTermArgs,
)
from pulumi_kubernetes.meta.v1 import LabelSelectorArgs, LabelSelectorRequirementArgs, ObjectMetaArgs
from pulumi_kubernetes.rbac.v1 import PolicyRuleArgs

from config.model import ResourceName, Toleration
from config.stack import StackConfig

OPERATOR_NAMESPACE = "open-cluster-management"
HUB_NAMESPACE = "open-cluster-management-hub"
OPERATOR_NAME = "cluster-manager"
IMAGE_PULL_SECRET = "open-cluster-management-image-pull-credentials"
APP_LABELS = {"app": "cluster-manager"}

_ALL = ["create", "get", "list", "update", "watch", "patch", "delete"]
_READ = ["get", "list", "watch"]


def _rule(
    groups: Sequence[str], resources: Sequence[str], verbs: Sequence[str], names: Sequence[str] = ()
) -> PolicyRuleArgs:
    return PolicyRuleArgs(
        api_groups=list(groups), resources=list(resources), verbs=list(verbs), resource_names=list(names) or None
    )


# The operator's ClusterRole rules, in upstream order (config/rbac/cluster_role.yaml).
CLUSTER_ROLE_RULES: list[PolicyRuleArgs] = [
    _rule([""], ["configmaps", "namespaces", "serviceaccounts", "services"], [*_ALL, "deletecollection"]),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule([""], ["serviceaccounts/token"], ["subscribe"]),
    _rule([""], ["pods"], ["get"]),
    _rule(
        [""],
        ["secrets"],
        ["get", "list", "watch", "update", "patch", "delete"],
        [
            "signer-secret",
            "registration-webhook-serving-cert",
            "work-webhook-serving-cert",
            "addon-webhook-serving-cert",
            "registration-controller-sa-kubeconfig",
            "registration-webhook-sa-kubeconfig",
            "work-webhook-sa-kubeconfig",
            "placement-controller-sa-kubeconfig",
            "work-controller-sa-kubeconfig",
            "addon-manager-controller-sa-kubeconfig",
            "addon-webhook-sa-kubeconfig",
            "external-hub-kubeconfig",
            "work-driver-config",
            IMAGE_PULL_SECRET,
            "grpc-server-serving-cert",
            "cluster-import-config",
        ],
    ),
    _rule([""], ["secrets"], ["create"]),
    _rule(["coordination.k8s.io"], ["leases"], _ALL),
    _rule([""], ["nodes"], _READ),
    _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create", "get"]),
    _rule(
        ["", "events.k8s.io"],
        ["events"],
        ["get", "list", "watch", "create", "patch", "update", "delete", "deletecollection"],
    ),
    _rule(["apps"], ["deployments"], _ALL),
    _rule(["apps"], ["replicasets"], ["get"]),
    _rule(["rbac.authorization.k8s.io"], ["clusterrolebindings", "rolebindings"], _ALL),
    _rule(["rbac.authorization.k8s.io"], ["clusterroles", "roles"], _ALL),
    _rule(["apiextensions.k8s.io"], ["customresourcedefinitions"], _ALL),
    _rule(["apiextensions.k8s.io"], ["customresourcedefinitions/status"], ["update", "patch"]),
    _rule(["apiregistration.k8s.io"], ["apiservices"], _ALL),
    _rule(["admissionregistration.k8s.io"], ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"], _ALL),
    _rule(
        ["operator.open-cluster-management.io"],
        ["clustermanagers"],
        ["get", "list", "watch", "update", "delete", "patch"],
    ),
    _rule(["operator.open-cluster-management.io"], ["clustermanagers/status"], ["update", "patch"]),
    _rule(["migration.k8s.io"], ["storageversionmigrations"], _ALL),
    _rule(
        ["addon.open-cluster-management.io"],
        ["managedclusteraddons", "clustermanagementaddons"],
        ["create", "update", "patch", "get", "list", "watch", "delete"],
    ),
    _rule(
        ["addon.open-cluster-management.io"],
        ["managedclusteraddons/status", "clustermanagementaddons/status"],
        ["patch", "update"],
    ),
    _rule(
        ["addon.open-cluster-management.io"],
        ["managedclusteraddons/finalizers", "clustermanagementaddons/finalizers"],
        ["update"],
    ),
    _rule(["addon.open-cluster-management.io"], ["addondeploymentconfigs", "addontemplates"], _READ),
    _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
    _rule(["certificates.k8s.io"], ["certificatesigningrequests"], ["create", "get", "list", "watch"]),
    _rule(
        ["certificates.k8s.io"],
        ["certificatesigningrequests/approval", "certificatesigningrequests/status"],
        ["update"],
    ),
    _rule(["certificates.k8s.io"], ["signers"], ["approve", "sign"]),
    _rule(
        ["cluster.open-cluster-management.io"],
        ["managedclusters"],
        ["get", "list", "watch", "create", "update", "patch"],
    ),
    _rule(
        ["cluster.open-cluster-management.io"],
        ["managedclustersetbindings", "placements", "addonplacementscores"],
        _READ,
    ),
    _rule(
        ["cluster.open-cluster-management.io"],
        ["managedclustersets", "placementdecisions"],
        ["get", "list", "watch", "create", "update", "patch", "delete"],
    ),
    _rule(
        ["cluster.open-cluster-management.io"],
        [
            "managedclusters/status",
            "managedclustersetbindings/status",
            "managedclustersets/status",
            "placements/status",
            "placementdecisions/status",
        ],
        ["update", "patch"],
    ),
    _rule(["cluster.open-cluster-management.io"], ["placements/finalizers"], ["update"]),
    _rule(["register.open-cluster-management.io"], ["managedclusters/clientcertificates"], ["renew"]),
    _rule(["register.open-cluster-management.io"], ["managedclusters/accept"], ["update"]),
    _rule(
        ["work.open-cluster-management.io"],
        ["manifestworkreplicasets"],
        ["get", "list", "watch", "create", "update", "delete", "deletecollection", "patch"],
    ),
    _rule(["work.open-cluster-management.io"], ["manifestworkreplicasets/finalizers"], ["update"]),
    _rule(
        ["work.open-cluster-management.io"],
        ["manifestworks"],
        ["get", "list", "watch", "create", "update", "delete", "deletecollection", "patch", "execute-as"],
    ),
    _rule(
        ["work.open-cluster-management.io"],
        ["manifestworks/status", "manifestworkreplicasets/status"],
        ["update", "patch"],
    ),
    _rule(["flowcontrol.apiserver.k8s.io"], ["flowschemas", "prioritylevelconfigurations"], _READ),
    _rule(["config.openshift.io"], ["infrastructures"], ["get"]),
    _rule(
        ["multicluster.x-k8s.io"], ["clusterprofiles"], ["get", "list", "watch", "create", "update", "patch", "delete"]
    ),
    _rule(["multicluster.x-k8s.io"], ["clusterprofiles/status"], ["update", "patch"]),
    _rule(["cluster.x-k8s.io"], ["clusters"], _READ),
    _rule(["cluster.open-cluster-management.io"], ["managedclustersets/join"], ["create"]),
]


def image_pull_secrets(cfg: StackConfig) -> list[LocalObjectReferenceArgs]:
    """Upstream's pull secret (the operator copies it to the hub namespace) plus the stack's own."""
    return [LocalObjectReferenceArgs(name=name) for name in [IMAGE_PULL_SECRET, *cfg.image_pull_secrets]]


def tolerations(items: Sequence[Toleration]) -> list[TolerationArgs] | None:
    return [
        TolerationArgs(
            key=t.key, operator=t.operator, value=t.value, effect=t.effect, toleration_seconds=t.toleration_seconds
        )
        for t in items
    ] or None


def operator_args(cfg: StackConfig) -> list[str]:
    """`--skip-remove-crds` unless teardown is allowed: deleting the ClusterManager must not wipe the fleet."""
    args = ["/registration-operator", "hub"]
    if cfg.operator.enable_sync_labels:
        args.append("--enable-sync-labels")
    if not cfg.allow_teardown:
        args.append("--skip-remove-crds")
    return args


def _quantities(values: Mapping[ResourceName, str]) -> dict[str, str] | None:
    return {str(name): quantity for name, quantity in values.items()} or None


def _anti_affinity_term(weight: int, topology_key: str) -> WeightedPodAffinityTermArgs:
    return WeightedPodAffinityTermArgs(
        weight=weight,
        pod_affinity_term=PodAffinityTermArgs(
            topology_key=topology_key,
            label_selector=LabelSelectorArgs(
                match_expressions=[LabelSelectorRequirementArgs(key="app", operator="In", values=["cluster-manager"])]
            ),
        ),
    )


def _probe(period_seconds: int | None = None) -> ProbeArgs:
    return ProbeArgs(
        http_get=HTTPGetActionArgs(path="/healthz", scheme="HTTPS", port=8443),
        initial_delay_seconds=2,
        period_seconds=period_seconds,
    )


def deployment_spec(cfg: StackConfig) -> DeploymentSpecArgs:
    image = cfg.image("registrationOperator")
    resources = cfg.operator.resources
    return DeploymentSpecArgs(
        replicas=cfg.operator.replicas,
        selector=LabelSelectorArgs(match_labels=APP_LABELS),
        template=PodTemplateSpecArgs(
            metadata=ObjectMetaArgs(labels=APP_LABELS),
            spec=PodSpecArgs(
                affinity=AffinityArgs(
                    pod_anti_affinity=PodAntiAffinityArgs(
                        preferred_during_scheduling_ignored_during_execution=[
                            _anti_affinity_term(70, "failure-domain.beta.kubernetes.io/zone"),
                            _anti_affinity_term(30, "kubernetes.io/hostname"),
                        ]
                    )
                ),
                node_selector=dict(cfg.operator.node_selector) or None,
                tolerations=tolerations(cfg.operator.tolerations),
                security_context=PodSecurityContextArgs(run_as_non_root=True),
                service_account_name=OPERATOR_NAME,
                containers=[
                    ContainerArgs(
                        name="registration-operator",
                        image=image,
                        image_pull_policy=cfg.images.pull_policy,
                        args=operator_args(cfg),
                        env=[
                            EnvVarArgs(
                                name="POD_NAME",
                                value_from=EnvVarSourceArgs(
                                    field_ref=ObjectFieldSelectorArgs(field_path="metadata.name")
                                ),
                            ),
                            EnvVarArgs(name="AGENT_IMAGE", value=image),
                        ],
                        security_context=SecurityContextArgs(
                            allow_privilege_escalation=False,
                            capabilities=CapabilitiesArgs(drop=["ALL"]),
                            privileged=False,
                            read_only_root_filesystem=True,
                            run_as_non_root=True,
                        ),
                        liveness_probe=_probe(period_seconds=10),
                        readiness_probe=_probe(),
                        resources=ResourceRequirementsArgs(
                            requests=_quantities(resources.requests), limits=_quantities(resources.limits)
                        ),
                        volume_mounts=[VolumeMountArgs(name="tmpdir", mount_path="/tmp")],
                    )
                ],
                volumes=[VolumeArgs(name="tmpdir", empty_dir=EmptyDirVolumeSourceArgs())],
            ),
        ),
    )
