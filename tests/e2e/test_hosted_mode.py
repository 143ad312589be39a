"""ocm-hub's Hosted mode through the real OCM agents: managed-1 registered with its klusterlet on the hub.

The registration provider (through the SDK's dynamic-provider server, as the engine runs it) puts the
klusterlet operator and the cluster's Klusterlet `klusterlet-managed-1` on the hub, with managed-1's
kubeconfig as `external-managed-kubeconfig`. The operator renders the registration and work agents into
the hub namespace `klusterlet-managed-1`, which they know only from their pod's service-account mount
(`/var/run/secrets/kubernetes.io/serviceaccount/namespace`, as OCM's agents read it); the local kubelet
runs them as processes. They reach the hub at `kubernetes.default.svc` and managed-1 through its vela
kubeconfig. Then the unjoin: nothing the join made stays, on either cluster.
"""

from __future__ import annotations

from ocmhub_testing.dynamic_server import DynamicServer
from providers import klusterlet as kl
from providers.registration import ClusterAccess
from providers.unjoin import unjoin
from tests.e2e.conftest import Cluster
from tests.e2e.kubeutil import condition, get, kubelet_running, wait_gone
from tests.e2e.test_ocm_live import (  # noqa: F401  # the fixtures, by name
    CALL_TIMEOUT,
    GONE_TIMEOUT,
    HUB_NAMESPACE,
    MC_PATH,
    OPERATOR_NAMESPACE,
    Hub,
    _ready_cluster_manager,
    _registration,
    ocm_hub,
    provider,
    vela_secret,
)

CLUSTER = "managed-1"
AGENTS = kl.agent_namespace(CLUSTER, "Hosted")  # klusterlet-managed-1, on the hub
KLUSTERLET = kl.klusterlet_name(CLUSTER, "Hosted")
# Where the Klusterlet says the agents' objects go on managed-1 (its spec.namespace).
MANAGED_NAMESPACE = f"open-cluster-management-{CLUSTER}"
KLUSTERLET_PATH = f"/apis/operator.open-cluster-management.io/v1/klusterlets/{KLUSTERLET}"
OPERATOR_PATH = f"/apis/apps/v1/namespaces/{OPERATOR_NAMESPACE}/deployments/klusterlet"


def test_a_hosted_cluster_joins_with_its_agents_on_the_hub_and_unjoins_leaving_nothing(
    ocm_hub: Hub,  # noqa: F811
    provider: DynamicServer,  # noqa: F811
    vela_secret: dict[str, object],  # noqa: F811
    managed: Cluster,
) -> None:
    hub, spoke = ocm_hub.cluster.client, managed.client
    _ready_cluster_manager(ocm_hub)
    registration = _registration("Hosted")
    unjoined = False
    try:
        with ocm_hub.kubelet.reporting():
            id_, outs = provider.create({"spec": registration.props()}, timeout=CALL_TIMEOUT)
            assert outs["status"]["klusterletMode"] == "Hosted"
            live = get(hub, MC_PATH)
            assert condition(live, "ManagedClusterJoined") == "True"
            assert condition(live, "ManagedClusterConditionAvailable") == "True"

            # The agents run on the hub, in the cluster's own namespace, and wrote their credentials there:
            # an agent without its pod's namespace file would have used open-cluster-management-agent.
            kubelet_running(hub, OPERATOR_NAMESPACE, "klusterlet", timeout=0)
            kubelet_running(hub, AGENTS, f"{KLUSTERLET}-registration-agent", timeout=0)
            kubelet_running(hub, AGENTS, f"{KLUSTERLET}-work-agent", timeout=60)
            hub_secret = get(hub, f"/api/v1/namespaces/{AGENTS}/secrets/{kl.HUB_KUBECONFIG_SECRET}")
            assert hub_secret is not None
            assert hub_secret["data"].get("tls.crt")  # the agent's certificate, once its CSR was signed
            assert get(hub, f"/api/v1/namespaces/{kl.DEFAULT_AGENT_NAMESPACE}") is None
            assert get(hub, f"/apis/coordination.k8s.io/v1/namespaces/{CLUSTER}/leases/managed-cluster-lease")
            # On managed-1 nothing of OCM runs: the hosted agents reach it through vela's kubeconfig and
            # put only their namespace and CRDs there.
            assert get(spoke, OPERATOR_PATH) is None
            assert get(spoke, f"/api/v1/namespaces/{kl.DEFAULT_AGENT_NAMESPACE}") is None
            assert get(spoke, f"/api/v1/namespaces/{MANAGED_NAMESPACE}") is not None
            assert get(
                spoke,
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/appliedmanifestworks.work.open-cluster-management.io",
            )
            assert [
                p for p in spoke.request("GET", "/api/v1/pods")["items"] if "klusterlet" in p["metadata"]["name"]
            ] == []

            provider.delete(id_, outs, timeout=CALL_TIMEOUT)
            unjoined = True
            assert get(hub, MC_PATH) is None
            assert get(hub, KLUSTERLET_PATH) is None
            wait_gone(hub, f"/api/v1/namespaces/{AGENTS}", timeout=GONE_TIMEOUT)
            # The hub ran the last hosted klusterlet: its operator goes too, as on a managed cluster.
            assert get(hub, OPERATOR_PATH) is None
            assert (
                get(hub, f"/apis/coordination.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/leases/{kl.OPERATOR_LEASE}")
                is None
            )
            assert (
                get(hub, f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/serviceaccounts/{kl.bootstrap_account(CLUSTER)}")
                is None
            )
            csrs = hub.list(
                "certificates.k8s.io/v1", "CertificateSigningRequest", None, f"{kl.CLUSTER_NAME_LABEL}={CLUSTER}"
            )
            assert csrs == []
            assert get(
                hub, f"/apis/apps/v1/namespaces/{HUB_NAMESPACE}/deployments/cluster-manager-registration-controller"
            )
            # The operator removed the agents' namespace on managed-1 through the external kubeconfig (the
            # CRDs it installed there stay, by upstream's design: crdmanager Clean with skip).
            wait_gone(spoke, f"/api/v1/namespaces/{MANAGED_NAMESPACE}", timeout=GONE_TIMEOUT)
            assert ocm_hub.kubelet.new_errors() == []
    finally:
        if not unjoined:  # leave both clusters as found, with the agents still running to let go
            unjoin(ClusterAccess(hub), registration)
