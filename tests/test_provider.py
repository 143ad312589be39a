"""The registration provider as the engine runs it: the SDK's `python -m pulumi.dynamic` server, driven
over gRPC with the serialized provider, against fake API servers for the hub and a managed cluster
(TLS, as vela's endpoints are), with a fake agent playing the klusterlet.
"""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.versions import RELEASES
from ocmhub_testing.dynamic_server import DynamicServer, ProviderError, dynamic_server
from ocmhub_testing.fake_agent import KLUSTERLET, MANAGED_CLUSTER, FakeAgent
from ocmhub_testing.fakekube import FakeKube
from ocmhub_testing.pki import Pki
from ocmhub_testing.registrations import REGISTRATION_IMAGES, TOKEN, add_vela_cluster, registration_inputs
from providers import klusterlet as kl
from providers.kube import HubConfigError, hub_client
from providers.registration import FROM_SECRET, Registration


def _no_credentials(pki: Pki, *texts: str) -> None:
    for text in texts:
        for needle in (pki.read("client_key").decode(), pki.read("client_cert").decode(), TOKEN):
            assert needle not in text
        for line in pki.read("client_key").decode().splitlines()[1:-1]:
            assert line not in text


# -- pure parts: no API calls ---------------------------------------------------------------------


def test_check_reports_bad_inputs(server: DynamicServer, hub: FakeKube) -> None:
    assert server.check(registration_inputs()) == []
    failures = dict(server.check(registration_inputs(clusterName="Prod_EU", timeoutSeconds=0, mode="Singleton")))
    assert "DNS-1123 label" in failures["spec.clusterName"]
    assert "Default or Hosted" in failures["spec.mode"]
    assert "positive" in failures["spec.timeoutSeconds"]
    long = "a" * 60
    assert (
        "too long for Hosted mode"
        in dict(server.check(registration_inputs(cluster=long, mode="Hosted")))["spec.clusterName"]
    )


def test_diff_is_pure_and_replaces_only_on_identity(server: DynamicServer, hub: FakeKube) -> None:
    hub.clear_requests()
    olds = {**registration_inputs(), "status": {"joined": {"status": "True"}}}
    none = server.diff("prod-eu", olds, registration_inputs(timeoutSeconds=20.0))
    assert none.changes == none.DIFF_NONE
    labels = server.diff("prod-eu", olds, registration_inputs(labels={"env": "staging"}))
    assert labels.changes == labels.DIFF_SOME
    assert list(labels.replaces) == []
    moved = server.diff("prod-eu", olds, registration_inputs(mode="Hosted"))
    assert list(moved.replaces) == ["spec.mode"]
    assert moved.deleteBeforeReplace
    assert hub.requests == []  # diff never calls the API


def test_a_malformed_hub_kubeconfig_is_reported_without_its_contents() -> None:
    broken = "apiVersion: v1\nusers:\n- user: {token: hub-token-7f3a\n  oops: [\n"
    with pytest.raises(HubConfigError, match=r"not valid YAML \(line 4\); its contents are not shown") as caught:
        hub_client({"kubeconfig": broken})
    assert "hub-token-7f3a" not in str(caught.value)


# -- create / read / update / delete --------------------------------------------------------------


def test_create_default_mode_joins_through_the_managed_cluster(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]) as agent:
        id_, outs = server.create(registration_inputs())
    assert agent.errors == []
    assert id_ == "prod-eu"
    assert outs["status"]["joined"]["status"] == "True"
    assert outs["status"]["available"]["status"] == "True"
    assert outs["status"]["hubAccepted"] is True
    assert outs["status"]["clientUrls"] == [managed.url]
    live = hub.get_object(*MANAGED_CLUSTER, "prod-eu")
    assert live is not None
    assert live["metadata"]["labels"] == {"env": "prod", "cluster.open-cluster-management.io/clusterset": "default"}
    assert live["metadata"]["annotations"]["ocm-hub.io/vela-secret"] == "vela-system/prod-eu"
    assert base64.b64decode(live["spec"]["managedClusterClientConfigs"][0]["caBundle"]) == pki.read("ca_cert")
    klusterlet = managed.get_object(*KLUSTERLET, "klusterlet")
    assert klusterlet is not None
    assert klusterlet["spec"]["clusterName"] == "prod-eu"
    assert managed.get_object("apps/v1", "Deployment", "klusterlet", "open-cluster-management") is not None
    assert hub.get_object("v1", "ServiceAccount", "ocm-hub-bootstrap-prod-eu", "open-cluster-management") is not None
    assert hub.list_objects(*KLUSTERLET) == []  # Default mode puts nothing of the agent on the hub
    _no_credentials(pki, repr(outs), server.log())


