"""Stage 1 of the end-to-end harness: the local clusters are real enough for OCM.

Each test checks one thing later stages rely on: live API servers at the pinned release, reachable
only from this machine; workloads that become Available (scheduler, controller-manager and kwok
node working together); client certificates issued through CSRs (how OCM agents authenticate to
the hub); and OCM's ClusterManager CRD served with its schema enforced.

Then the local kubelet (sandbox/kubelet.py) as the addons, KubeVela and OCM's own e2e suite need it,
with pods of the runtime's own test image (the kubelet's Python interpreter, sandbox/images.py): a
process reads its namespace and uses in-cluster configuration; Services reach their pods by DNS
name and ClusterIP, and from the other cluster by a load-balancer address; kube-apiserver reaches
an aggregated API served by a pod; readiness is the readinessProbe's; Jobs end by their exit code;
and a pod of an image the kubelet does not run stays kwok's.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import sandbox.clusters
from providers.kube import Kube, KubeError
from sandbox import images, kubelet
from sandbox.stages import KWOK_RUNTIME, RUNTIME_ANNOTATION

from .conftest import Cluster
from .kubeutil import condition, get, wait_for, wait_gone

CRD_NAME = "clustermanagers.operator.open-cluster-management.io"
CRD_DIR = "ocm/v1.3.1/operator/cluster-manager/config/crds"
CRD_FILE = f"{CRD_DIR}/0000_01_operator.open-cluster-management.io_clustermanagers.crd.yaml"
CLUSTER_MANAGERS = "/apis/operator.open-cluster-management.io/v1/clustermanagers"
DRY_RUN = {"dryRun": "All"}
TIMEOUT = 60.0
PYTHON = f"{images.PYTHON_IMAGE}:{images.python_tag()}"
OPENSSL_SELF_SIGNED = [
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
]


@pytest.fixture(params=sandbox.clusters.CLUSTERS)
def cluster(request: pytest.FixtureRequest, clusters: dict[str, Cluster]) -> Cluster:
    return clusters[str(request.param)]


@pytest.fixture
def namespace(hub: Cluster) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    hub.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    hub.client.delete("v1", "Namespace", name)


@pytest.fixture
def local_hub(hub: Cluster, managed: Cluster) -> Cluster:
    """The hub, when both clusters are ours: the pods below need the local kubelet."""
    if not (hub.local and managed.local):
        pytest.skip("the local kubelet runs pods on the local clusters only")
    return hub


def test_api_server_is_ready_at_pinned_version(cluster: Cluster) -> None:
    cluster.client.request("GET", "/readyz")  # 200 only when every readiness check passes
    version = cluster.client.request("GET", "/version")
    if cluster.local:
        assert version["gitVersion"] == sandbox.clusters.kube_version()
    else:
        assert version["gitVersion"].startswith("v1.")


def test_cluster_listens_on_loopback_only(cluster: Cluster) -> None:
    if not cluster.local:
        pytest.skip("an external cluster's listeners are not ours to check")
    pids = sandbox.clusters.component_pids(cluster.name)
    assert set(pids) == set(sandbox.clusters.COMPONENTS), "every component should be running"
    listeners = {component: _listening_addresses(pid) for component, pid in pids.items()}
    assert all(listeners.values()), f"every component should listen somewhere: {listeners}"
    exposed = {
        component: sorted(f"{ip}:{port}" for ip, port in addrs if ip != "127.0.0.1")
        for component, addrs in listeners.items()
    }
    assert not any(exposed.values()), f"listening beyond 127.0.0.1: {exposed}"
    api_port = int(cluster.client.server.rsplit(":", 1)[1])
    assert ("127.0.0.1", api_port) in listeners["kube-apiserver"]


def test_deployment_becomes_available(hub: Cluster, namespace: str) -> None:
    hub.client.create(_deployment("web", namespace, replicas=2))
    deployment = wait_for(
        hub.client,
        hub.client.path("apps/v1", "Deployment", "web", namespace),
        lambda d: condition(d, "Available") == "True" and d["status"].get("availableReplicas") == 2,
        timeout=TIMEOUT,
        what="Deployment web Available with 2 replicas",
    )
    assert deployment["status"]["readyReplicas"] == 2
    pods = hub.client.request("GET", f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": "app=web"})["items"]
    assert {pod["spec"].get("nodeName") for pod in pods} == {sandbox.clusters.FAKE_NODE}
    assert {pod["status"].get("phase") for pod in pods} == {"Running"}
    if hub.local:  # an image the local kubelet does not run: left to kwok, which made it Ready
        assert {pod["metadata"]["annotations"].get(RUNTIME_ANNOTATION) for pod in pods} == {KWOK_RUNTIME}
        assert not any(kubelet.PROCESS_FINALIZER in (pod["metadata"].get("finalizers") or []) for pod in pods)
        assert not any(_log(hub, pod, "web").exists() for pod in pods), "no process ran for it"


def test_approved_client_csr_is_signed_and_authenticates(hub: Cluster, tmp_path: Path) -> None:
    key, csr_pem = tmp_path / "agent.key", tmp_path / "agent.csr"
    user = f"e2e-agent-{uuid.uuid4().hex[:8]}"
    openssl = ["openssl", "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    subj = f"/O=e2e/CN={user}"
    subprocess.run([*openssl, "-keyout", key, "-out", csr_pem, "-subj", subj], check=True, capture_output=True)
    csr_path = hub.client.path("certificates.k8s.io/v1", "CertificateSigningRequest", user)
    hub.client.create(
        {
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": user},
            "spec": {
                "request": base64.b64encode(csr_pem.read_bytes()).decode(),
                "signerName": "kubernetes.io/kube-apiserver-client",
                "usages": ["digital signature", "client auth"],
                "expirationSeconds": 3600,
            },
        },
    )
    try:
        csr = hub.client.request("GET", csr_path)
        csr["status"] = {
            "conditions": [
                {
                    "type": "Approved",
                    "status": "True",
                    "reason": "E2E",
                    "message": "approved by the e2e test",
                }
            ]
        }
        hub.client.put(f"{csr_path}/approval", csr)
        signed = wait_for(
            hub.client,
            csr_path,
            lambda c: bool(c.get("status", {}).get("certificate")),
            timeout=TIMEOUT,
            what="certificate issued for the approved CSR",
        )
    finally:
        hub.client.delete("certificates.k8s.io/v1", "CertificateSigningRequest", user)

    cert = tmp_path / "agent.crt"
    cert.write_bytes(base64.b64decode(signed["status"]["certificate"]))
    agent = Kube.from_file(str(_kubeconfig_with_client_cert(hub, cert, key, tmp_path)))
    review = agent.post(
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
        },
    )
    user_info = review["status"]["userInfo"]
    assert user_info["username"] == user
    assert "e2e" in user_info["groups"]


def test_cluster_manager_crd_is_established_and_enforces_its_schema(hub: Cluster, shared_dir: Path) -> None:
    """Create the CRD unless the hub has it already, and remove only what this test created."""
    crd = yaml.safe_load((shared_dir / CRD_FILE).read_text(encoding="utf-8"))
    assert crd["metadata"]["name"] == CRD_NAME
    crd_path = hub.client.path("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME)
    created = get(hub.client, crd_path) is None
    if created:
        hub.client.create(crd)
    try:
        wait_for(
            hub.client,
            crd_path,
            lambda c: condition(c, "Established") == "True",
            timeout=TIMEOUT,
            what=f"CRD {CRD_NAME} Established",
        )
        accepted = hub.client.request("POST", CLUSTER_MANAGERS, DRY_RUN, body=_cluster_manager(mode="Default"))
        assert accepted["spec"]["deployOption"]["mode"] == "Default"

        with pytest.raises(KubeError) as rejected:
            hub.client.request("POST", CLUSTER_MANAGERS, DRY_RUN, body=_cluster_manager(mode="Sideways"))
        assert rejected.value.status == 422
        assert rejected.value.reason == "Invalid"
        assert "spec.deployOption.mode" in str(rejected.value)
    finally:
        if created:
            hub.client.delete("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME)
            wait_gone(hub.client, crd_path, timeout=TIMEOUT)


# -- the local kubelet ----------------------------------------------------------------------------

IN_CLUSTER = """
import json, os, ssl, sys, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
namespace = open(f"{sa}/namespace").read()
host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"]
review = urllib.request.Request(
    f"https://{host}:{port}/apis/authentication.k8s.io/v1/selfsubjectreviews",
    data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
    headers={"Authorization": "Bearer " + open(f"{sa}/token").read(), "Content-Type": "application/json"},
)
context = ssl.create_default_context(cafile=f"{sa}/ca.crt")
user = json.load(urllib.request.urlopen(review, context=context, timeout=10))["status"]["userInfo"]["username"]
print(namespace, user, flush=True)
sys.exit(0 if (namespace, user) == (os.environ["EXPECTED"], f"system:serviceaccount:{namespace}:default") else 1)
"""


def test_a_pod_reads_its_namespace_and_reaches_its_api_server_in_cluster(local_hub: Cluster, namespace: str) -> None:
    """What OCM's agents and the addons rely on: the service-account mount and in-cluster config."""
    job = _job("in-cluster", namespace, ["-c", IN_CLUSTER], env={"EXPECTED": namespace})
    finished = _run_job(local_hub, job)
    assert condition(finished, "Complete") == "True", _job_log(local_hub, namespace, "in-cluster")
    assert _job_log(local_hub, namespace, "in-cluster").splitlines()[-1] == (
        f"{namespace} system:serviceaccount:{namespace}:default"
    )


