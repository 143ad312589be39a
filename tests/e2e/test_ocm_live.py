"""Stage 3: OCM itself, running for real as local processes against the local hub and managed-1.

The cluster-manager operator runs from upstream's Deployment and renders the hub; the hub's
registration controller, webhooks, placement and addon-manager run from the Deployments it created;
on managed-1 the klusterlet operator runs from the Deployment the registration provider applies and
renders the registration and work agents, which run from theirs: the local clusters' kubelet for OCM
(sandbox/kubelet.py) runs each as a process. Admission webhooks are called for real: kube-apiserver
reaches the webhook Service through its egress proxy, which leads to the local webhook process.
The registration runs through the SDK's dynamic-provider server, and through the real Pulumi CLI and
engine (stage 2's pinned build) as `pulumi up` runs it.

The binaries are OCM v1.2.1, not v1.3.1 like the manifests the project ships: the Go module proxy
refuses the source of v1.3.1 (and v1.3.0, v1.2.2), v1.2.1 is the newest release it serves
(hack/tools/ocm/go.mod).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from pulumi.runtime import rpc

import sandbox.clusters
from components.cluster_manager import cluster_manager_spec
from config import RawConfig, from_file, load
from config.versions import RELEASES
from ocmhub_testing.dynamic_server import DynamicServer, dynamic_server
from providers import klusterlet as kl
from providers.hub_status import READY_CONDITIONS, not_ready_reasons
from providers.kube import Kube, KubeError
from providers.registration import ClusterAccess, Registration
from providers.unjoin import unjoin
from sandbox import tools
from tests.e2e.conftest import REPO_ROOT, Cluster
from tests.e2e.kubeutil import Json, KubeletLog, condition, get, kubelet_running, wait_for, wait_gone
from tests.e2e.pulumi_cli import Project, missing_binaries

CLUSTER = "managed-1"
OPERATOR_NAMESPACE = "open-cluster-management"
HUB_NAMESPACE = "open-cluster-management-hub"
AGENT_NAMESPACE = kl.DEFAULT_AGENT_NAMESPACE
CM_PATH = "/apis/operator.open-cluster-management.io/v1/clustermanagers/cluster-manager"
MC_PATH = f"/apis/cluster.open-cluster-management.io/v1/managedclusters/{CLUSTER}"
CLUSTER_ROLE = f"open-cluster-management:managedcluster:{CLUSTER}"
# The release of the operator and agents that run here: the hub is installed from its vendored files.
RELEASE = RELEASES[tools.select(["registration-operator"])[0].version()]
# Hub Deployments the operator renders for the Default mode with the addon manager enabled.
HUB_DEPLOYMENTS = (
    "cluster-manager-registration-controller",
    "cluster-manager-registration-webhook",
    "cluster-manager-work-webhook",
    "cluster-manager-placement-controller",
    "cluster-manager-addon-manager-controller",
)
READY_TIMEOUT = 240.0
GONE_TIMEOUT = 120.0
CALL_TIMEOUT = 180.0  # one provider RPC; the registration's own wait is bounded below it


@dataclass(frozen=True)
class Hub:
    cluster: Cluster
    kubelet: KubeletLog


def _operator_objects() -> list[Json]:
    """The cluster-manager operator as the release's upstream files install it (one replica), CRD first."""
    objects = RELEASE.operator_objects("cluster-manager")
    for obj in objects:
        obj.pop("status", None)
        if obj["kind"] == "Deployment":
            obj["spec"]["replicas"] = 1
    return objects


def _cluster_manager() -> Json:
    """The ClusterManager the project renders for its dev stack, at the release that runs here."""
    values = {**from_file(REPO_ROOT / "Pulumi.dev.yaml").values, "ocmVersion": RELEASE.version}
    cfg = load(RawConfig(values))
    return {
        "apiVersion": "operator.open-cluster-management.io/v1",
        "kind": "ClusterManager",
        "metadata": {"name": "cluster-manager"},
        "spec": cluster_manager_spec(cfg),
    }