def test_create_hosted_mode_keeps_the_agent_on_the_hub(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki, "edge-1", "ServiceAccountToken")
    managed.clear_requests()
    with FakeAgent(hub, [hub]):
        _, outs = server.create(registration_inputs("edge-1", mode="Hosted"))
    assert outs["status"]["klusterletMode"] == "Hosted"
    assert hub.get_object(*KLUSTERLET, "klusterlet-edge-1") is not None
    external = hub.get_object("v1", "Secret", "external-managed-kubeconfig", "klusterlet-edge-1")
    assert external is not None
    assert managed.requests == []  # nothing runs on, or is written to, the managed cluster
    _no_credentials(pki, repr(outs), server.log())


def test_unjoin_of_the_last_hosted_cluster_removes_the_hubs_klusterlet_operator(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    """Hosted mode puts the klusterlet operator on the hub; it goes with the last hosted Klusterlet there,
    as it goes from a managed cluster in Default mode, and stays while another hosted cluster needs it."""
    operator = ("apps/v1", "Deployment", "klusterlet", "open-cluster-management")
    for name in ("edge-1", "edge-2"):
        add_vela_cluster(hub, managed, pki, name, "ServiceAccountToken")
    with FakeAgent(hub, [hub]):
        first = server.create(registration_inputs("edge-1", mode="Hosted"))
        second = server.create(registration_inputs("edge-2", mode="Hosted"))
        server.delete(*first)
        assert hub.get_object(*KLUSTERLET, "klusterlet-edge-1") is None
        assert hub.get_object(*operator) is not None  # edge-2's agents still need it
        server.delete(*second)
    assert hub.get_object(*KLUSTERLET, "klusterlet-edge-2") is None
    assert hub.get_object(*operator) is None
    assert hub.get_object("v1", "Namespace", "klusterlet-edge-2") is None
    assert managed.requests == []  # nothing of it ever ran on the managed cluster


def test_only_this_clusters_bootstrap_csr_is_approved(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    intruder = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "prod-eu-intruder", "labels": {kl.CLUSTER_NAME_LABEL: "prod-eu"}},
        "spec": {
            "username": "system:serviceaccount:default:someone-else",
            "signerName": "kubernetes.io/kube-apiserver-client",
            "request": "",
        },
    }
    hub.put_object(intruder)
    with FakeAgent(hub, [managed]):
        server.create(registration_inputs())
    left = hub.get_object("certificates.k8s.io/v1", "CertificateSigningRequest", "prod-eu-intruder")
    assert left is not None
    assert not (left.get("status") or {}).get("conditions")