HELLO = """
import http.server, os
class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + os.environ["POD_NAME"]).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("", 8080), Hello).serve_forever()
"""
FETCH = """
import os, sys, urllib.request
for url in sys.argv[1:]:
    print(url, urllib.request.urlopen(url, timeout=10).read().decode(), flush=True)
"""


def test_a_service_reaches_its_pod_by_name_and_address_and_from_the_other_cluster_by_load_balancer(
    local_hub: Cluster, managed: Cluster, namespace: str
) -> None:
    hub = local_hub
    hub.client.create(_python_deployment("hello", namespace, ["-c", HELLO], port=8080))
    for name, kind in (("hello", "ClusterIP"), ("hello-lb", "LoadBalancer")):
        hub.client.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/services",
            body={
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"type": kind, "selector": {"app": "hello"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        )
    _await_available(hub, namespace, "hello")
    cluster_ip = hub.client.request("GET", f"/api/v1/namespaces/{namespace}/services/hello")["spec"]["clusterIP"]
    urls = ["http://hello/", f"http://hello.{namespace}.svc.cluster.local/", f"http://{cluster_ip}/"]
    finished = _run_job(hub, _job("fetch", namespace, ["-c", FETCH, *urls]))
    assert condition(finished, "Complete") == "True", _job_log(hub, namespace, "fetch")
    answers = _job_log(hub, namespace, "fetch").splitlines()[-3:]
    assert [line.split(" ", 1)[0] for line in answers] == urls
    assert all(" hello from hello-" in line for line in answers), answers

    balanced = wait_for(
        hub.client,
        f"/api/v1/namespaces/{namespace}/services/hello-lb",
        lambda s: bool((s.get("status") or {}).get("loadBalancer", {}).get("ingress")),
        timeout=TIMEOUT,
        what="a load-balancer address for hello-lb",
    )
    address = balanced["status"]["loadBalancer"]["ingress"][0]["ip"]
    managed.client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    try:
        finished = _run_job(managed, _job("fetch", namespace, ["-c", FETCH, f"http://{address}/"]))
        assert condition(finished, "Complete") == "True", _job_log(managed, namespace, "fetch")
        assert _job_log(managed, namespace, "fetch").splitlines()[-1].startswith(f"http://{address}/ hello from hello-")
    finally:
        managed.client.delete("v1", "Namespace", namespace)


AGGREGATED = """
import http.server, json, ssl, sys
group, version = sys.argv[1], sys.argv[2]
resources = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}", "resources": []}
groups = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [{"name": group,
    "versions": [{"groupVersion": f"{group}/{version}", "version": version}],
    "preferredVersion": {"groupVersion": f"{group}/{version}", "version": version}}]}
class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        found = {f"/apis/{group}/{version}": resources, "/apis": groups}.get(self.path.split("?")[0])
        body = json.dumps(found or {"kind": "Status", "code": 404}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
server = http.server.HTTPServer(("", 8443), Api)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain("/tls/tls.crt", "/tls/tls.key")
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def test_an_aggregated_api_served_by_a_pod_becomes_available(
    local_hub: Cluster, namespace: str, tmp_path: Path
) -> None:
    """kube-apiserver reaches it through its egress proxy, as it reaches the cluster-gateway's API."""
    hub, group, version = local_hub, f"{namespace}.ocm-hub.io", "v1"
    key, cert = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(
        [*OPENSSL_SELF_SIGNED, "-keyout", str(key), "-out", str(cert), "-subj", f"/CN=api.{namespace}.svc"],
        check=True,
        capture_output=True,
    )
    hub.client.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tls", "namespace": namespace},
            "data": {
                "tls.crt": base64.b64encode(cert.read_bytes()).decode(),
                "tls.key": base64.b64encode(key.read_bytes()).decode(),
            },
        }
    )
    deployment = _python_deployment("api", namespace, ["-c", AGGREGATED, group, version], port=8443)
    pod_spec = deployment["spec"]["template"]["spec"]
    pod_spec["volumes"] = [{"name": "tls", "secret": {"secretName": "tls"}}]
    pod_spec["containers"][0]["volumeMounts"] = [{"name": "tls", "mountPath": "/tls", "readOnly": True}]
    hub.client.create(deployment)
    hub.client.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/services",
        body={
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "api", "namespace": namespace},
            "spec": {"selector": {"app": "api"}, "ports": [{"port": 443, "targetPort": 8443}]},
        },
    )
    api_service = f"/apis/apiregistration.k8s.io/v1/apiservices/{version}.{group}"
    hub.client.request(
        "POST",
        "/apis/apiregistration.k8s.io/v1/apiservices",
        body={
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": f"{version}.{group}"},
            "spec": {
                "group": group,
                "version": version,
                "service": {"namespace": namespace, "name": "api", "port": 443},
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 1000,
                "versionPriority": 15,
            },
        },
    )
    try:
        wait_for(
            hub.client,
            api_service,
            lambda a: condition(a, "Available") == "True",
            timeout=TIMEOUT,
            what=f"APIService {version}.{group} Available",
        )
        served = hub.client.request("GET", f"/apis/{group}/{version}")
        assert served["groupVersion"] == f"{group}/{version}", "answered by the pod, through kube-apiserver"
    finally:
        hub.client.request("DELETE", api_service)


