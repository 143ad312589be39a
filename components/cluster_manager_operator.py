"""The cluster-manager operator (upstream's registration-operator binary, in hub mode): namespace, CRD, RBAC,
Deployment."""

from __future__ import annotations

import pulumi
from pulumi_kubernetes.apiextensions.v1 import CustomResourceDefinition
from pulumi_kubernetes.apps.v1 import Deployment
from pulumi_kubernetes.core.v1 import Namespace, ServiceAccount
from pulumi_kubernetes.rbac.v1 import ClusterRole, ClusterRoleBinding

from components import operator_manifests as manifests
from config import StackConfig

TYPE = "ocm-hub:index:ClusterManagerOperator"
# Its type until "registration" came to mean registering clusters only: state written then still matches, and
# the engine derives its children's former URNs from this alias.
FORMER_TYPE = "ocm-hub:index:RegistrationOperator"


class ClusterManagerOperator(pulumi.ComponentResource):
    """Everything the ClusterManager needs to be reconciled, declared before it: the release's upstream
    objects (components/operator_manifests.py), in upstream's apply order.

    The CRD is retained on delete unless `allowTeardown` is set: removing it would delete every
    ClusterManager with it, and with them (through the operator) the fleet.
    """

    namespace: Namespace
    crd: CustomResourceDefinition
    deployment: Deployment

    def __init__(self, name: str, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        aliased = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=FORMER_TYPE)]))
        super().__init__(TYPE, name, None, aliased)
        objects = manifests.operator_objects(cfg)

        def child(*depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))

        crd = objects["CustomResourceDefinition"]
        self.crd = CustomResourceDefinition(
            f"{name}-clustermanagers-crd",
            metadata=crd["metadata"],
            spec=crd["spec"],
            opts=pulumi.ResourceOptions.merge(child(), pulumi.ResourceOptions(retain_on_delete=not cfg.allow_teardown)),
        )
        self.namespace = Namespace(f"{name}-namespace", metadata=objects["Namespace"]["metadata"], opts=child())
        account = objects["ServiceAccount"]
        service_account = ServiceAccount(
            f"{name}-sa",
            metadata=account["metadata"],
            image_pull_secrets=account["imagePullSecrets"],
            opts=child(self.namespace),
        )
        role = objects["ClusterRole"]
        cluster_role = ClusterRole(f"{name}-role", metadata=role["metadata"], rules=role["rules"], opts=child())
        binding = objects["ClusterRoleBinding"]
        cluster_role_binding = ClusterRoleBinding(
            f"{name}-binding",
            metadata=binding["metadata"],
            role_ref=binding["roleRef"],
            subjects=binding["subjects"],
            opts=child(cluster_role, service_account),
        )
        deployment = objects["Deployment"]
        self.rendered_deployment = deployment
        self.deployment = Deployment(
            f"{name}-deployment",
            metadata=deployment["metadata"],
            spec=deployment["spec"],
            opts=child(self.namespace, self.crd, cluster_role_binding),
        )
        self.register_outputs({})