def test_read_refreshes_status_and_reports_a_deleted_cluster(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
    live = hub.get_object(*MANAGED_CLUSTER, id_)
    assert live is not None
    live["status"]["conditions"] = [
        {
            "type": "ManagedClusterConditionAvailable",
            "status": "Unknown",
            "reason": "ManagedClusterLeaseUpdateStopped",
            "message": "lease",
        }
    ]
    live["metadata"]["labels"].pop("env")
    hub.put_object(live)
    read_id, refreshed = server.read(id_, outs)
    assert read_id == id_
    assert refreshed["status"]["available"]["status"] == "Unknown"
    assert refreshed["status"]["available"]["reason"] == "ManagedClusterLeaseUpdateStopped"
    assert refreshed["spec"]["labels"] == {}  # drift shows, so the next up puts the label back
    hub.delete_object(*MANAGED_CLUSTER, id_)
    gone_id, _ = server.read(id_, outs)
    assert gone_id == ""


def test_an_endpoint_left_to_the_vela_secret_stays_so(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    """Clusters planned without their secrets (a composing program, the package) have no endpoint: the hub's
    URL is the secret's, not drift; refresh must not set it for the next up to change back. States written
    when that was the FROM_SECRET text read the same."""
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
    assert "endpoint" not in outs["spec"]
    _, refreshed = server.read(id_, outs)
    assert "endpoint" not in refreshed["spec"]
    old_state = {**outs, "spec": {**outs["spec"], "endpoint": FROM_SECRET}}
    assert server.read(id_, old_state)[1]["spec"]["endpoint"] == FROM_SECRET
    same = server.diff(id_, old_state, registration_inputs())
    assert same.changes == same.DIFF_NONE
    known = server.diff(id_, old_state, registration_inputs(endpoint=managed.url))
    assert known.changes == known.DIFF_SOME


def test_read_of_an_unknown_state_imports_from_the_live_object(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        _, outs = server.create(registration_inputs())
    _, imported = server.read("prod-eu", {"spec": outs["spec"]})
    assert imported["spec"]["secretName"] == "prod-eu"
    assert imported["spec"]["mode"] == "Default"
    assert imported["status"]["joined"]["status"] == "True"


def test_update_changes_labels_and_versions_in_place(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
        news = registration_inputs(labels={"env": "prod", "tier": "gold"})
        news["spec"]["images"] = {**news["spec"]["images"], "work": "quay.io/open-cluster-management/work:v1.3.2"}
        updated = server.update(id_, outs, news)
    assert updated["spec"]["labels"] == {"env": "prod", "tier": "gold"}
    live = hub.get_object(*MANAGED_CLUSTER, id_)
    assert live is not None
    assert live["metadata"]["labels"]["tier"] == "gold"
    klusterlet = managed.get_object(*KLUSTERLET, "klusterlet")
    assert klusterlet is not None
    assert klusterlet["spec"]["workImagePullSpec"].endswith(":v1.3.2")
    assert len(hub.list_objects("certificates.k8s.io/v1", "CertificateSigningRequest")) == 1


def test_delete_unjoins_both_sides_and_is_idempotent(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    other = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": "edge-1-x7k2p", "labels": {kl.CLUSTER_NAME_LABEL: "edge-1"}},
        "spec": {"request": "", "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]},
    }
    hub.put_object(other)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
        assert len(hub.list_objects("certificates.k8s.io/v1", "CertificateSigningRequest")) == 2
        server.delete(id_, outs)
        server.delete(id_, outs)  # already gone is success
    assert hub.get_object(*MANAGED_CLUSTER, id_) is None
    # This cluster's spent CSRs go (the agent halts past a count of them); another cluster's stay.
    assert [c["metadata"]["name"] for c in hub.list_objects("certificates.k8s.io/v1", "CertificateSigningRequest")] == [
        "edge-1-x7k2p"
    ]
    assert managed.get_object(*KLUSTERLET, "klusterlet") is None
    assert managed.get_object("apps/v1", "Deployment", "klusterlet", "open-cluster-management") is None
    assert managed.get_object("v1", "Namespace", "open-cluster-management-agent") is None
    assert hub.get_object("v1", "ServiceAccount", "ocm-hub-bootstrap-prod-eu", "open-cluster-management") is None
    assert hub.get_object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "ocm-hub:bootstrap:prod-eu") is None


def test_unjoin_deletes_the_managed_cluster_while_the_klusterlet_still_runs(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    """The hub deletes the cluster's addons and ManifestWorks before the ManagedCluster goes, and only the
    work agent removes a ManifestWork's finalizer: a hub that refuses the delete leaves the klusterlet, so
    its agents, running, and the next destroy finishes."""
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
        hub.inject("DELETE", rf"/managedclusters/{id_}$", status=403, times=None)
        with pytest.raises(ProviderError, match="403"):
            server.delete(id_, outs)
        assert managed.get_object(*KLUSTERLET, "klusterlet") is not None
        hub.clear_faults()
        server.delete(id_, outs)
    assert hub.get_object(*MANAGED_CLUSTER, id_) is None
    assert managed.get_object(*KLUSTERLET, "klusterlet") is None


def test_a_registrations_own_hub_kubeconfig_wins_over_the_stack_config(
    hub: FakeKube, managed: FakeKube, pki: Pki, tmp_path: Path
) -> None:
    """A composing program passes its hub explicitly: create, refresh, diff and delete use that hub
    even when the stack's `kubernetes:` config points elsewhere, and the kubeconfig rotates in place."""
    add_vela_cluster(hub, managed, pki)
    with FakeKube() as elsewhere, dynamic_server(tmp_path / "provider.log") as server:
        server.configure({"kubernetes:kubeconfig": yaml.safe_dump(elsewhere.kubeconfig())})
        inputs = {**registration_inputs(), "hubKubeconfig": yaml.safe_dump(hub.kubeconfig())}
        with FakeAgent(hub, [managed]):
            id_, outs = server.create(inputs)
            assert outs["hubKubeconfig"] == inputs["hubKubeconfig"]  # delete gets only the outputs
            assert hub.get_object(*MANAGED_CLUSTER, id_) is not None
            assert server.read(id_, outs)[1]["status"]["joined"]["status"] == "True"
            rotated = server.diff(id_, outs, {**inputs, "hubKubeconfig": yaml.safe_dump(hub.kubeconfig(token="new"))})
            assert rotated.changes == rotated.DIFF_SOME
            assert list(rotated.replaces) == []
            server.delete(id_, outs)
        assert hub.get_object(*MANAGED_CLUSTER, id_) is None
        assert managed.get_object(*KLUSTERLET, "klusterlet") is None
        assert elsewhere.count(path="managedclusters") == 0


def test_unjoin_clears_the_operator_lease_once_its_pods_stopped(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    """The klusterlet operator exits without releasing its leader lease (seen with the real one in e2e):
    left behind, the next join on that cluster waits out its 137 s. Unjoin removes it, and the
    operator's RBAC, only after the operator's pods stopped."""
    add_vela_cluster(hub, managed, pki)
    (deployment,) = [o for o in kl.operator_objects(REGISTRATION_IMAGES, "v1.3.1") if o["kind"] == "Deployment"]
    namespace = str(deployment["metadata"]["namespace"])
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "klusterlet-6d4f9",
            "namespace": namespace,
            "labels": deployment["spec"]["selector"]["matchLabels"],
        },
        "spec": {"containers": [{"name": "klusterlet", "image": "operator"}]},
    }
    stopped_at: list[int] = []

    def kubelet() -> None:
        """Stops the pod once its Deployment is deleted, as the kubelet does after the grace period."""
        deadline = time.monotonic() + 30
        while not managed.count(method="DELETE", path="/deployments/klusterlet$") and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped_at.append(len(managed.requests))
        managed.delete_object("v1", "Pod", "klusterlet-6d4f9", namespace)

    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
        managed.put_object(pod)
        managed.put_object(
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": kl.OPERATOR_LEASE, "namespace": namespace},
                "spec": {"holderIdentity": "klusterlet-6d4f9_1f2e", "leaseDurationSeconds": 137},
            }
        )
        managed.clear_requests()
        stopper = threading.Thread(target=kubelet)
        stopper.start()
        server.delete(id_, outs)
        stopper.join(30)
    log = [(r.method, r.path) for r in managed.requests]
    cleanup = [
        i
        for i, (method, path) in enumerate(log)
        if method == "DELETE" and ("rbac.authorization" in path or "/leases/" in path)
    ]
    assert len(cleanup) >= 3
    assert stopped_at
    assert min(cleanup) > stopped_at[0]
    assert managed.get_object("coordination.k8s.io/v1", "Lease", kl.OPERATOR_LEASE, namespace) is None
    assert managed.get_object("apps/v1", "Deployment", "klusterlet", "open-cluster-management") is None


def test_delete_rerun_while_the_agent_namespace_terminates(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
        managed.inject(
            "DELETE", r"/namespaces/open-cluster-management-agent$", status=409, message="namespace is terminating"
        )
        server.delete(id_, outs)
    assert hub.get_object(*MANAGED_CLUSTER, id_) is None


def test_delete_without_the_vela_secret_still_cleans_the_hub(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
        hub.delete_object("v1", "Secret", "prod-eu", "vela-system")
        server.delete(id_, outs)
    assert hub.get_object(*MANAGED_CLUSTER, id_) is None
    assert "cannot be reached; remove it there with `clusteradm unjoin`" in server.log()


# -- failures are clear, bounded, and complete on the next up -------------------------------------


def test_missing_secret_is_a_clear_error(server: DynamicServer, hub: FakeKube) -> None:
    with pytest.raises(ProviderError, match="vela cluster secret vela-system/prod-eu does not exist"):
        server.create(registration_inputs())


def test_a_cluster_joined_under_another_name_is_refused_before_anything_is_written(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    """The join validates before it runs: the hub gets no ManagedCluster for a cluster it cannot join."""
    add_vela_cluster(hub, managed, pki)
    managed.put_object(
        {
            "apiVersion": KLUSTERLET[0],
            "kind": KLUSTERLET[1],
            "metadata": {"name": "klusterlet"},
            "spec": {"clusterName": "other"},
        }
    )
    with pytest.raises(ProviderError, match="already runs a klusterlet for cluster 'other'; unjoin it first"):
        server.create(registration_inputs())
    assert hub.count(method="PATCH") == 0
    assert hub.get_object(*MANAGED_CLUSTER, "prod-eu") is None


def test_join_timeout_names_the_condition(server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki) -> None:
    add_vela_cluster(hub, managed, pki)
    with pytest.raises(ProviderError, match="condition ManagedClusterJoined is Missing"):
        server.create(registration_inputs(timeout=2))


def test_unavailable_cluster_times_out_naming_available(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed], available="False"), pytest.raises(ProviderError) as caught:
        server.create(registration_inputs(timeout=6))
    assert "condition ManagedClusterConditionAvailable is False (FakeManagedClusterConditionAvailable" in str(
        caught.value
    )
    _no_credentials(pki, str(caught.value), server.log())


@pytest.mark.parametrize(
    ("method", "path", "fault"),
    [
        ("PATCH", r"/managedclusters/prod-eu$", {"status": 429, "retry_after": 1}),
        ("POST", r"/serviceaccounts/.*/token$", {"status": 500, "times": 2}),
        ("GET", r"/certificatesigningrequests$", {"drop": True}),
        ("PATCH", r"/managedclusters/prod-eu$", {"status": 503, "after_write": True}),
        ("PATCH", r"/managedclusters/prod-eu$", {"status": 409}),
        ("GET", r"/secrets/prod-eu$", {"delay": 0.2}),
    ],
    ids=["429-retry-after", "500-twice", "connection-drop", "5xx-after-write", "409-conflict", "slow-answer"],
)
def test_transient_api_errors_are_survived(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki, method: str, path: str, fault: dict[str, Any]
) -> None:
    add_vela_cluster(hub, managed, pki)
    hub.inject(method, path, **fault)
    with FakeAgent(hub, [managed]):
        _, outs = server.create(registration_inputs())
    assert outs["status"]["joined"]["status"] == "True"
    assert hub.internal_errors == []


def test_a_half_done_create_completes_on_the_next_up(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    managed.inject("PATCH", r"/klusterlets/klusterlet$", status=500, times=None)
    with pytest.raises(ProviderError, match="500"):
        server.create(registration_inputs())
    assert hub.get_object(*MANAGED_CLUSTER, "prod-eu") is not None  # the hub side was done
    managed.clear_faults()
    with FakeAgent(hub, [managed]):
        _, outs = server.create(registration_inputs())
    assert outs["status"]["available"]["status"] == "True"
    assert len(hub.list_objects(*MANAGED_CLUSTER)) == 1


def test_hub_access_comes_from_configuration_not_the_pickle(hub: FakeKube, tmp_path: Path) -> None:
    with dynamic_server(tmp_path / "provider.log") as provider:
        assert hub.url.encode() not in base64.b64decode(provider.provider)
        path = hub.write_kubeconfig(tmp_path / "hub.kubeconfig")
        provider.configure({"kubernetes:kubeconfig": str(path)})
        with pytest.raises(ProviderError, match="does not exist"):
            provider.create(registration_inputs())
    assert hub.count(method="GET", path=r"/secrets/prod-eu$") >= 1


def _at_release(version: str) -> dict[str, Any]:
    """Inputs of a registration made by a stack at `version` (images tagged by it, as discovery sets them)."""
    inputs = registration_inputs()
    inputs["spec"]["ocmVersion"] = version
    inputs["spec"]["images"] = {k: v.replace(":v1.3.1", f":{version}") for k, v in inputs["spec"]["images"].items()}
    return inputs


def _klusterlet_crd(kube: FakeKube) -> dict[str, Any] | None:
    return kube.get_object(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", "klusterlets.operator.open-cluster-management.io"
    )


def test_an_ocm_upgrade_moves_the_klusterlet_in_place(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    """ocmVersion v1.2.1 -> v1.3.1: an update (no unjoin), which applies v1.3.1's klusterlet operator and CR."""
    add_vela_cluster(hub, managed, pki)
    old_crd, new_crd = (RELEASES[v].operator_objects("klusterlet")[0]["spec"] for v in ("v1.2.1", "v1.3.1"))
    assert old_crd != new_crd  # or this test could not tell the releases apart
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(_at_release("v1.2.1"))
        crd = _klusterlet_crd(managed)
        assert crd is not None
        assert crd["spec"] == old_crd
        joined = hub.get_object(*MANAGED_CLUSTER, id_)
        assert joined is not None
        diff = server.diff(id_, outs, _at_release("v1.3.1"))
        assert diff.changes == diff.DIFF_SOME
        assert list(diff.replaces) == []
        updated = server.update(id_, outs, _at_release("v1.3.1"))
    assert updated["spec"]["ocmVersion"] == "v1.3.1"
    crd = _klusterlet_crd(managed)
    assert crd is not None
    assert crd["spec"] == new_crd
    operator = managed.get_object("apps/v1", "Deployment", "klusterlet", "open-cluster-management")
    assert operator is not None
    assert operator["spec"]["template"]["spec"]["containers"][0]["image"].endswith("registration-operator:v1.3.1")
    klusterlet = managed.get_object(*KLUSTERLET, "klusterlet")
    assert klusterlet is not None
    assert klusterlet["spec"]["registrationImagePullSpec"].endswith("registration:v1.3.1")
    live = hub.get_object(*MANAGED_CLUSTER, id_)
    assert live is not None
    assert live["metadata"]["uid"] == joined["metadata"]["uid"]  # the same ManagedCluster: never unjoined


def test_check_rejects_an_unknown_release(server: DynamicServer, hub: FakeKube) -> None:
    failures = dict(server.check(registration_inputs(ocmVersion="v0.9.0")))
    assert "not a supported OCM release (v1.2.1, v1.3.1)" in failures["spec.ocmVersion"]
    assert server.check(registration_inputs(ocmVersion="v1.2.1")) == []


def test_registrations_made_before_the_version_input_unjoin_with_the_release_they_applied() -> None:
    spec = registration_inputs()["spec"]
    del spec["ocmVersion"]
    assert Registration.from_props(spec).ocm_version == "v1.3.1"
