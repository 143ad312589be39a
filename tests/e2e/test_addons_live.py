"""The three addons for real: their managers on the hub, their agents on managed-1, each run by the local
kubelet from the binaries built at the chart's own release, and one real request through each.

TestAddonsLive: the dev stack as `make up` runs it on the local clusters (sandbox/local_stack.py), with
`waitForAddons`: `pulumi up` returns only once all three addons are Available on managed-1.
Then the seed's three checks by plain kubectl, `make status`, a ManagedServiceAccount's token used on
managed-1, a request through the cluster-proxy tunnel (tests/e2e/konnectivity.py: a konnectivity
client through the proxy-server's 8090 with the `proxy-client` certificate), ClusterGateway proxying
through the hub's aggregated API, disabling the gateway addon, and last the destroy, which leaves
no addon agent running on managed-1.

Apart, on a stack of its own (a fresh registration is what waits for addons): an addon whose agent never
becomes available. It is not the same stack fixed afterwards: cluster-proxy v0.10.0's manager does not
render its agent again when ManagedProxyConfiguration's agent image changes back (measured: the
configuration's generation and the addon's configReferences moved, the agent's ManifestWork kept the old
image), so the repair would be upstream's to make.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.addons import ADDON_NAMESPACE, CHARTS
from providers.kube import Kube
from sandbox import chart_repo, tools

from . import konnectivity
from .conftest import Cluster
from .kubeutil import condition, get, kubectl, kubelet_running, wait_for, wait_gone
from .pulumi_cli import REPO_ROOT, VENV_PYTHON, Result
from .test_hub_stack import MANAGED, UP_TIMEOUT, HubStack, StackFactory
from .test_hub_stack import kubernetes_plugin as kubernetes_plugin_fixture  # noqa: F401  (fixtures, by these names)
from .test_hub_stack import local_hub as local_hub_fixture  # noqa: F401

pytestmark = pytest.mark.usefixtures("kubernetes_plugin_fixture", "local_hub_fixture")

ADDON_TIMEOUT = 30  # seconds, the least addonTimeout: the fault's bound
NO_AGENT_IMAGE = "example.invalid/no-cluster-proxy-agent"  # an image the local kubelet leaves to kwok
ADDONS = tuple(chart.addon for chart in CHARTS.values())
MCA = "/apis/addon.open-cluster-management.io/v1alpha1/namespaces/{cluster}/managedclusteraddons/{name}"
CMA = "/apis/addon.open-cluster-management.io/v1alpha1/clustermanagementaddons/{name}"
MSA_API = "authentication.open-cluster-management.io/v1beta1"
MSA_NAME = "e2e-token"
AGENT_NAMESPACE = "open-cluster-management-agent-addon"  # where managed-serviceaccount's agent installs
CLUSTER_PROXY_AGENT_NAMESPACE = "open-cluster-management-cluster-proxy"  # its agent's ManifestWork makes it
ORPHAN_ANNOTATION = "addon.open-cluster-management.io/deletion-orphan"  # the work leaves such an object behind
APISERVICE = "/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.cluster.core.oam.dev"
GATEWAY_PROXY = "/apis/cluster.core.oam.dev/v1alpha1/clustergateways/{cluster}/proxy"
VELA_GATEWAY_SERVICE = "/api/v1/namespaces/vela-system/services/kubevela-cluster-gateway-service"
WAIT = 120.0
# The processes each addon runs: (cluster, namespace, Deployment, tool of each container).
PROCESSES = (
    ("hub", ADDON_NAMESPACE, "cluster-proxy-addon-manager", ("cluster-proxy-addon-manager",)),
    ("hub", ADDON_NAMESPACE, "cluster-proxy", ("proxy-server",)),
    ("hub", ADDON_NAMESPACE, "managed-serviceaccount-addon-manager", ("managed-serviceaccount",)),
    ("hub", ADDON_NAMESPACE, "cluster-gateway-addon-manager", ("cluster-gateway-addon-manager",)),
    ("hub", "vela-system", "gateway-deployment", ("cluster-gateway",)),
    (
        "managed-1",
        CLUSTER_PROXY_AGENT_NAMESPACE,
        "cluster-proxy-proxy-agent",
        ("proxy-agent", "cluster-proxy-addon-agent"),
    ),
    ("managed-1", AGENT_NAMESPACE, "managed-serviceaccount-addon-agent", ("managed-serviceaccount",)),
)


def _dev_config() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"])


@pytest.fixture(scope="class")
def addons_stack(hub: Cluster, managed: Cluster) -> Iterator[tuple[HubStack, Result]]:
    """The dev stack, waiting for its addons: up returns once all three are Available on managed-1."""
    dev = _dev_config()
    registration = {**dev["ocm-hub:registration"], "waitForAddons": True, "addonTimeout": "5m"}
    factory = StackFactory(hub)
    try:
        stack = factory.make("addons", registration=registration)
        yield stack, stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
    finally:
        factory.close()
        hub.client.delete("v1", "Namespace", MANAGED)


def _table(text: str) -> list[dict[str, str]]:
    """kubectl's table by column (a header such as `HUB ACCEPTED` holds single spaces; columns are apart by two)."""
    header, *rows = [line for line in text.splitlines() if line.strip()]
    starts = [match.start() for match in re.finditer(r"\S+(?: \S+)*", header)]
    names = [header[start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)]
    return [
        {name: row[start:end].strip() for name, start, end in zip(names, starts, [*starts[1:], None], strict=True)}
        for row in rows
    ]


