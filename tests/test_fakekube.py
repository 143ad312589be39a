"""The fake API server, driven only through the official `kubernetes` client, as production code will drive it."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client import (
    ApiClient,
    AuthenticationV1TokenRequest,
    RbacV1Subject,
    V1CertificateSigningRequest,
    V1CertificateSigningRequestCondition,
    V1CertificateSigningRequestSpec,
    V1CertificateSigningRequestStatus,
    V1ClusterRole,
    V1ClusterRoleBinding,
    V1ConfigMap,
    V1Container,
    V1DeleteOptions,
    V1Deployment,
    V1DeploymentSpec,
    V1DeploymentStatus,
    V1LabelSelector,
    V1Namespace,
    V1ObjectMeta,
    V1PodSpec,
    V1PodTemplateSpec,
    V1PolicyRule,
    V1Preconditions,
    V1RoleRef,
    V1Secret,
    V1ServiceAccount,
    V1TokenRequestSpec,
)
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from ocmhub_testing.fakekube import FakeKube

Json = dict[str, Any]
CLUSTER = ("cluster.open-cluster-management.io", "v1", "managedclusters")
ADDON = ("addon.open-cluster-management.io", "v1alpha1", "managedclusteraddons")
MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"
# The client's untyped entry points, named with the types these tests rely on.
new_watch: Callable[[], Any] = watch.Watch
new_dynamic_client: Callable[..., Any] = DynamicClient
load_client: Callable[..., ApiClient] = config.new_client_from_config
load_config: Callable[..., None] = config.load_kube_config


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    with FakeKube(idle_timeout=30, max_lifetime=90) as fake:
        yield fake
        assert fake.internal_errors == []


@pytest.fixture
def api(kube: FakeKube) -> Iterator[ApiClient]:
    with kube.api_client() as api_client:
        yield api_client


@pytest.fixture
def core(api: ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def custom(api: ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def as_dict(value: object) -> Json:
    assert isinstance(value, dict)
    return value


def meta(obj: Any) -> V1ObjectMeta:
    metadata = obj.metadata
    assert isinstance(metadata, V1ObjectMeta)
    return metadata


def failure(call: Callable[[], object]) -> tuple[int, Json]:
    """The HTTP status and Status body of a call that must fail."""
    with pytest.raises(ApiException) as caught:
        call()
    return int(caught.value.status), as_dict(json.loads(caught.value.body or "{}"))


def managed_cluster(name: str, **extra: Any) -> Json:
    body = {"apiVersion": "cluster.open-cluster-management.io/v1", "kind": "ManagedCluster", "metadata": {"name": name}}
    return {**body, "spec": {"hubAcceptsClient": True}, **extra}


def config_map(name: str, labels: dict[str, str] | None = None, **data: str) -> V1ConfigMap:
    return V1ConfigMap(metadata=V1ObjectMeta(name=name, labels=labels), data=data or None)


def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def first_events(count: int, list_call: Callable[..., object], *args: Any, **options: Any) -> list[Json]:
    """The first `count` events of a watch; the server ends it after 5 s should fewer come."""
    watcher = new_watch()
    events: list[Json] = []
    for event in watcher.stream(list_call, *args, timeout_seconds=5, **options):
        events.append(event)
        if len(events) == count:
            watcher.stop()
    return events


# Lifecycle and client configuration


def test_kubeconfig_loads_with_the_official_loader(tmp_path: Path) -> None:
    with FakeKube(token="s3cret") as kube:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", kube.url)
        path = kube.write_kubeconfig(tmp_path / "kubeconfig")
        configuration = client.Configuration()
        load_config(config_file=str(path), client_configuration=configuration)
        assert configuration.host == kube.url
        with load_client(config_file=str(path)) as api:
            names = [meta(ns).name for ns in client.CoreV1Api(api).list_namespace().items]
        assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_stop_closes_the_port_and_is_idempotent() -> None:
    with FakeKube() as kube, kube.api_client() as api:
        client.CoreV1Api(api).list_namespace()
        port = int(kube.url.rsplit(":", 1)[1])
    assert not kube.running
    kube.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


@pytest.mark.parametrize(("idle", "lifetime"), [(0.2, 60.0), (60.0, 0.3)])
def test_stops_by_itself_after_idle_or_lifetime_bound(idle: float, lifetime: float) -> None:
    kube = FakeKube(idle_timeout=idle, max_lifetime=lifetime).start()
    try:
        wait_until(lambda: not kube.running)
    finally:
        kube.stop()


def test_stop_is_bounded_with_an_open_watch_and_keepalive_connections(kube: FakeKube, core: client.CoreV1Api) -> None:
    core.list_namespace()

    def follow() -> None:
        for _ in new_watch().stream(core.list_namespaced_config_map, "default", timeout_seconds=60):
            pass

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    wait_until(lambda: kube.count("watch") == 1)
    started = time.monotonic()
    kube.stop(timeout=3)
    assert time.monotonic() - started < 3
    watcher.join(3)
    assert not watcher.is_alive()


# Discovery


def test_discovery_documents(api: ApiClient) -> None:
    core_versions = client.CoreApi(api).get_api_versions()
    assert core_versions.versions == ["v1"]
    groups = {group.name: group for group in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "rbac.authorization.k8s.io", "coordination.k8s.io", "operator.open-cluster-management.io"} <= set(
        groups
    )
    cluster_group = groups["cluster.open-cluster-management.io"]
    assert [version.version for version in cluster_group.versions] == ["v1", "v1beta2"]
    assert cluster_group.preferred_version is not None
    assert cluster_group.preferred_version.version == "v1"
    resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert resources["secrets"].namespaced
    assert resources["secrets"].kind == "Secret"
    assert not resources["namespaces"].namespaced
    assert resources["serviceaccounts/token"].verbs == ["create"]
    assert "watch" in resources["configmaps"].verbs
    ocm = client.CustomObjectsApi(api).get_api_resources("cluster.open-cluster-management.io", "v1")
    assert {r.name for r in ocm.resources} == {"managedclusters", "managedclusters/status"}
    assert client.VersionApi(api).get_code().major == "1"
    for health in ("/healthz", "/readyz", "/livez"):
        response = api.call_api("GET", api.configuration.host + health)
        read: Callable[[], bytes] = response.read
        assert (response.status, read()) == (200, b"ok")


def test_dynamic_client_discovers_and_uses_resources(api: ApiClient, tmp_path: Path) -> None:
    dynamic = new_dynamic_client(api, cache_file=str(tmp_path / "discovery.json"))
    clusters = dynamic.resources.get(api_version="cluster.open-cluster-management.io/v1", kind="ManagedCluster")
    assert not clusters.namespaced
    clusters.create(body=managed_cluster("c1"))
    patched = clusters.patch(name="c1", body={"metadata": {"labels": {"a": "b"}}}, content_type=MERGE)
    assert patched.metadata.labels.a == "b"
    status = {"status": {"conditions": [{"type": "ManagedClusterJoined", "status": "True"}]}}
    clusters.status.patch(name="c1", body=status, content_type=MERGE)
    applied = clusters.server_side_apply(
        body=managed_cluster("c1", spec={"leaseDurationSeconds": 60}), field_manager="t"
    )
    assert applied.spec.leaseDurationSeconds == 60
    assert applied.status.conditions[0].type == "ManagedClusterJoined"
    assert [item.metadata.name for item in clusters.get(label_selector="a=b").items] == ["c1"]
    secrets = dynamic.resources.get(api_version="v1", kind="Secret")
    secrets.create(namespace="default", body={"metadata": {"name": "s"}, "stringData": {"k": "v"}})
    assert secrets.get(name="s", namespace="default").data.k == "dg=="
    clusters.delete(name="c1")
    assert clusters.get().items == []


def test_unknown_resources_answer_not_found(custom: client.CustomObjectsApi) -> None:
    code, body = failure(lambda: custom.list_cluster_custom_object("example.com", "v1", "widgets"))
    assert (code, body["kind"], body["status"], body["reason"]) == (404, "Status", "Failure", "NotFound")
    code, _ = failure(lambda: custom.list_namespaced_custom_object(*CLUSTER[:2], "default", CLUSTER[2]))
    assert code == 404
    code, _ = failure(lambda: custom.get_cluster_custom_object(*CLUSTER[:2], "managedclusteraddons", "x"))
    assert code == 404


# Create, read, list


def test_create_fills_server_metadata(core: client.CoreV1Api) -> None:
    created, code, _ = core.create_namespaced_config_map_with_http_info("default", config_map("a", x="1"))
    assert code == 201
    metadata = meta(created)
    assert metadata.namespace == "default"
    assert metadata.generation == 1
    assert re.fullmatch(r"[0-9a-f-]{36}", metadata.uid or "")
    assert metadata.creation_timestamp is not None
    second = meta(core.create_namespaced_config_map("default", config_map("b")))
    assert int(second.resource_version or 0) > int(metadata.resource_version or 0)
    assert meta(core.read_namespaced_config_map("a", "default")).uid == metadata.uid


def test_create_errors(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", config_map("a"))
    code, body = failure(lambda: core.create_namespaced_config_map("default", config_map("a")))
    assert (code, body["reason"], body["message"]) == (409, "AlreadyExists", 'configmaps "a" already exists')
    assert body["details"] == {"name": "a", "kind": "configmaps"}
    code, body = failure(lambda: core.create_namespaced_config_map("missing", config_map("a")))
    assert (code, body["reason"], body["message"]) == (404, "NotFound", 'namespaces "missing" not found')
    code, body = failure(lambda: core.create_namespaced_config_map("default", config_map("Not_Valid")))
    assert (code, body["reason"]) == (422, "Invalid")
    code, body = failure(lambda: core.create_namespaced_config_map("default", V1ConfigMap(metadata=V1ObjectMeta())))
    assert (code, body["reason"]) == (422, "Invalid")
    other_namespace = V1ConfigMap(metadata=V1ObjectMeta(name="b", namespace="kube-system"))
    code, body = failure(lambda: core.create_namespaced_config_map("default", other_namespace))
    assert (code, body["reason"]) == (400, "BadRequest")


def test_generate_name_and_secret_string_data(core: client.CoreV1Api) -> None:
    generated = core.create_namespaced_config_map("default", V1ConfigMap(metadata=V1ObjectMeta(generate_name="job-")))
    assert re.fullmatch(r"job-[a-z0-9]{5}", meta(generated).name or "")
    secret = core.create_namespaced_secret(
        "default", V1Secret(metadata=V1ObjectMeta(name="s"), string_data={"token": "abc"})
    )
    assert (secret.type, secret.data, secret.string_data) == ("Opaque", {"token": "YWJj"}, None)


def test_list_across_namespaces_and_field_selectors(core: client.CoreV1Api) -> None:
    core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name="team")))
    core.create_namespaced_config_map("default", config_map("a"))
    core.create_namespaced_config_map("team", config_map("a"))
    core.create_namespaced_config_map("team", config_map("b"))
    everywhere = core.list_config_map_for_all_namespaces()
    assert [(meta(i).namespace, meta(i).name) for i in everywhere.items] == [
        ("default", "a"),
        ("team", "a"),
        ("team", "b"),
    ]
    assert everywhere.metadata is not None
    assert everywhere.metadata.resource_version
    in_team = core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=team")
    assert [meta(i).name for i in in_team.items] == ["a", "b"]
    named = core.list_config_map_for_all_namespaces(field_selector="metadata.name==a,metadata.namespace!=team")
    assert [meta(i).namespace for i in named.items] == ["default"]
    code, body = failure(lambda: core.list_namespaced_config_map("team", field_selector="data.x=1"))
    assert (code, body["reason"]) == (400, "BadRequest")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", ["api", "db"]),
        ("env==prod,tier=web", ["api"]),
        ("env!=prod", ["cache", "plain"]),
        ("env in (prod, dev)", ["api", "cache", "db"]),
        ("env notin (prod)", ["cache", "plain"]),
        ("tier", ["api", "cache"]),
        ("!tier", ["db", "plain"]),
        ("env,!tier", ["db"]),
        ("example.com/team=blue", ["db"]),
        ("", ["api", "cache", "db", "plain"]),
    ],
)
def test_label_selectors(core: client.CoreV1Api, selector: str, expected: list[str]) -> None:
    labels: dict[str, dict[str, str]] = {
        "api": {"env": "prod", "tier": "web"},
        "cache": {"env": "dev", "tier": "mem"},
        "db": {"env": "prod", "example.com/team": "blue"},
        "plain": {},
    }
    for name, value in labels.items():
        core.create_namespaced_config_map("default", config_map(name, value or None))
    found = core.list_namespaced_config_map("default", label_selector=selector)
    assert [meta(item).name for item in found.items] == expected


def test_invalid_label_selector_is_a_bad_request(core: client.CoreV1Api) -> None:
    code, body = failure(lambda: core.list_namespaced_config_map("default", label_selector="env in prod"))
    assert (code, body["reason"]) == (400, "BadRequest")


# Updates


def test_replace_checks_resource_version(core: client.CoreV1Api) -> None:
    created = core.create_namespaced_config_map("default", config_map("a", x="1"))
    first_version = meta(created).resource_version
    created.data = {"x": "2"}
    updated = core.replace_namespaced_config_map("a", "default", created)
    assert updated.data == {"x": "2"}
    assert meta(updated).resource_version != first_version
    created.data = {"x": "3"}
    code, body = failure(lambda: core.replace_namespaced_config_map("a", "default", created))
    assert (code, body["reason"]) == (409, "Conflict")
    assert "the object has been modified" in body["message"]
    unconditional = config_map("a", x="4")
    assert core.replace_namespaced_config_map("a", "default", unconditional).data == {"x": "4"}
    code, _ = failure(lambda: core.replace_namespaced_config_map("b", "default", config_map("b")))
    assert code == 404


def test_generation_follows_spec_only(custom: client.CustomObjectsApi, kube: FakeKube) -> None:
    def generation() -> int:
        return int(as_dict(custom.get_cluster_custom_object(*CLUSTER, "c1"))["metadata"]["generation"])

    custom.create_cluster_custom_object(*CLUSTER, managed_cluster("c1"))
    assert generation() == 1
    custom.patch_cluster_custom_object(*CLUSTER, "c1", {"metadata": {"labels": {"a": "b"}}})
    assert generation() == 1
    custom.patch_cluster_custom_object_status(*CLUSTER, "c1", {"status": {"version": {"kubernetes": "v1.30"}}})
    assert generation() == 1
    custom.patch_cluster_custom_object(*CLUSTER, "c1", {"spec": {"hubAcceptsClient": False}})
    assert generation() == 2
    before = as_dict(custom.get_cluster_custom_object(*CLUSTER, "c1"))["metadata"]["resourceVersion"]
    custom.patch_cluster_custom_object(*CLUSTER, "c1", {"spec": {"hubAcceptsClient": False}})
    after = as_dict(custom.get_cluster_custom_object(*CLUSTER, "c1"))["metadata"]["resourceVersion"]
    assert (generation(), after) == (2, before), "a no-op write changes nothing, like the real server"


def test_merge_strategic_and_json_patches(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", config_map("a", labels={"keep": "1", "drop": "1"}, x="1"))
    merged = core.patch_namespaced_config_map(
        "a", "default", {"metadata": {"labels": {"drop": None}}, "data": {"y": "2"}}
    )
    assert (meta(merged).labels, merged.data) == ({"keep": "1"}, {"x": "1", "y": "2"})
    operations: list[Json] = [
        {"op": "test", "path": "/data/x", "value": "1"},
        {"op": "replace", "path": "/data/x", "value": "10"},
        {"op": "add", "path": "/metadata/annotations", "value": {"a/b": "c"}},
        {"op": "remove", "path": "/data/y"},
    ]
    patched = core.patch_namespaced_config_map("a", "default", operations)
    assert (patched.data, meta(patched).annotations) == ({"x": "10"}, {"a/b": "c"})
    failed_test = [{"op": "test", "path": "/data/x", "value": "1"}, {"op": "remove", "path": "/data"}]
    code, body = failure(lambda: core.patch_namespaced_config_map("a", "default", failed_test))
    assert (code, body["reason"]) == (422, "Invalid")
    assert core.read_namespaced_config_map("a", "default").data == {"x": "10"}
    stale = {"metadata": {"resourceVersion": "1"}, "data": {"x": "0"}}
    code, body = failure(lambda: core.patch_namespaced_config_map("a", "default", stale, _content_type=MERGE))
    assert (code, body["reason"]) == (409, "Conflict")
    code, body = failure(lambda: core.patch_namespaced_config_map("b", "default", {"data": {}}))
    assert code == 404
    code, body = failure(lambda: core.patch_namespaced_config_map("a", "default", {}, _content_type="application/json"))
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")


def test_server_side_apply(custom: client.CustomObjectsApi) -> None:
    body = managed_cluster("c1", metadata={"name": "c1", "labels": {"a": "1"}})

    def apply(obj: Json, **options: Any) -> tuple[object, int, object]:
        return custom.patch_cluster_custom_object_with_http_info(*CLUSTER, "c1", obj, _content_type=APPLY, **options)

    code, failed = failure(lambda: apply(body))
    assert (code, failed["reason"]) == (422, "Invalid")
    assert "fieldManager: Required value" in failed["message"]
    with pytest.raises(ApiException):
        custom.get_cluster_custom_object(*CLUSTER, "c1")
    assert apply(body, field_manager="ocm-hub", force=True)[1] == 201, "an apply that creates answers 201 Created"
    created = as_dict(custom.get_cluster_custom_object(*CLUSTER, "c1"))
    assert created["metadata"]["labels"] == {"a": "1"}
    assert created["metadata"]["generation"] == 1
    data, code, _ = apply(managed_cluster("c1", spec={"hubAcceptsClient": False}), field_manager="ocm-hub")
    changed = as_dict(data)
    assert code == 200
    assert changed["spec"] == {"hubAcceptsClient": False}
    assert changed["metadata"]["labels"] == {"a": "1"}
    assert changed["metadata"]["generation"] == 2
    code, failed = failure(lambda: custom.patch_cluster_custom_object(*CLUSTER, "c1", {}, force=True))
    assert (code, failed["reason"]) == (422, "Invalid")


def test_dry_run_writes_nothing(core: client.CoreV1Api) -> None:
    dry = core.create_namespaced_config_map("default", config_map("a"), dry_run="All")
    assert meta(dry).name == "a"
    assert failure(lambda: core.read_namespaced_config_map("a", "default"))[0] == 404
    core.create_namespaced_config_map("default", config_map("a", x="1"))
    core.patch_namespaced_config_map("a", "default", {"data": {"x": "2"}}, dry_run="All")
    core.replace_namespaced_config_map("a", "default", config_map("a", x="3"), dry_run="All")
    core.delete_namespaced_config_map("a", "default", dry_run="All")
    assert core.read_namespaced_config_map("a", "default").data == {"x": "1"}


# Deletion, finalizers, namespaces


def test_delete_answers_like_the_server(core: client.CoreV1Api, custom: client.CustomObjectsApi) -> None:
    uid = meta(core.create_namespaced_config_map("default", config_map("a"))).uid
    deleted = as_dict(core.delete_namespaced_config_map("a", "default"))
    assert (deleted["kind"], deleted["status"], deleted["details"]) == (
        "Status",
        "Success",
        {"name": "a", "kind": "configmaps", "uid": uid},
    )
    assert failure(lambda: core.delete_namespaced_config_map("a", "default"))[0] == 404
    custom.create_cluster_custom_object(*CLUSTER, managed_cluster("c1"))
    assert as_dict(custom.delete_cluster_custom_object(*CLUSTER, "c1"))["kind"] == "ManagedCluster"
    core.create_namespaced_config_map("default", config_map("b"))
    stale = V1DeleteOptions(preconditions=V1Preconditions(resource_version="1"))
    code, body = failure(lambda: core.delete_namespaced_config_map("b", "default", body=stale))
    assert (code, body["reason"]) == (409, "Conflict")


def test_delete_collection_by_label(core: client.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", config_map("a", {"app": "x"}))
    core.create_namespaced_config_map("default", config_map("b", {"app": "y"}))
    core.delete_collection_namespaced_config_map("default", label_selector="app=x")
    assert [meta(i).name for i in core.list_namespaced_config_map("default").items] == ["b"]


def test_finalizers_hold_deletion_until_removed(custom: client.CustomObjectsApi) -> None:
    custom.create_cluster_custom_object(
        *CLUSTER, managed_cluster("c1", metadata={"name": "c1", "finalizers": ["ocm/cleanup"]})
    )
    answered = as_dict(custom.delete_cluster_custom_object(*CLUSTER, "c1"))
    assert answered["metadata"]["deletionTimestamp"]
    held = as_dict(custom.get_cluster_custom_object(*CLUSTER, "c1"))
    assert held["metadata"]["finalizers"] == ["ocm/cleanup"]
    assert held["metadata"]["deletionTimestamp"]
    more = {"metadata": {"finalizers": ["ocm/cleanup", "other"]}}
    assert failure(lambda: custom.patch_cluster_custom_object(*CLUSTER, "c1", more))[0] == 422
    custom.patch_cluster_custom_object(*CLUSTER, "c1", {"metadata": {"labels": {"still": "here"}}})
    custom.patch_cluster_custom_object(*CLUSTER, "c1", {"metadata": {"finalizers": None}})
    assert failure(lambda: custom.get_cluster_custom_object(*CLUSTER, "c1"))[0] == 404


def test_deleting_a_namespace_removes_its_content(core: client.CoreV1Api, custom: client.CustomObjectsApi) -> None:
    core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name="cluster1")))
    core.create_namespaced_secret("cluster1", V1Secret(metadata=V1ObjectMeta(name="s")))
    addon = {"apiVersion": "/".join(ADDON[:2]), "kind": "ManagedClusterAddOn", "metadata": {"name": "a"}}
    custom.create_namespaced_custom_object(*ADDON[:2], "cluster1", ADDON[2], addon)
    answered = as_dict(core.delete_namespace("cluster1"))
    assert answered["status"] == {"phase": "Terminating"}
    assert failure(lambda: core.read_namespaced_secret("s", "cluster1"))[0] == 404
    assert as_dict(custom.list_cluster_custom_object(*ADDON))["items"] == []
    code, body = failure(lambda: core.create_namespaced_secret("cluster1", V1Secret(metadata=V1ObjectMeta(name="s"))))
    assert (code, body["message"]) == (404, 'namespaces "cluster1" not found')


def test_a_terminating_namespace_refuses_new_content(core: client.CoreV1Api) -> None:
    core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name="held", finalizers=["example.com/hold"])))
    core.create_namespaced_secret("held", V1Secret(metadata=V1ObjectMeta(name="s")))
    core.delete_namespace("held")
    status = core.read_namespace_status("held").status
    assert status is not None
    assert status.phase == "Terminating"
    assert core.list_namespaced_secret("held").items == []
    code, body = failure(lambda: core.create_namespaced_secret("held", V1Secret(metadata=V1ObjectMeta(name="s"))))
    assert (code, body["reason"]) == (403, "Forbidden")
    core.patch_namespace("held", {"metadata": {"finalizers": None}})
    assert failure(lambda: core.read_namespace("held"))[0] == 404


# Subresources


def test_status_subresource_owns_status(custom: client.CustomObjectsApi, kube: FakeKube) -> None:
    created = as_dict(
        custom.create_cluster_custom_object(*CLUSTER, managed_cluster("c1", status={"conditions": [{"type": "X"}]}))
    )
    assert "status" not in created, "status is dropped on create for resources with a status subresource"
    custom.patch_cluster_custom_object(*CLUSTER, "c1", {"status": {"conditions": [{"type": "Ignored"}]}})
    assert "status" not in as_dict(custom.get_cluster_custom_object(*CLUSTER, "c1"))
    joined = {
        "status": {"conditions": [{"type": "ManagedClusterJoined", "status": "True"}]},
        "spec": {"hubAcceptsClient": False},
    }
    after = as_dict(custom.patch_cluster_custom_object_status(*CLUSTER, "c1", joined))
    assert after["status"] == joined["status"]
    assert after["spec"] == {"hubAcceptsClient": True}
    replaced = as_dict(custom.get_cluster_custom_object(*CLUSTER, "c1"))
    replaced["status"] = {}
    replaced["spec"]["taints"] = []
    kept = as_dict(custom.replace_cluster_custom_object(*CLUSTER, "c1", replaced))
    assert kept["status"] == joined["status"]
    assert kept["spec"]["taints"] == []
    stored = kube.get_object("cluster.open-cluster-management.io/v1", "ManagedCluster", "c1")
    assert stored is not None
    assert stored["status"] == joined["status"]


def test_deployment_status_through_apps_api(api: ApiClient) -> None:
    apps = client.AppsV1Api(api)
    template = V1PodTemplateSpec(
        metadata=V1ObjectMeta(labels={"app": "x"}), spec=V1PodSpec(containers=[V1Container(name="c", image="i")])
    )
    spec = V1DeploymentSpec(selector=V1LabelSelector(match_labels={"app": "x"}), template=template)
    apps.create_namespaced_deployment("default", V1Deployment(metadata=V1ObjectMeta(name="d"), spec=spec))
    current = apps.read_namespaced_deployment("d", "default")
    current.status = V1DeploymentStatus(ready_replicas=1)
    apps.replace_namespaced_deployment_status("d", "default", current)
    read = apps.read_namespaced_deployment_status("d", "default")
    assert read.status is not None
    assert read.status.ready_replicas == 1
    assert meta(read).generation == 1


def test_service_account_token_request(kube: FakeKube, core: client.CoreV1Api) -> None:
    core.create_namespaced_service_account("default", V1ServiceAccount(metadata=V1ObjectMeta(name="agent")))
    request = AuthenticationV1TokenRequest(spec=V1TokenRequestSpec(audiences=[], expiration_seconds=3600))
    issued = core.create_namespaced_service_account_token("agent", "default", request)
    status, created = issued.status, meta(issued).creation_timestamp
    assert status is not None
    assert created is not None
    assert len(status.token or "") >= 32
    assert status.expiration_timestamp is not None
    assert status.expiration_timestamp - created == timedelta(hours=1)
    assert kube.token_owner(status.token or "") == ("default", "agent")
    code, body = failure(lambda: core.create_namespaced_service_account_token("nobody", "default", request))
    assert (code, body["message"]) == (404, 'serviceaccounts "nobody" not found')
    short = AuthenticationV1TokenRequest(spec=V1TokenRequestSpec(audiences=[], expiration_seconds=60))
    assert failure(lambda: core.create_namespaced_service_account_token("agent", "default", short))[0] == 422


def test_csr_approval_replaces_conditions(api: ApiClient) -> None:
    certificates = client.CertificatesV1Api(api)
    spec = V1CertificateSigningRequestSpec(
        request="LS0t", signer_name="kubernetes.io/kube-apiserver-client", usages=["client auth"]
    )
    certificates.create_certificate_signing_request(
        V1CertificateSigningRequest(metadata=V1ObjectMeta(name="csr1"), spec=spec)
    )
    csr = certificates.read_certificate_signing_request("csr1")
    condition = V1CertificateSigningRequestCondition(
        type="Approved", status="True", reason="AutoApproved", message="ok"
    )
    csr.status = V1CertificateSigningRequestStatus(conditions=[condition])
    approved = certificates.replace_certificate_signing_request_approval("csr1", csr)
    assert approved.status is not None
    assert approved.status.conditions is not None
    assert [(c.type, c.reason) for c in approved.status.conditions] == [("Approved", "AutoApproved")]
    assert meta(approved).generation == 1
    listed = certificates.list_certificate_signing_request(
        field_selector="spec.signerName=kubernetes.io/kube-apiserver-client"
    )
    assert [meta(item).name for item in listed.items] == ["csr1"]


# Auth


def test_bearer_token_auth() -> None:
    with FakeKube(token="right") as kube:
        with kube.api_client() as api:
            core = client.CoreV1Api(api)
            core.create_namespaced_service_account("default", V1ServiceAccount(metadata=V1ObjectMeta(name="sa")))
            request = AuthenticationV1TokenRequest(spec=V1TokenRequestSpec(audiences=[]))
            issued = core.create_namespaced_service_account_token("sa", "default", request).status
        with kube.api_client(token="wrong") as api:
            code, body = failure(lambda: client.CoreV1Api(api).list_namespace())
            assert (code, body["reason"]) == (401, "Unauthorized")
        assert issued is not None
        with kube.api_client(token=issued.token) as api:
            assert client.CoreV1Api(api).list_namespace().items


# RBAC and CRDs


def test_rbac_names_and_bindings(api: ApiClient) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    rule = V1PolicyRule(api_groups=["cluster.open-cluster-management.io"], resources=["managedclusters"], verbs=["get"])
    rbac.create_cluster_role(V1ClusterRole(metadata=V1ObjectMeta(name="open-cluster-management:agent"), rules=[rule]))
    subject = RbacV1Subject(kind="ServiceAccount", name="agent", namespace="default")
    role_ref = V1RoleRef(
        api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="open-cluster-management:agent"
    )
    binding = V1ClusterRoleBinding(metadata=V1ObjectMeta(name="agent"), role_ref=role_ref, subjects=[subject])
    rbac.create_cluster_role_binding(binding)
    assert rbac.read_cluster_role_binding("agent").role_ref.name == "open-cluster-management:agent"
    assert [meta(role).name for role in rbac.list_cluster_role().items] == ["open-cluster-management:agent"]


WIDGET_CRD: Json = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [
            {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}},
            {"name": "v1alpha1", "served": True, "storage": False},
        ],
    },
}


def test_creating_a_crd_serves_its_resource(custom: client.CustomObjectsApi, api: ApiClient, tmp_path: Path) -> None:
    crds = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    created = as_dict(custom.create_cluster_custom_object(*crds, WIDGET_CRD))
    assert {c["type"]: c["status"] for c in created["status"]["conditions"]} == {
        "NamesAccepted": "True",
        "Established": "True",
    }
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    custom.create_namespaced_custom_object("example.com", "v1", "default", "widgets", widget)
    as_alpha = as_dict(custom.get_namespaced_custom_object("example.com", "v1alpha1", "default", "widgets", "w"))
    assert as_alpha["apiVersion"] == "example.com/v1alpha1"
    assert as_alpha["spec"] == {"size": 1}
    custom.patch_namespaced_custom_object_status(
        "example.com", "v1", "default", "widgets", "w", {"status": {"ok": True}}
    )
    code, _ = failure(
        lambda: custom.patch_namespaced_custom_object_status("example.com", "v1alpha1", "default", "widgets", "w", {})
    )
    assert code == 404, "v1alpha1 declares no status subresource"
    dynamic = new_dynamic_client(api, cache_file=str(tmp_path / "discovery.json"))
    assert dynamic.resources.get(api_version="example.com/v1", kind="Widget").namespaced
    bad_name = {**WIDGET_CRD, "metadata": {"name": "widgets"}}
    assert failure(lambda: custom.create_cluster_custom_object(*crds, bad_name))[0] == 422
    custom.delete_cluster_custom_object(*crds, "widgets.example.com")
    assert failure(lambda: custom.list_namespaced_custom_object("example.com", "v1", "default", "widgets"))[0] == 404


# Watch


def test_watch_streams_changes(core: client.CoreV1Api, kube: FakeKube) -> None:
    core.create_namespaced_config_map("default", config_map("before"))
    watcher = new_watch()
    seen: list[tuple[str, str]] = []
    for event in watcher.stream(core.list_namespaced_config_map, "default", timeout_seconds=5):
        seen.append((event["type"], meta(event["object"]).name or ""))
        if len(seen) == 1:
            kube.put_object(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after", "namespace": "default"}}
            )
            core.delete_namespaced_config_map("before", "default")
        if len(seen) == 3:
            watcher.stop()
    assert seen == [("ADDED", "before"), ("ADDED", "after"), ("DELETED", "before")]


def test_watch_from_a_resource_version_and_with_initial_events(
    core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    listed = as_dict(custom.list_cluster_custom_object(*CLUSTER))
    custom.create_cluster_custom_object(*CLUSTER, managed_cluster("c1"))
    custom.patch_cluster_custom_object_status(*CLUSTER, "c1", {"status": {"conditions": []}})
    since = listed["metadata"]["resourceVersion"]
    events = first_events(2, custom.list_cluster_custom_object, *CLUSTER, resource_version=since)
    assert [event["type"] for event in events] == ["ADDED", "MODIFIED"]
    core.create_namespaced_config_map("default", config_map("a"))
    options = {"send_initial_events": True, "resource_version_match": "NotOlderThan", "allow_watch_bookmarks": True}
    initial = first_events(2, core.list_namespaced_config_map, "default", **options)
    assert [(event["type"], event["raw_object"]["metadata"].get("annotations")) for event in initial] == [
        ("ADDED", None),
        ("BOOKMARK", {"k8s.io/initial-events-end": "true"}),
    ]


# Fault injection


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "TooManyRequests"), (500, "InternalError"), (503, "ServiceUnavailable"), (409, "Conflict")],
)
def test_injected_error_answers(kube: FakeKube, core: client.CoreV1Api, status: int, reason: str) -> None:
    fault = kube.inject("POST", r"/namespaces/default/configmaps$", status)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("default", config_map("a"))
    assert caught.value.status == status
    assert json.loads(caught.value.body or "{}")["reason"] == reason
    assert caught.value.headers is not None
    assert ("Retry-After" in caught.value.headers) == (status == 429)
    assert kube.get_object("v1", "ConfigMap", "a", "default") is None
    core.create_namespaced_config_map("default", config_map("a"))
    assert fault.hits == 1, "the fault was spent"
    assert [(r.status, r.fault) for r in kube.requests] == [(status, str(status)), (201, "")]


def test_urllib3_retries_a_get_answered_429_with_retry_after(kube: FakeKube, core: client.CoreV1Api) -> None:
    kube.inject("GET", r"/namespaces/default$", 429, retry_after=0)
    assert meta(core.read_namespace("default")).name == "default"
    assert [r.status for r in kube.requests] == [429, 200]
    kube.clear_requests()
    kube.inject("GET", r"/namespaces/default$", 429, retry_after=0, times=None)
    assert failure(lambda: core.read_namespace("default"))[0] == 429
    assert kube.count("get") == 4, "urllib3's default Retry allows three retries"


def test_fault_times_method_and_clearing(kube: FakeKube, core: client.CoreV1Api) -> None:
    kube.inject("POST", "/configmaps", 503, times=2)
    for _ in range(2):
        assert failure(lambda: core.create_namespaced_config_map("default", config_map("a")))[0] == 503
    core.create_namespaced_config_map("default", config_map("a"))
    core.read_namespaced_config_map("a", "default")
    kube.inject("*", "/configmaps/a", 500, times=None)
    for _ in range(3):
        assert failure(lambda: core.read_namespaced_config_map("a", "default"))[0] == 500
    kube.clear_faults()
    assert meta(core.read_namespaced_config_map("a", "default")).name == "a"


def test_fault_after_write_is_a_partial_failure(kube: FakeKube, custom: client.CustomObjectsApi) -> None:
    kube.inject("POST", "/managedclusters$", 500, after_write=True)
    assert failure(lambda: custom.create_cluster_custom_object(*CLUSTER, managed_cluster("c1")))[0] == 500
    assert kube.get_object("cluster.open-cluster-management.io/v1", "ManagedCluster", "c1") is not None
    code, body = failure(lambda: custom.create_cluster_custom_object(*CLUSTER, managed_cluster("c1")))
    assert (code, body["reason"]) == (409, "AlreadyExists"), "a naive retry of the create now conflicts"


def test_dropped_connection(kube: FakeKube, core: client.CoreV1Api) -> None:
    kube.inject("POST", "/configmaps$", drop=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        core.create_namespaced_config_map("default", config_map("a"))
    assert kube.get_object("v1", "ConfigMap", "a", "default") is None
    kube.inject("GET", "/configmaps$", drop=True)
    assert core.list_namespaced_config_map("default").items == [], "urllib3 retries an idempotent GET by itself"
    assert [(r.method, r.status, r.fault) for r in kube.requests] == [
        ("POST", 0, "drop"),
        ("GET", 0, "drop"),
        ("GET", 200, ""),
    ]
    kube.inject("PUT", "/configmaps/a$", drop=True, after_write=True)
    core.create_namespaced_config_map("default", config_map("a", x="1"))
    core.replace_namespaced_config_map("a", "default", config_map("a", x="2"))
    assert kube.count("update", status=0) == 1
    assert kube.count("update", status=200) == 1


def test_delay_outlasts_a_client_timeout_and_still_writes(kube: FakeKube, core: client.CoreV1Api) -> None:
    kube.inject("POST", "/configmaps$", delay=0.5)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.create_namespaced_config_map("default", config_map("slow"), _request_timeout=0.1)
    wait_until(lambda: kube.get_object("v1", "ConfigMap", "slow", "default") is not None)
    assert kube.requests[0].fault == "delay 0.5s"


def test_inject_rejects_a_fault_that_does_nothing(kube: FakeKube) -> None:
    with pytest.raises(ValueError, match="needs a status"):
        kube.inject("GET", ".*")
    with pytest.raises(ValueError, match="after_write"):
        kube.inject("GET", ".*", delay=1, after_write=True)


# Request log and direct access


def test_request_log_counts_calls(kube: FakeKube, core: client.CoreV1Api, custom: client.CustomObjectsApi) -> None:
    core.create_namespaced_config_map("default", config_map("a", {"app": "x"}))
    core.read_namespaced_config_map("a", "default")
    core.list_namespaced_config_map("default", label_selector="app=x")
    core.patch_namespaced_config_map("a", "default", {"data": {"k": "v"}})
    core.delete_namespaced_config_map("a", "default")
    custom.list_cluster_custom_object(*CLUSTER)
    assert kube.verb_counts() == {"create": 1, "get": 1, "list": 2, "patch": 1, "delete": 1}
    assert kube.count("list", path="managedclusters") == 1
    assert kube.count(method="delete") == 1
    listed = kube.requests[2]
    assert (listed.method, listed.path, listed.params, listed.status) == (
        "GET",
        "/api/v1/namespaces/default/configmaps",
        {"labelSelector": "app=x"},
        200,
    )
    kube.clear_requests()
    assert kube.requests == []
    assert kube.count() == 0


def test_direct_access_plays_an_agent(kube: FakeKube, custom: client.CustomObjectsApi) -> None:
    custom.create_cluster_custom_object(*CLUSTER, managed_cluster("c1"))
    assert kube.get_object("cluster.open-cluster-management.io/v1", "ManagedCluster", "missing") is None
    stored = kube.get_object("cluster.open-cluster-management.io/v1", "ManagedCluster", "c1")
    assert stored is not None
    stored["status"] = {"conditions": [{"type": "ManagedClusterConditionAvailable", "status": "True"}]}
    written = kube.put_object(stored)
    assert int(written["metadata"]["resourceVersion"]) > int(stored["metadata"]["resourceVersion"])
    read = as_dict(custom.get_cluster_custom_object(*CLUSTER, "c1"))
    assert read["status"]["conditions"][0]["type"] == "ManagedClusterConditionAvailable"
    assert read["metadata"]["generation"] == 1
    assert [
        o["metadata"]["name"] for o in kube.list_objects("cluster.open-cluster-management.io/v1", "ManagedCluster")
    ] == ["c1"]
    assert kube.delete_object("cluster.open-cluster-management.io/v1", "ManagedCluster", "c1")
    assert not kube.delete_object("cluster.open-cluster-management.io/v1", "ManagedCluster", "c1")
    assert kube.requests[-1].verb == "get", "direct access makes no requests"


def test_concurrent_clients_get_distinct_resource_versions(kube: FakeKube) -> None:
    versions: list[str] = []
    lock = threading.Lock()

    def create_many(worker: int) -> None:
        with kube.api_client() as api:
            core = client.CoreV1Api(api)
            for index in range(10):
                created = core.create_namespaced_config_map("default", config_map(f"w{worker}-{index}"))
                with lock:
                    versions.append(meta(created).resource_version or "")

    threads = [threading.Thread(target=create_many, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(versions) == len(set(versions)) == 60
    assert len(kube.list_objects("v1", "ConfigMap", "default")) == 60