def test_a_failing_readiness_probe_holds_the_rollout_until_it_passes(local_hub: Cluster, namespace: str) -> None:
    """Ready means the probe passed: the server runs, but /ready is there only once the ConfigMap says so."""
    hub = local_hub
    hub.client.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site", "namespace": namespace}, "data": {}}
    )
    deployment = _python_deployment(
        "gated", namespace, ["-m", "http.server", "8080", "--directory", "/site"], port=8080
    )
    pod_spec = deployment["spec"]["template"]["spec"]
    pod_spec["volumes"] = [{"name": "site", "configMap": {"name": "site"}}]
    container = pod_spec["containers"][0]
    container["volumeMounts"] = [{"name": "site", "mountPath": "/site"}]
    container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 2}
    hub.client.create(deployment)
    (pod,) = _await_pods(hub, namespace, "gated", lambda p: bool(p["status"].get("containerStatuses")))
    log = _log(hub, pod, "gated")
    deadline = time.monotonic() + TIMEOUT
    while _text(log).count('"GET /ready HTTP/1.1" 404') < 3:
        assert time.monotonic() < deadline, "the probe did not run three times"
        time.sleep(0.5)
    live = hub.client.request("GET", f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}")
    assert live["status"]["phase"] == "Running"
    assert "running" in live["status"]["containerStatuses"][0]["state"]
    assert condition(live, "Ready") == "False", "three failed probes: not ready"
    rollout = hub.client.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/gated")
    assert not rollout["status"].get("readyReplicas"), "the rollout is not done"
    assert condition(rollout, "Available") == "False"

    hub.client.merge_patch("v1", "ConfigMap", "site", {"data": {"ready": "yes"}}, namespace)
    _await_available(hub, namespace, "gated")