def _established(obj: Json) -> bool:
    return condition(obj, "Established") == "True"


@pytest.fixture(scope="module")
def ocm_hub(hub: Cluster, managed: Cluster) -> Iterator[Hub]:
    """The cluster-manager operator running on the hub, and every hub Deployment it renders."""
    if not (hub.local and managed.local):
        pytest.skip("OCM as processes needs the local clusters (their kube-apiservers use our egress proxy)")
    missing = tools.missing(tools.OCM_TOOLS)
    if missing:
        pytest.fail(f"OCM binaries not built: {missing}; run `make e2e-tools`", pytrace=False)
    if sandbox.clusters.kubelet_pid() is None:
        pytest.fail("the local clusters' kubelet is not running: `make cluster-up` starts it", pytrace=False)
    objects = _operator_objects()
    (crd,) = [obj for obj in objects if obj["kind"] == "CustomResourceDefinition"]
    hub.client.apply(crd)
    wait_for(
        hub.client,
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}",
        _established,
        timeout=60,
        what="ClusterManager CRD Established",
    )
    kubelet = KubeletLog()
    try:
        with kubelet.reporting():
            for obj in objects:
                hub.client.apply(obj)
            kubelet_running(hub.client, OPERATOR_NAMESPACE, "cluster-manager", timeout=60)
        yield Hub(hub, kubelet)
    finally:
        _remove_hub(hub, objects)


def _remove_hub(hub: Cluster, objects: list[Json]) -> None:
    """The ClusterManager goes first, while its operator still runs to clean up after it."""
    try:
        if hub.client.delete("operator.open-cluster-management.io/v1", "ClusterManager", "cluster-manager"):
            wait_gone(hub.client, CM_PATH, timeout=GONE_TIMEOUT)
        wait_gone(hub.client, f"/api/v1/namespaces/{HUB_NAMESPACE}", timeout=GONE_TIMEOUT)
    finally:
        for obj in reversed(objects):
            meta = obj["metadata"]
            hub.client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        wait_gone(hub.client, f"/api/v1/namespaces/{OPERATOR_NAMESPACE}", timeout=GONE_TIMEOUT)


def _ready_cluster_manager(ocm: Hub) -> Json:
    ocm.cluster.client.apply(_cluster_manager())
    with ocm.kubelet.reporting():
        return wait_for(
            ocm.cluster.client,
            CM_PATH,
            lambda obj: not not_ready_reasons(obj),
            timeout=READY_TIMEOUT,
            what="ClusterManager ready",
        )


def test_cluster_manager_operator_makes_the_project_cluster_manager_ready(ocm_hub: Hub) -> None:
    cm = _ready_cluster_manager(ocm_hub)
    hub = ocm_hub.cluster.client

    by_type = {c["type"]: c for c in cm["status"]["conditions"]}
    assert {kind: by_type[kind]["status"] for kind in READY_CONDITIONS} == dict(READY_CONDITIONS)
    assert cm["status"]["observedGeneration"] == cm["metadata"]["generation"]
    for name in HUB_DEPLOYMENTS:  # rendered by the operator, and running here as processes
        assert get(hub, f"/apis/apps/v1/namespaces/{HUB_NAMESPACE}/deployments/{name}") is not None, name
        kubelet_running(hub, HUB_NAMESPACE, name, timeout=60)
    webhook = get(
        hub,
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/managedclustervalidators.admission.cluster.open-cluster-management.io",
    )
    assert webhook is not None
    assert webhook["webhooks"][0]["clientConfig"]["caBundle"]  # from the operator's own signer
    # The webhooks answer through kube-apiserver's egress proxy: the real validator rejects a bad URL.
    with pytest.raises(KubeError) as rejected:
        hub.request(
            "POST",
            "/apis/cluster.open-cluster-management.io/v1/managedclusters",
            {"dryRun": "All"},
            body=_bad_cluster(),
        )
    assert rejected.value.status == 400
    assert "is invalid in client configs" in str(rejected.value)
    assert ocm_hub.kubelet.new_errors() == []


