"""Unjoin one vela cluster, as OCM's cluster deletion and `clusteradm unjoin` do: the ManagedCluster first,
then the klusterlet, the cluster's CSRs and its bootstrap identity.

The ManagedCluster goes while the cluster's agents still run: the hub deletes its ManagedClusterAddOns and
ManifestWorks before letting it go, and each ManifestWork's finalizer is the work agent's to remove once it
deleted what the work applied (the addons' agents). The klusterlet removed first would leave every
ManifestWork there, and with it the ManagedCluster, waiting for an agent that never comes back (seen in e2e
when a destroy uninstalled the addons while it unjoined).

Gone is done: every delete treats a missing object as deleted, so a destroy that stopped half-way
finishes on the next run. Every wait is bounded and says what it waited for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers import klusterlet as kl
from providers.kube import Kube, KubeError
from providers.poll import Unmet
from providers.registration import CSR, KLUSTERLET, MANAGED_CLUSTER, ClusterAccess, JoinError, Registration

LEASE = ("coordination.k8s.io/v1", "Lease")
POD_GRACE_SECONDS = 60  # the default terminationGracePeriodSeconds (30 s), with room to spare


def unjoin(access: ClusterAccess, reg: Registration) -> None:
    """Remove the ManagedCluster (its works cleaned up by its agents), the klusterlet where it can be reached,
    then everything else the join made on the hub."""
    access.log(f"cluster {reg.cluster}: unjoining")
    hub = access.hub
    hub.delete(*MANAGED_CLUSTER, reg.cluster)
    _wait_gone(access, hub, MANAGED_CLUSTER, reg.cluster, reg)
    target = hub if reg.mode == "Hosted" else _managed_cluster(access, reg)
    if target is not None:
        _remove_klusterlet(access, target, reg)
    # The registration agent stops asking for a certificate once a cluster has "too many" CSRs on the
    # hub (seen in e2e after a few join/unjoin rounds); issued ones are spent once the cluster is gone.
    for csr in hub.list(*CSR, label_selector=f"{kl.CLUSTER_NAME_LABEL}={reg.cluster}"):
        hub.delete(*CSR, csr["metadata"]["name"])
    for obj in reversed(kl.bootstrap_objects(reg.cluster)):
        metadata = obj["metadata"]
        hub.delete(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))


def _managed_cluster(access: ClusterAccess, reg: Registration) -> Kube | None:
    """The managed cluster through its vela secret; None, said, when the secret is gone."""
    try:
        vela = access.vela_cluster(reg)
    except JoinError:
        access.log(
            f"cluster {reg.cluster}: vela secret {reg.secret_namespace}/{reg.secret_name} is gone, so the klusterlet "
            "on the managed cluster cannot be reached; remove it there with `clusteradm unjoin`"
        )
        return None
    return access.connect(vela.kubeconfig())


def _remove_klusterlet(access: ClusterAccess, target: Kube, reg: Registration) -> None:
    """The cluster's Klusterlet and agent namespace, then the klusterlet operator once it runs no other
    Klusterlet there: on the managed cluster (Default), or on the hub (Hosted: the last hosted cluster)."""
    name = kl.klusterlet_name(reg.cluster, reg.mode)
    target.delete(*KLUSTERLET, name)
    _wait_gone(access, target, KLUSTERLET, name, reg)
    try:
        target.delete("v1", "Namespace", kl.agent_namespace(reg.cluster, reg.mode))
    except KubeError as err:
        if err.status != 409:  # 409: already terminating (a destroy re-run after a half-finished one)
            raise
    if not target.list(*KLUSTERLET):
        for obj in reversed(kl.operator_objects(reg.images, reg.ocm_version)):
            if obj["kind"] in ("Namespace", "CustomResourceDefinition"):
                continue
            metadata = obj["metadata"]
            target.delete(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))
            if obj["kind"] == "Deployment" and _pods_gone(access, target, obj, reg):
                target.delete(*LEASE, kl.OPERATOR_LEASE, metadata["namespace"])


def _pods_gone(access: ClusterAccess, kube: Kube, deployment: Mapping[str, Any], reg: Registration) -> bool:
    """Whether the operator's pods stopped (bounded wait). The klusterlet operator exits without
    releasing its leader lease, so a re-join within the lease's 137 s would wait it out: once no
    operator runs, the lease is garbage and goes too. Never fatal: a node that is down must not
    block the unjoin."""
    selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
    namespace = deployment["metadata"]["namespace"]

    def look() -> Unmet | None:
        return Unmet("klusterlet operator pods still stopping") if kube.list("v1", "Pod", namespace, selector) else None

    if access.pacing.until(look, min(reg.timeout_seconds, POD_GRACE_SECONDS)) is None:
        return True
    access.log(f"cluster {reg.cluster}: klusterlet operator pods still stopping; leaving its lease")
    return False


def _wait_gone(access: ClusterAccess, kube: Kube, kind: tuple[str, str], name: str, reg: Registration) -> None:
    def look() -> Unmet | None:
        live = kube.get(*kind, name)
        if live is None:
            return None
        finalizers = ", ".join((live.get("metadata") or {}).get("finalizers") or []) or "none"
        return Unmet(
            f"{kind[1]} {name} still exists after {reg.timeout_seconds}s (finalizers: {finalizers}); "
            "is the operator that removes it running?"
        )

    unmet = access.pacing.until(look, reg.timeout_seconds)
    if unmet is not None:
        raise JoinError(f"cluster {reg.cluster}: {unmet.condition}")