@pytest.mark.parametrize(("code", "outcome"), [(0, "Complete"), (3, "Failed")])
def test_a_job_runs_for_real_and_ends_by_its_exit_code(
    local_hub: Cluster, namespace: str, code: int, outcome: str
) -> None:
    job = _job("exits", namespace, ["-c", f"import sys; print('ran'); sys.exit({code})"])
    finished = _run_job(local_hub, job)
    assert condition(finished, outcome) == "True"
    (pod,) = local_hub.client.list("v1", "Pod", namespace, "job-name=exits")
    assert pod["status"]["phase"] == ("Succeeded" if code == 0 else "Failed")
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == code
    assert _log(local_hub, pod, "exits").read_text(encoding="utf-8").splitlines()[-1] == "ran"


def _deployment(name: str, namespace: str, *, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                # kwok fakes the container lifecycle: the image is never pulled.
                "spec": {"containers": [{"name": name, "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    }


def _cluster_manager(*, mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "operator.open-cluster-management.io/v1",
        "kind": "ClusterManager",
        "metadata": {"name": "cluster-manager"},
        "spec": {"deployOption": {"mode": mode}},
    }


def _kubeconfig_with_client_cert(cluster: Cluster, cert: Path, key: Path, directory: Path) -> Path:
    source = yaml.safe_load(cluster.kubeconfig.read_text(encoding="utf-8"))
    context = next(c for c in source["contexts"] if c["name"] == source["current-context"])["context"]
    cluster_entry = next(c for c in source["clusters"] if c["name"] == context["cluster"])
    path = directory / "agent.kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [cluster_entry],
                "users": [{"name": "agent", "user": {"client-certificate": str(cert), "client-key": str(key)}}],
                "contexts": [{"name": "agent", "context": {"cluster": cluster_entry["name"], "user": "agent"}}],
                "current-context": "agent",
            }
        ),
        encoding="utf-8",
    )
    return path


def _listening_addresses(pid: int) -> set[tuple[str, int]]:
    """TCP sockets in LISTEN state owned by pid, from /proc (Linux)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text(encoding="utf-8").splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:
                found.add(_decode_address(local))
    return found


def _decode_address(hex_address: str) -> tuple[str, int]:
    """/proc/net/tcp{,6} addresses are little-endian 32-bit words in hex, then the port."""
    ip_hex, port_hex = hex_address.split(":")
    raw = b"".join(bytes.fromhex(ip_hex[i : i + 8])[::-1] for i in range(0, len(ip_hex), 8))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address), int(port_hex, 16)


def _python_deployment(name: str, namespace: str, args: list[str], *, port: int) -> dict[str, Any]:
    deployment = _deployment(name, namespace, replicas=1)
    deployment["spec"]["template"]["spec"]["containers"] = [
        {
            "name": name,
            "image": PYTHON,
            "args": args,
            "ports": [{"containerPort": port}],
            "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        }
    ]
    return deployment


def _job(name: str, namespace: str, args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    container = {
        "name": name,
        "image": PYTHON,
        "args": args,
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [container]}}},
    }


def _run_job(cluster: Cluster, job: dict[str, Any]) -> dict[str, Any]:
    """Create the Job and wait until it completes or fails."""
    meta = job["metadata"]
    cluster.client.request("POST", f"/apis/batch/v1/namespaces/{meta['namespace']}/jobs", body=job)
    return wait_for(
        cluster.client,
        f"/apis/batch/v1/namespaces/{meta['namespace']}/jobs/{meta['name']}",
        lambda j: "True" in (condition(j, "Complete"), condition(j, "Failed")),
        timeout=TIMEOUT,
        what=f"Job {meta['name']} done",
    )


def _await_pods(cluster: Cluster, namespace: str, app: str, ready: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        pods = cluster.client.list("v1", "Pod", namespace, f"app={app}")
        if pods and all(ready(pod) for pod in pods):
            return pods
        assert time.monotonic() < deadline, f"pods of {app}: {[p.get('status') for p in pods]}"
        time.sleep(0.5)


def _await_available(cluster: Cluster, namespace: str, name: str) -> None:
    wait_for(
        cluster.client,
        f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        lambda d: condition(d, "Available") == "True" and d["status"].get("readyReplicas") == 1,
        timeout=TIMEOUT,
        what=f"Deployment {name} rolled out",
    )


def _log(cluster: Cluster, pod: dict[str, Any], container: str) -> Path:
    """Where the local kubelet writes the container's output."""
    meta = pod["metadata"]
    return sandbox.clusters.KUBELET_DIR / "logs" / f"{cluster.name}.{meta['namespace']}.{meta['name']}.{container}.log"


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _job_log(cluster: Cluster, namespace: str, job: str) -> str:
    pods = cluster.client.list("v1", "Pod", namespace, f"job-name={job}")
    return "\n".join(
        _log(cluster, pod, job).read_text(encoding="utf-8") for pod in pods if _log(cluster, pod, job).exists()
    )