def _secret(kube: Kube, namespace: str, name: str) -> dict[str, bytes]:
    found = get(kube, f"/api/v1/namespaces/{namespace}/secrets/{name}")
    assert found is not None, f"Secret {namespace}/{name}"
    return {key: base64.b64decode(value) for key, value in (found.get("data") or {}).items()}


def _token_kubeconfig(server: str, projected: dict[str, bytes]) -> dict[str, Any]:
    """A kubeconfig of the ManagedServiceAccount's Secret as the hub holds it (token and CA)."""
    cluster = {"server": server, "certificate-authority-data": base64.b64encode(projected["ca.crt"]).decode()}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": MANAGED, "cluster": cluster}],
        "users": [{"name": MSA_NAME, "user": {"token": projected["token"].decode()}}],
        "contexts": [{"name": MANAGED, "context": {"cluster": MANAGED, "user": MSA_NAME}}],
        "current-context": MANAGED,
    }


def _available(kube: Kube, cluster: str, name: str) -> str | None:
    return condition(get(kube, MCA.format(cluster=cluster, name=name)), "Available")


@pytest.fixture
def factory(hub: Cluster) -> Iterator[StackFactory]:
    stacks = StackFactory(hub)
    try:
        yield stacks
    finally:
        stacks.close()
        hub.client.delete("v1", "Namespace", MANAGED)  # the hub controller made it on acceptance


def test_an_agent_that_never_becomes_available_ends_the_bounded_wait_naming_it(factory: StackFactory) -> None:
    """cluster-proxy's agent image points at one nothing runs: its manager deploys the agent, kwok's pod
    never renews the addon's Lease, and up ends at addonTimeout naming addon, cluster and condition."""
    dev = _dev_config()
    registration = {**dev["ocm-hub:registration"], "waitForAddons": True, "addonTimeout": f"{ADDON_TIMEOUT}s"}
    addons = {"clusterProxy": {"enabled": True, "values": {"proxyAgentImage": NO_AGENT_IMAGE}}}
    stack = factory.make("no-agent", registration=registration, addons=addons)
    up = stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT, check=False)
    output = up.stdout + up.stderr
    assert up.returncode != 0, "an addon that never becomes Available fails the run"
    expected = (
        f"cluster {MANAGED}: addon cluster-proxy not Available after {ADDON_TIMEOUT}s: condition Available is "
        "Unknown (ManagedClusterAddOnLeaseNotFound"
    )
    assert expected in output, output[-4000:]
    assert "Traceback" not in output, output[-4000:]


