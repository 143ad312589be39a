"""The registration-operator in hub (cluster-manager) mode: namespace, CRD, RBAC, Deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi_kubernetes.apiextensions.v1 import CustomResourceDefinition
from pulumi_kubernetes.apps.v1 import Deployment
from pulumi_kubernetes.core.v1 import Namespace, ServiceAccount
from pulumi_kubernetes.meta.v1 import ObjectMetaArgs
from pulumi_kubernetes.rbac.v1 import ClusterRole, ClusterRoleBinding, RoleRefArgs, SubjectArgs

from components import operator_manifests as manifests
from config import RELEASES, StackConfig

DATA_DIR = Path(__file__).parent / "data"


def load_crd(cfg: StackConfig) -> dict[str, Any]:
    """The ClusterManager CRD shipped for the configured release (copied from upstream, see data/)."""
    crd: dict[str, Any] = yaml.safe_load((DATA_DIR / RELEASES[cfg.ocm_version].crd_file).read_text())
    return crd


class RegistrationOperator(pulumi.ComponentResource):
    """Everything the ClusterManager needs to be reconciled, declared before it.

    The CRD is retained on delete unless `allowTeardown` is set: removing it would delete every
    ClusterManager with it, and with them (through the operator) the fleet.
    """

    namespace: Namespace
    crd: CustomResourceDefinition
    deployment: Deployment

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ocm-hub:index:RegistrationOperator", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        timeout = {"pulumi.com/timeoutSeconds": str(cfg.readiness_timeout)}

        crd = load_crd(cfg)
        self.crd = CustomResourceDefinition(
            f"{name}-clustermanagers-crd",
            metadata=ObjectMetaArgs(name=crd["metadata"]["name"]),
            spec=crd["spec"],
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=not cfg.allow_teardown)),
        )
        self.namespace = Namespace(
            f"{name}-namespace", metadata=ObjectMetaArgs(name=manifests.OPERATOR_NAMESPACE), opts=child
        )
        namespace = self.namespace.metadata.name
        account = ServiceAccount(
            f"{name}-sa",
            metadata=ObjectMetaArgs(name=manifests.OPERATOR_NAME, namespace=namespace),
            image_pull_secrets=manifests.image_pull_secrets(cfg),
            opts=child,
        )
        role = ClusterRole(
            f"{name}-role",
            metadata=ObjectMetaArgs(name=manifests.OPERATOR_NAME),
            rules=manifests.CLUSTER_ROLE_RULES,
            opts=child,
        )
        binding = ClusterRoleBinding(
            f"{name}-binding",
            metadata=ObjectMetaArgs(name=manifests.OPERATOR_NAME),
            role_ref=RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role.metadata.name),
            subjects=[SubjectArgs(kind="ServiceAccount", name=account.metadata.name, namespace=namespace)],
            opts=child,
        )
        self.deployment = Deployment(
            f"{name}-deployment",
            metadata=ObjectMetaArgs(
                name=manifests.OPERATOR_NAME, namespace=namespace, labels=manifests.APP_LABELS, annotations=timeout
            ),
            spec=manifests.deployment_spec(cfg),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.crd, binding])),
        )
        self.register_outputs({})
