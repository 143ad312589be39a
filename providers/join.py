"""Join one vela cluster, as `clusteradm join` + `clusteradm accept` do, and update a joined one in place:
complete, validate, run.

`Join.complete` reads what the inputs point at (the vela secret, the cluster the klusterlet runs on);
`validate` refuses a managed cluster already joined under another name; `run` applies the hub side, the
bootstrap identity and the klusterlet, approves the cluster's CSRs and waits, bounded, until it is
Joined and Available (and its addons, when asked). Every step is idempotent (server-side apply), so a
create that failed half-way completes on the next `pulumi up`. The unjoin is providers/unjoin.py.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from config.names import CLUSTERSET_LABEL
from providers import klusterlet as kl
from providers.cluster_status import ADDON, AVAILABLE, JOINED, cluster_status, condition, read_addons
from providers.kube import Kube, KubeError
from providers.poll import Unmet
from providers.registration import (
    CSR,
    KLUSTERLET,
    MANAGED_CLUSTER,
    MODE_ANNOTATION,
    SECRET_ANNOTATION,
    ClusterAccess,
    JoinError,
    Registration,
)
from providers.vela import VelaCluster

MANAGED_CLUSTER_SET = ("cluster.open-cluster-management.io/v1beta2", "ManagedClusterSet")
# Sets the hub manages itself; joining them needs no ManagedClusterSet from us.
HUB_MANAGED_SETS = frozenset({"default", "global"})
TOKEN_SECONDS = 3600


def join(access: ClusterAccess, reg: Registration) -> dict[str, Any]:
    """Register the cluster and wait, bounded, until it is Joined and Available; its status."""
    step = Join.complete(access, reg)
    step.validate()
    access.log(f"cluster {reg.cluster}: registering ({reg.mode} klusterlet)")
    return step.run(bootstrap=True)


def update(access: ClusterAccess, reg: Registration) -> dict[str, Any]:
    """Labels, cluster set, endpoint and klusterlet release, in place. A new bootstrap token only when the
    agents' bootstrap kubeconfig names another hub address than the registration's (hubApiServer changed):
    then the agents bootstrap again against the new address (see `Join.run`)."""
    step = Join.complete(access, reg)
    step.validate()
    return step.run(bootstrap=False)


def managed_cluster(reg: Registration, vela: VelaCluster) -> dict[str, Any]:
    """The ManagedCluster, accepted: `clusteradm accept` without waiting for the agent to ask."""
    return {
        "apiVersion": MANAGED_CLUSTER[0],
        "kind": MANAGED_CLUSTER[1],
        "metadata": {
            "name": reg.cluster,
            "labels": {**reg.labels, CLUSTERSET_LABEL: reg.cluster_set},
            "annotations": {
                **reg.annotations,
                SECRET_ANNOTATION: f"{reg.secret_namespace}/{reg.secret_name}",
                MODE_ANNOTATION: reg.mode,
            },
        },
        "spec": {
            "hubAcceptsClient": True,
            "managedClusterClientConfigs": [
                {"url": vela.endpoint, **({"caBundle": base64.b64encode(vela.ca).decode()} if vela.ca else {})}
            ],
        },
    }


def _reason(state: dict[str, str]) -> str:
    return f" ({state['reason']}: {state['message']})" if state["reason"] else ""


@dataclass(frozen=True)
class Join:
    """One join, completed: the inputs and what they point at."""

    access: ClusterAccess
    reg: Registration
    vela: VelaCluster
    target: Kube  # where the klusterlet runs: the managed cluster (Default) or the hub (Hosted)

    @classmethod
    def complete(cls, access: ClusterAccess, reg: Registration) -> Join:
        vela = access.vela_cluster(reg)
        target = access.hub if reg.mode == "Hosted" else access.connect(vela.kubeconfig())
        return cls(access, reg, vela, target)

    def validate(self) -> None:
        """A managed cluster runs one klusterlet: joined under another name, it must be unjoined first."""
        reg = self.reg
        if reg.mode != "Default":
            return
        existing = self.target.get(*KLUSTERLET, kl.klusterlet_name(reg.cluster, reg.mode))
        joined_as = ((existing or {}).get("spec") or {}).get("clusterName")
        if joined_as and joined_as != reg.cluster:
            raise JoinError(
                f"cluster {reg.cluster}: the managed cluster already runs a klusterlet for cluster {joined_as!r}; "
                "unjoin it first (clusteradm unjoin) or register it under that name"
            )

    def run(self, *, bootstrap: bool) -> dict[str, Any]:
        """Apply everything, wait, and return the status. With `bootstrap` (a join), or when the agents'
        bootstrap kubeconfig names another hub address or CA than the registration's, a new bootstrap
        kubeconfig is written, with a fresh token. That is what moves the agents: in OCM v1.2.1 the registration
        agent alone does it (the klusterlet operator has no bootstrap controller): it restarts when its bootstrap
        secret's data changes (pkg/registration/spoke/event_handler.go), finds its hub kubeconfig invalid when
        server, proxy, CA or cluster name differ from the bootstrap kubeconfig's (register.IsHubKubeconfigValid),
        and bootstraps again. The update then waits until `hub-kubeconfig-secret` names the new address,
        approving the new CSR as a join does."""
        self.apply_hub_side()
        endpoint = self._hub_endpoint()
        moved = not bootstrap and kl.hub_endpoint(self._agent_secret(kl.BOOTSTRAP_SECRET)) != endpoint
        if moved:
            self.access.log(f"cluster {self.reg.cluster}: the agents bootstrap again, against {endpoint[0]}")
        self.apply_klusterlet(kl.Bootstrap(*endpoint, self._bootstrap_token()) if bootstrap or moved else None)
        self.wait_joined(endpoint[0] if moved else None)
        if self.reg.wait_for_addons and self.reg.addons:
            self.wait_addons()
        hub, reg = self.access.hub, self.reg
        return cluster_status(
            hub.get(*MANAGED_CLUSTER, reg.cluster), reg.mode, read_addons(hub, reg.cluster, reg.addons)
        )

    def apply_hub_side(self) -> None:
        hub, reg = self.access.hub, self.reg
        if reg.cluster_set not in HUB_MANAGED_SETS:
            hub.apply(
                {
                    "apiVersion": MANAGED_CLUSTER_SET[0],
                    "kind": MANAGED_CLUSTER_SET[1],
                    "metadata": {"name": reg.cluster_set},
                }
            )
        hub.apply(managed_cluster(reg, self.vela))
        for obj in kl.bootstrap_objects(reg.cluster):
            hub.apply(obj)

    def apply_klusterlet(self, bootstrap: kl.Bootstrap | None) -> None:
        """The klusterlet operator and CR: on the managed cluster (Default) or on the hub (Hosted)."""
        reg, target = self.reg, self.target
        for obj in kl.operator_objects(reg.images, reg.ocm_version):
            target.apply(obj)
        namespace = kl.agent_namespace(reg.cluster, reg.mode)
        target.apply(kl.namespace(namespace))
        if bootstrap is not None:
            target.apply(kl.kubeconfig_secret(kl.BOOTSTRAP_SECRET, namespace, kl.bootstrap_kubeconfig(bootstrap)))
        if reg.mode == "Hosted":
            target.apply(kl.kubeconfig_secret(kl.EXTERNAL_MANAGED_SECRET, namespace, self.vela.kubeconfig()))
        target.apply(kl.klusterlet(kl.Agent(reg.cluster, reg.mode, reg.images, self.vela.endpoint), reg.ocm_version))

    def _bootstrap_token(self) -> str:
        account = kl.bootstrap_account(self.reg.cluster)
        response = self.access.hub.post(
            f"/api/v1/namespaces/{kl.OPERATOR_NAMESPACE}/serviceaccounts/{account}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS},
            },
        )
        token = str((response.get("status") or {}).get("token") or "")
        if not token:
            raise JoinError(f"cluster {self.reg.cluster}: the hub issued no bootstrap token for {account}")
        return token

    def _hub_endpoint(self) -> tuple[str, bytes]:
        """Where agents dial the hub, and the CA that proves it (kubeconfig's, else kube-root-ca.crt)."""
        hub, reg = self.access.hub, self.reg
        if reg.mode == "Hosted":
            server = reg.hub_api_server or "https://kubernetes.default.svc:443"
        else:
            server = reg.hub_api_server or hub.server
        ca = hub.ca_data
        if not ca:
            root = hub.get("v1", "ConfigMap", "kube-root-ca.crt", kl.OPERATOR_NAMESPACE)
            ca = str(((root or {}).get("data") or {}).get("ca.crt", "")).encode()
        return server, ca

    def _agent_secret(self, name: str) -> dict[str, Any] | None:
        return self.target.get("v1", "Secret", name, kl.agent_namespace(self.reg.cluster, self.reg.mode))

    def approve_pending(self) -> int:
        """Approve this cluster's CSRs from its own bootstrap identity; nobody else's."""
        hub, reg = self.access.hub, self.reg
        approved = 0
        username = kl.bootstrap_username(reg.cluster)
        for csr in hub.list(*CSR, label_selector=f"{kl.CLUSTER_NAME_LABEL}={reg.cluster}"):
            if (csr.get("spec") or {}).get("username") != username:
                continue
            conditions = (csr.get("status") or {}).get("conditions") or []
            if any(c.get("type") in ("Approved", "Denied") for c in conditions):
                continue
            csr.setdefault("status", {})["conditions"] = [
                *conditions,
                {
                    "type": "Approved",
                    "status": "True",
                    "reason": "ApprovedByOcmHub",
                    "message": f"ocm-hub approved the bootstrap request of cluster {reg.cluster}",
                },
            ]
            name = csr["metadata"]["name"]
            hub.put(hub.path(*CSR, name) + "/approval", csr)
            self.access.log(f"cluster {reg.cluster}: approved CSR {name}")
            approved += 1
        return approved

    def wait_joined(self, server: str | None = None) -> None:
        """Until the cluster is Joined and Available (bounded), and with `server`, until the agents' hub
        kubeconfig names it."""
        reg = self.reg

        def look() -> Unmet | None:
            self.approve_pending()
            if server is not None:
                dialed = kl.hub_endpoint(self._agent_secret(kl.HUB_KUBECONFIG_SECRET))
                if dialed is None or dialed[0] != server:
                    return Unmet(
                        f"the agents still dial {dialed[0] if dialed else 'no hub'} after {reg.timeout_seconds}s, "
                        f"not {server} ({kl.HUB_KUBECONFIG_SECRET} in {kl.agent_namespace(reg.cluster, reg.mode)})",
                        f"cluster {reg.cluster}: waiting for the agents to bootstrap again against {server}",
                    )
            live = self.access.hub.get(*MANAGED_CLUSTER, reg.cluster)
            joined, available = condition(live, JOINED), condition(live, AVAILABLE)
            if joined["status"] == "True" and available["status"] == "True":
                return None
            waiting, state = (JOINED, joined) if joined["status"] != "True" else (AVAILABLE, available)
            return Unmet(
                f"not {waiting.removeprefix('ManagedCluster').removeprefix('Condition')} after "
                f"{reg.timeout_seconds}s: condition {waiting} is {state['status']}{_reason(state)}",
                f"cluster {reg.cluster}: waiting for {JOINED}={joined['status']}, {AVAILABLE}={available['status']}",
            )

        unmet = self.access.pacing.until(look, reg.timeout_seconds)
        if unmet is not None:
            raise JoinError(
                f"cluster {reg.cluster}: {unmet.condition}; check the klusterlet agents and that they reach the hub API"
            )
        self.access.log(f"cluster {reg.cluster}: joined and available")

    def wait_addons(self) -> None:
        """Until each enabled addon is Available (bounded), creating a ManagedClusterAddOn no install
        strategy has made."""
        reg = self.reg

        def look() -> Unmet | None:
            live = read_addons(self.access.hub, reg.cluster, reg.addons)
            for name, obj in live.items():
                if obj is None:
                    self._create_addon(name)
            states = {name: condition(obj, "Available") for name, obj in live.items()}
            waiting = {name: state for name, state in states.items() if state["status"] != "True"}
            if not waiting:
                return None
            name, state = sorted(waiting.items())[0]
            return Unmet(
                f"addon {name} not Available after {reg.addon_timeout_seconds}s: condition Available is "
                f"{state['status']}{_reason(state)}; other addons still waiting: "
                f"{', '.join(sorted(waiting)[1:]) or 'none'}",
                f"cluster {reg.cluster}: waiting for addons {', '.join(sorted(waiting))} to be Available",
            )

        unmet = self.access.pacing.until(look, reg.addon_timeout_seconds)
        if unmet is not None:
            raise JoinError(f"cluster {reg.cluster}: {unmet.condition}")
        self.access.log(f"cluster {reg.cluster}: addons {', '.join(reg.addons)} available")

    def _create_addon(self, name: str) -> None:
        """Only where no install strategy made one; the hub makes the cluster namespace on acceptance."""
        cluster = self.reg.cluster
        try:
            self.access.hub.create(
                {"apiVersion": ADDON[0], "kind": ADDON[1], "metadata": {"name": name, "namespace": cluster}, "spec": {}}
            )
        except KubeError as err:
            if err.status not in (404, 409):  # namespace not there yet, or the addon-manager was quicker
                raise
        else:
            self.access.log(
                f"cluster {cluster}: created ManagedClusterAddOn {name} (its addon manager makes none by itself)"
            )