def _bad_cluster() -> Json:
    return {
        "apiVersion": "cluster.open-cluster-management.io/v1",
        "kind": "ManagedCluster",
        "metadata": {"name": "webhook-probe"},
        "spec": {"hubAcceptsClient": False, "managedClusterClientConfigs": [{"url": "not a url"}]},
    }


# -- registration through the real agents --------------------------------------------------------


@pytest.fixture
def vela_secret(ocm_hub: Hub, managed: Cluster) -> Iterator[Json]:
    """managed-1's Secret as `vela cluster join` wrote it (sandbox.clusters joins it from the start), and
    the hub's bootstrap role."""
    hub = ocm_hub.cluster.client
    secret = get(hub, f"/api/v1/namespaces/vela-system/secrets/{CLUSTER}")
    assert secret is not None, "joined by `vela cluster join` (sandbox.clusters)"
    hub.apply(kl.bootstrap_role())
    try:
        yield secret
    finally:
        hub.delete("v1", "Namespace", CLUSTER)  # the hub controller made it on acceptance, and keeps it
        wait_gone(hub, f"/api/v1/namespaces/{CLUSTER}", timeout=GONE_TIMEOUT)


@pytest.fixture
def provider(ocm_hub: Hub, tmp_path: Path) -> Iterator[DynamicServer]:
    with dynamic_server(tmp_path / "provider.log") as server:
        server.configure({"kubernetes:kubeconfig": str(ocm_hub.cluster.kubeconfig)})
        yield server


def _registration(mode: kl.Mode = "Default") -> Registration:
    images = kl.Images(
        "quay.io/open-cluster-management/registration-operator:v1.3.1",
        "quay.io/open-cluster-management/registration:v1.3.1",
        "quay.io/open-cluster-management/work:v1.3.1",
    )
    return Registration(CLUSTER, "vela-system", CLUSTER, "", {"env": "e2e"}, "default", mode, images, None, 150)


def test_provider_joins_and_unjoins_through_the_real_agents(
    ocm_hub: Hub, provider: DynamicServer, vela_secret: Json, managed: Cluster
) -> None:
    hub, spoke = ocm_hub.cluster.client, managed.client
    _ready_cluster_manager(ocm_hub)
    registration = _registration()
    unjoined = False
    try:
        with ocm_hub.kubelet.reporting():
            _join_and_unjoin(ocm_hub, provider, registration, spoke)
            unjoined = True
    finally:
        if not unjoined:  # leave both clusters as found, with the agents still running to let go
            print(provider.log())
            unjoin(ClusterAccess(hub), registration)