class TestAddonsLive:
    def test_the_seeds_three_checks_hold_by_plainkubectl(
        self, addons_stack: tuple[HubStack, Result], hub: Cluster
    ) -> None:
        manager = json.loads(kubectl(hub.kubeconfig, "get", "clustermanager", "cluster-manager", "-o", "json"))
        assert condition(manager, "Applied") == "True"
        clusters = {row["NAME"]: row for row in _table(kubectl(hub.kubeconfig, "get", "managedclusters"))}
        assert (clusters[MANAGED]["JOINED"], clusters[MANAGED]["AVAILABLE"]) == ("True", "True"), clusters
        addons = {
            row["NAME"]: row for row in _table(kubectl(hub.kubeconfig, "get", "managedclusteraddon", "-n", MANAGED))
        }
        assert {name: row["AVAILABLE"] for name, row in addons.items()} == dict.fromkeys(ADDONS, "True"), addons

    def test_each_addon_runs_as_the_processes_of_its_charts_release(
        self, addons_stack: tuple[HubStack, Result], hub: Cluster, managed: Cluster
    ) -> None:
        """Every manager and agent is run by the local kubelet, each container from the tool its image
        names, built at the version of the chart the release installed."""
        clients = {"hub": hub.client, "managed-1": managed.client}
        for cluster, namespace, deployment, containers in PROCESSES:
            kubelet_running(clients[cluster], namespace, deployment, timeout=0)
            found = get(clients[cluster], f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}")
            assert found is not None
            selector = ",".join(f"{k}={v}" for k, v in found["spec"]["selector"]["matchLabels"].items())
            pods = clients[cluster].list("v1", "Pod", namespace, selector)
            ran = {s["imageID"] for pod in pods for s in (pod.get("status") or {}).get("containerStatuses") or []}
            wanted = {f"sandbox://{tool}@{tools.select([tool])[0].version()}" for tool in containers}
            assert wanted <= ran, f"{cluster} {namespace}/{deployment}: {ran}"
        releases = {
            s["metadata"]["labels"]["name"]: s for s in hub.client.list("v1", "Secret", ADDON_NAMESPACE, "owner=helm")
        }
        assert set(releases) == {chart.chart for chart in CHARTS.values()}
        assert chart_repo.served_versions().keys() == CHARTS.keys()

    def test_make_status_shows_every_addon_available(self, addons_stack: tuple[HubStack, Result]) -> None:
        stack, _ = addons_stack
        env = {**stack.project.env, "PYTHONPATH": str(stack.project.directory)}
        shown = subprocess.run(
            [str(VENV_PYTHON), "-m", "fleetstatus", "--stack", stack.name],
            cwd=stack.project.directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        lines = shown.stdout.splitlines()
        header = next(line for line in lines if line.startswith("NAME")).split()
        assert [name.lower() for name in header[-3:]] == sorted(ADDONS), header
        row = next(line for line in lines if line.startswith(f"{MANAGED} ")).split()
        assert row[-3:] == ["Available"] * 3, shown.stdout
        assert lines[-1].endswith("addons available 3/3"), shown.stdout

    def test_the_gateway_addon_manager_makes_its_managed_cluster_addon_itself(
        self, addons_stack: tuple[HubStack, Result], hub: Cluster
    ) -> None:
        """Its install strategy (InstallAll, addon-framework v0.7.0) runs once its manager runs: the row
        the hub lacked while nothing ran behind the chart."""
        path = MCA.format(cluster=MANAGED, name="cluster-gateway")
        before = get(hub.client, path)
        assert before is not None
        hub.client.request("DELETE", path)
        again = wait_for(
            hub.client,
            path,
            lambda obj: obj["metadata"]["uid"] != before["metadata"]["uid"] and condition(obj, "Available") == "True",
            timeout=WAIT,
            what="the gateway's ManagedClusterAddOn made again by its addon manager, Available",
        )
        assert again["metadata"]["ownerReferences"][0]["name"] == "cluster-gateway"

    def test_a_managed_service_account_token_is_made_on_managed_1_and_works_there(
        self, addons_stack: tuple[HubStack, Result], hub: Cluster, managed: Cluster
    ) -> None:
        msa = {
            "apiVersion": MSA_API,
            "kind": "ManagedServiceAccount",
            "metadata": {"name": MSA_NAME, "namespace": MANAGED},
            "spec": {"rotation": {"enabled": True, "validity": "24h0m0s"}},
        }
        path = f"/apis/{MSA_API}/namespaces/{MANAGED}/managedserviceaccounts/{MSA_NAME}"
        hub.client.request("POST", f"/apis/{MSA_API}/namespaces/{MANAGED}/managedserviceaccounts", body=msa)
        try:
            wait_for(
                hub.client,
                path,
                lambda o: condition(o, "TokenReported") == "True",
                timeout=WAIT,
                what="the agent's token reported to the hub",
            )
            account = get(managed.client, f"/api/v1/namespaces/{AGENT_NAMESPACE}/serviceaccounts/{MSA_NAME}")
            assert account is not None, "the agent made the ServiceAccount on managed-1"
            projected = _secret(hub.client, MANAGED, MSA_NAME)
            assert set(projected) >= {"token", "ca.crt"}
            as_account = Kube.from_kubeconfig(_token_kubeconfig(managed.client.server, projected))
            review = as_account.request(
                "POST",
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            )
            username = review["status"]["userInfo"]["username"]
            assert username == f"system:serviceaccount:{AGENT_NAMESPACE}:{MSA_NAME}"
        finally:
            hub.client.request("DELETE", path)
            wait_gone(hub.client, path, timeout=WAIT)

    def test_a_request_reaches_managed_1s_api_server_through_the_cluster_proxy_tunnel(
        self, addons_stack: tuple[HubStack, Result], hub: Cluster, managed: Cluster
    ) -> None:
        """hub → proxy-server :8090 (mTLS, proxy-client) → the tunnel → proxy-agent on managed-1 →
        `managed-1:443` (its ExternalName Service) → managed-1's API server, TLS end to end."""
        client, ca = (
            _secret(hub.client, ADDON_NAMESPACE, "proxy-client"),
            _secret(hub.client, ADDON_NAMESPACE, "proxy-server-ca"),
        )
        service = get(hub.client, f"/api/v1/namespaces/{ADDON_NAMESPACE}/services/proxy-entrypoint")
        assert service is not None
        kubeconfig = yaml.safe_load(managed.kubeconfig.read_text(encoding="utf-8"))
        user, server = kubeconfig["users"][0]["user"], kubeconfig["clusters"][0]["cluster"]
        with tempfile.TemporaryDirectory() as directory:
            cert, key = Path(directory) / "tls.crt", Path(directory) / "tls.key"
            cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            tls = konnectivity.client_context(base64.b64decode(server["certificate-authority-data"]), cert, key)
            with konnectivity.forward("hub", service["spec"]["clusterIP"], 8090) as port:
                channel = konnectivity.channel(
                    port, ca["ca.crt"], client["tls.crt"], client["tls.key"], f"proxy-entrypoint.{ADDON_NAMESPACE}.svc"
                )
                with channel:
                    status, body = konnectivity.https_get(
                        channel, f"{MANAGED}:443", "/api/v1/namespaces/kube-system", tls, hostname="localhost"
                    )
        assert status == 200, body[:500]
        reached = json.loads(body)["metadata"]["uid"]
        assert reached == managed.client.request("GET", "/api/v1/namespaces/kube-system")["metadata"]["uid"]
        assert reached != hub.client.request("GET", "/api/v1/namespaces/kube-system")["metadata"]["uid"]

    def test_cluster_gateway_proxies_to_managed_1_through_the_hub_api(
        self, addons_stack: tuple[HubStack, Result], hub: Cluster, managed: Cluster
    ) -> None:
        apiservice = get(hub.client, APISERVICE)
        assert condition(apiservice, "Available") == "True", apiservice
        assert apiservice is not None
        assert apiservice["spec"]["service"] == {"name": "cluster-gateway", "namespace": "vela-system", "port": 9443}
        proxied = hub.client.request("GET", GATEWAY_PROXY.format(cluster=MANAGED) + "/api/v1/namespaces/kube-system")
        assert (
            proxied["metadata"]["uid"]
            == managed.client.request("GET", "/api/v1/namespaces/kube-system")["metadata"]["uid"]
        )
        version = hub.client.request("GET", GATEWAY_PROXY.format(cluster=MANAGED) + "/version")
        assert version["gitVersion"] == managed.client.request("GET", "/version")["gitVersion"]

    def test_disabling_the_gateway_removes_its_release_and_addons_and_leaves_the_others_available(
        self, addons_stack: tuple[HubStack, Result], hub: Cluster
    ) -> None:
        stack, _ = addons_stack
        vela_gateway = get(hub.client, VELA_GATEWAY_SERVICE)
        stack.project.run("config", "set", "--path", "ocm-hub:addons.clusterGateway.enabled", "false", timeout=60)
        stack.project.run("up", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
        releases = {
            s["metadata"]["labels"]["name"] for s in hub.client.list("v1", "Secret", ADDON_NAMESPACE, "owner=helm")
        }
        assert releases == {"cluster-proxy", "managed-serviceaccount"}
        wait_gone(hub.client, CMA.format(name="cluster-gateway"), timeout=WAIT)
        wait_gone(hub.client, MCA.format(cluster=MANAGED, name="cluster-gateway"), timeout=WAIT)
        settled = time.monotonic() + 15  # the others stay Available, not only at one instant
        while time.monotonic() < settled:
            assert [_available(hub.client, MANAGED, name) for name in ("cluster-proxy", "managed-serviceaccount")] == [
                "True",
                "True",
            ]
            time.sleep(1)
        if vela_gateway is None:  # no KubeVela here: nothing to give the APIService back to
            wait_gone(hub.client, APISERVICE, timeout=WAIT)
        else:  # KubeVela's own gateway serves the API again, its chart owning the APIService
            back = wait_for(
                hub.client,
                APISERVICE,
                lambda o: condition(o, "Available") == "True",
                timeout=WAIT,
                what="the APIService Available, given back to vela's gateway",
            )
            assert back["spec"]["service"]["name"] == "kubevela-cluster-gateway-service"
            assert not back["metadata"].get("ownerReferences")
            assert back["metadata"]["annotations"]["meta.helm.sh/release-name"] == "kubevela"

    def test_destroy_unjoins_with_the_addons_agents_removed_from_managed_1(
        self, addons_stack: tuple[HubStack, Result], hub: Cluster, managed: Cluster
    ) -> None:
        """The ManagedCluster goes while its agents still run (providers/unjoin.py): the hub deletes the
        addons' ManifestWorks and the work agent removes what they applied, so the destroy ends, not
        at joinTimeout with the ManagedCluster held by works no agent is left to finalize."""
        stack, _ = addons_stack
        stack.project.run("destroy", "--yes", "--skip-preview", timeout=UP_TIMEOUT)
        assert get(hub.client, f"/apis/cluster.open-cluster-management.io/v1/managedclusters/{MANAGED}") is None
        # None: the CRD went with the ClusterManager (allowTeardown), which a ManifestWork left would hold.
        works = get(hub.client, f"/apis/work.open-cluster-management.io/v1/namespaces/{MANAGED}/manifestworks")
        assert [work["metadata"]["name"] for work in (works or {}).get("items") or []] == []
        for cluster, namespace, deployment, _ in PROCESSES:
            if cluster == MANAGED:
                wait_gone(
                    managed.client, f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}", timeout=WAIT
                )
        wait_gone(managed.client, f"/api/v1/namespaces/{AGENT_NAMESPACE}", timeout=WAIT)  # the klusterlet's
        # cluster-proxy's agent chart marks its namespace `deletion-orphan`: kept by upstream's design.
        kept = get(managed.client, f"/api/v1/namespaces/{CLUSTER_PROXY_AGENT_NAMESPACE}")
        assert kept is None or ORPHAN_ANNOTATION in (kept["metadata"].get("annotations") or {}), kept