def _join_and_unjoin(ocm: Hub, provider: DynamicServer, registration: Registration, spoke: Kube) -> None:
    hub = ocm.cluster.client
    id_, outs = provider.create({"spec": registration.props()}, timeout=CALL_TIMEOUT)
    assert outs["status"]["joined"]["status"] == "True"
    assert outs["status"]["available"]["status"] == "True"

    live = get(hub, MC_PATH)
    assert live is not None
    reasons = {c["type"]: c["reason"] for c in live["status"]["conditions"]}
    assert reasons["HubAcceptedManagedCluster"] == "HubClusterAdminAccepted"  # the hub controller
    assert reasons["ManagedClusterJoined"] == "ManagedClusterJoined"  # the registration agent
    assert reasons["ManagedClusterConditionAvailable"] == "ManagedClusterAvailable"
    assert live["metadata"]["labels"]["cluster.open-cluster-management.io/clusterset"] == "default"
    (csr,) = hub.list("certificates.k8s.io/v1", "CertificateSigningRequest", None, f"{kl.CLUSTER_NAME_LABEL}={CLUSTER}")
    assert csr["spec"]["username"] == kl.bootstrap_username(CLUSTER)  # set by the server from the agent's token
    assert "ApprovedByOcmHub" in [c["reason"] for c in csr["status"]["conditions"] if c["type"] == "Approved"]
    assert csr["status"].get("certificate")  # signed by kube-controller-manager
    assert get(hub, f"/apis/coordination.k8s.io/v1/namespaces/{CLUSTER}/leases/managed-cluster-lease") is not None
    hub_secret = get(spoke, f"/api/v1/namespaces/{AGENT_NAMESPACE}/secrets/hub-kubeconfig-secret")
    assert hub_secret is not None
    assert hub_secret["data"].get("tls.crt")  # written by the agent once its CSR was signed
    kubelet_running(spoke, OPERATOR_NAMESPACE, "klusterlet", timeout=0)
    kubelet_running(spoke, AGENT_NAMESPACE, "klusterlet-registration-agent", timeout=0)
    # The work agent starts once the hub kubeconfig it mounts exists, as its pod would.
    kubelet_running(spoke, AGENT_NAMESPACE, "klusterlet-work-agent", timeout=60)
    # kube-apiserver called the real admission webhooks for the ManagedCluster the provider applied.
    egress = ocm.kubelet.new_egress()
    assert [line for line in egress if f"({HUB_NAMESPACE}/cluster-manager-registration-webhook) -> /" in line], egress

    relabelled = {**registration.props(), "labels": {"tier": "gold"}}
    outs = provider.update(id_, outs, {"spec": relabelled}, timeout=CALL_TIMEOUT)
    labels = (get(hub, MC_PATH) or {})["metadata"]["labels"]
    assert labels["tier"] == "gold"
    assert "env" not in labels  # server-side apply drops what the registration no longer owns

    provider.delete(id_, outs, timeout=CALL_TIMEOUT)
    assert get(hub, MC_PATH) is None
    # The hub controller's finalizer removed the cluster's RBAC; upstream keeps the cluster namespace.
    assert get(hub, f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{CLUSTER_ROLE}") is None
    assert (
        get(hub, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{CLUSTER}/rolebindings/{CLUSTER_ROLE}:registration")
        is None
    )
    assert get(hub, f"/api/v1/namespaces/{OPERATOR_NAMESPACE}/serviceaccounts/{kl.bootstrap_account(CLUSTER)}") is None
    assert get(spoke, "/apis/operator.open-cluster-management.io/v1/klusterlets/klusterlet") is None
    assert get(spoke, f"/apis/apps/v1/namespaces/{OPERATOR_NAMESPACE}/deployments/klusterlet") is None
    csrs = hub.list("certificates.k8s.io/v1", "CertificateSigningRequest", None, f"{kl.CLUSTER_NAME_LABEL}={CLUSTER}")
    assert csrs == []  # else the agent halts after a few rounds: "too many CSRs created already on the hub"
    # The operator exits without releasing its leader lease; unjoin removed it once the operator stopped,
    # so a re-join here starts at once instead of waiting out the lease (137 s).
    assert (
        get(spoke, f"/apis/coordination.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/leases/{kl.OPERATOR_LEASE}") is None
    )
    wait_gone(spoke, f"/api/v1/namespaces/{AGENT_NAMESPACE}", timeout=GONE_TIMEOUT)
    assert ocm.kubelet.new_errors() == []


# -- the same, under the real Pulumi engine ------------------------------------------------------

# The registration branch of ocm-hub's tree as FleetRegistration declares it per cluster, from the
# stack's config and vela's secrets on the hub: everything of the program but the Kubernetes
# provider's resources, whose plugin cannot be built here (see the README, End-to-end).
REGISTRATION_PROGRAM = """\
import pulumi

from config import from_pulumi, load
from providers.discovery import fetch_vela_secrets, plan
from providers.managed_cluster import ManagedClusterRegistration

cfg = load(from_pulumi())
kubernetes = pulumi.Config("kubernetes")
secrets = fetch_vela_secrets(cfg.registration, {"kubeconfig": kubernetes.get("kubeconfig"), "context": None})
clusters = {}
for item in plan(cfg, secrets):
    name = item.registration.cluster
    # As a composing program passes its hub (OcmHub's hub_kubeconfig): a secret the unjoin reads back from state.
    hub = pulumi.Config().require_secret("hubKubeconfig")
    clusters[name] = ManagedClusterRegistration(f"ocm-hub-cluster-{name}", item.registration, hub).status
pulumi.export("clusters", clusters)
"""
ENGINE_STACK = "e2e"


@pytest.fixture
def engine_project(ocm_hub: Hub, tmp_path: Path) -> Iterator[Project]:
    """A stack of REGISTRATION_PROGRAM on a local file backend; destroyed and removed whatever happens."""
    if missing := missing_binaries():
        pytest.fail(f"missing Pulumi binaries {missing}: run `make e2e-tools`", pytrace=False)
    tools.install_pulumi_root()
    program, state = tmp_path / "program", tmp_path / "state"
    program.mkdir()
    state.mkdir()
    (program / "Pulumi.yaml").write_text("name: ocm-hub-registration\nruntime: python\n", encoding="utf-8")
    (program / "__main__.py").write_text(REGISTRATION_PROGRAM, encoding="utf-8")
    project = Project(program, state, extra_env={"PYTHONPATH": str(REPO_ROOT)})
    project.run("stack", "init", ENGINE_STACK, timeout=60)
    try:
        project.run("config", "set", "kubernetes:kubeconfig", str(ocm_hub.cluster.kubeconfig), timeout=60)
        hub_kubeconfig = ocm_hub.cluster.kubeconfig.read_text(encoding="utf-8")
        project.run("config", "set", "--secret", "hubKubeconfig", hub_kubeconfig, timeout=60)
        _set_registration(project, {"discover": True, "joinTimeout": 150})
        yield project
    finally:
        project.run("destroy", "--yes", "--skip-preview", timeout=CALL_TIMEOUT, check=False)
        project.run("stack", "rm", "--yes", "--force", ENGINE_STACK, timeout=60, check=False)


def _set_registration(project: Project, registration: Json) -> None:
    """Edit Pulumi.<stack>.yaml as a user does (keeping the passphrase salt `stack init` wrote)."""
    path = project.directory / f"Pulumi.{ENGINE_STACK}.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    document.setdefault("config", {})["ocm-hub:registration"] = registration
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


def test_pulumi_up_registers_through_the_real_agents_and_unjoins_when_config_drops_it(
    ocm_hub: Hub, vela_secret: Json, managed: Cluster, engine_project: Project
) -> None:
    """The CLI loads the dynamic provider as users run it: preview, up (Joined and Available by the
    real agents), a second up and a refresh with no changes, state without credentials, and a cluster
    excluded from the config unjoined by the next up."""
    hub, spoke = ocm_hub.cluster.client, managed.client
    _ready_cluster_manager(ocm_hub)
    unjoined = False
    try:
        with ocm_hub.kubelet.reporting():
            preview = engine_project.run("preview", "--json").json()
            assert preview["changeSummary"].get("create") == 2  # the stack and the registration

            engine_project.run("up", "--yes", "--skip-preview", timeout=CALL_TIMEOUT)
            outputs = engine_project.run("stack", "output", "--json").json()
            status = outputs["clusters"][CLUSTER]
            assert status["joined"]["status"] == "True"
            assert status["available"]["status"] == "True"
            assert condition(get(hub, MC_PATH) or {}, "ManagedClusterJoined") == "True"

            engine_project.run("up", "--yes", "--expect-no-changes", timeout=CALL_TIMEOUT)
            engine_project.run("refresh", "--yes", "--expect-no-changes", timeout=CALL_TIMEOUT)

            exported = engine_project.run("stack", "export").stdout
            (state,) = [
                r
                for r in json.loads(exported)["deployment"]["resources"]
                if r["type"] == "pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration"
            ]
            spec = state["outputs"]["spec"]
            assert (spec["secretNamespace"], spec["secretName"]) == ("vela-system", CLUSTER)  # a reference, no more
            for key in ("tls.key", "tls.crt"):
                encoded = vela_secret["data"][key]
                assert encoded not in exported
                assert base64.b64decode(encoded).decode() not in exported
            assert set(state["outputs"]["hubKubeconfig"]) == {rpc._special_sig_key, "ciphertext"}  # kept, encrypted
            hub_user = yaml.safe_load(ocm_hub.cluster.kubeconfig.read_text(encoding="utf-8"))["users"][0]["user"]
            assert hub_user["client-key-data"] not in exported

            _set_registration(engine_project, {"discover": True, "exclude": [CLUSTER], "joinTimeout": 150})
            engine_project.run("up", "--yes", "--skip-preview", timeout=CALL_TIMEOUT)
            assert get(hub, MC_PATH) is None
            assert get(spoke, "/apis/operator.open-cluster-management.io/v1/klusterlets/klusterlet") is None
            assert (
                get(spoke, f"/apis/coordination.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/leases/{kl.OPERATOR_LEASE}")
                is None
            )
            wait_gone(spoke, f"/api/v1/namespaces/{AGENT_NAMESPACE}", timeout=GONE_TIMEOUT)
            assert engine_project.run("stack", "output", "--json").json()["clusters"] == {}
            unjoined = True
    finally:
        if not unjoined:  # leave both clusters as found, with the agents still running to let go
            unjoin(ClusterAccess(hub), _registration())


def _names(spoke: Kube, secret: str) -> str | None:
    """The hub address an agent kubeconfig Secret of managed-1 names."""
    endpoint = kl.hub_endpoint(get(spoke, f"/api/v1/namespaces/{AGENT_NAMESPACE}/secrets/{secret}"))
    return endpoint[0] if endpoint else None


def test_a_moved_hub_api_server_moves_the_real_agents(
    ocm_hub: Hub, vela_secret: Json, managed: Cluster, engine_project: Project
) -> None:
    """registration.hubApiServer changed to another address of the same hub: the preview shows one update,
    the update rewrites managed-1's bootstrap kubeconfig, the real registration agent bootstraps again (a
    CSR the update approves) and writes a hub kubeconfig naming the new address, the cluster stays
    Available, and the next preview shows no change."""
    hub, spoke = ocm_hub.cluster.client, managed.client
    _ready_cluster_manager(ocm_hub)
    moved = f"https://localhost:{urlsplit(hub.server).port}"
    unjoined = False
    try:
        with ocm_hub.kubelet.reporting():
            engine_project.run("up", "--yes", "--skip-preview", timeout=CALL_TIMEOUT)
            assert _names(spoke, kl.BOOTSTRAP_SECRET) == _names(spoke, kl.HUB_KUBECONFIG_SECRET) == hub.server

            _set_registration(engine_project, {"discover": True, "joinTimeout": 150, "hubApiServer": moved})
            preview = engine_project.run("preview", "--json").json()
            assert preview["changeSummary"].get("update") == 1
            engine_project.run("up", "--yes", "--skip-preview", timeout=CALL_TIMEOUT)

            assert _names(spoke, kl.BOOTSTRAP_SECRET) == moved
            assert _names(spoke, kl.HUB_KUBECONFIG_SECRET) == moved  # written by the real agent
            live = get(hub, MC_PATH) or {}
            assert condition(live, "ManagedClusterJoined") == condition(live, "ManagedClusterConditionAvailable")
            assert condition(live, "ManagedClusterConditionAvailable") == "True"
            csrs = hub.list(
                "certificates.k8s.io/v1", "CertificateSigningRequest", None, f"{kl.CLUSTER_NAME_LABEL}={CLUSTER}"
            )
            assert len(csrs) == 2  # the join's and the second bootstrap's, both approved by ocm-hub
            assert all(csr["status"].get("certificate") for csr in csrs)
            engine_project.run("preview", "--expect-no-changes", timeout=CALL_TIMEOUT)

            engine_project.run("destroy", "--yes", "--skip-preview", timeout=CALL_TIMEOUT)
            assert get(hub, MC_PATH) is None
            unjoined = True
    finally:
        if not unjoined:  # leave both clusters as found, with the agents still running to let go
            unjoin(ClusterAccess(hub), _registration())
