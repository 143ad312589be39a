"""KubeVela's APIService given back when the cluster-gateway addon goes (providers/vela_apiservice.py),
against the fake API server holding what a hub with vela and the gateway addon holds."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest

from ocmhub_testing.cases import ALL_ON
from ocmhub_testing.fakekube import DEFAULT_RESOURCES, FakeKube, Registry, ResourceType
from providers.kube import Kube, RetryPolicy
from providers.poll import Pacing
from providers.vela_apiservice import APISERVICE, HandbackError, give_back
from tests.conftest import run_values

ADDON_NAMESPACE = "open-cluster-management-addon"
CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nvela's gateway CA\n-----END CERTIFICATE-----\n").decode()
APISERVICE_TYPE = ResourceType("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, status=True)
AVAILABLE = {
    "conditions": [{"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed"}]
}
ADDON_MANAGER_POD = "cluster-gateway-addon-manager-7d9f-x2"


def _addons_apiservice() -> dict[str, Any]:
    """The APIService as the gateway addon manager leaves it: its own, owned by its ClusterManagementAddOn."""
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {
            "name": APISERVICE,
            "ownerReferences": [
                {
                    "apiVersion": "addon.open-cluster-management.io/v1alpha1",
                    "kind": "ClusterManagementAddOn",
                    "name": "cluster-gateway",
                    "uid": "cma-uid",
                }
            ],
        },
        "spec": {
            "group": "cluster.core.oam.dev",
            "version": "v1alpha1",
            "groupPriorityMinimum": 5000,
            "versionPriority": 10,
            "service": {"name": "cluster-gateway", "namespace": "vela-system", "port": 9443},
            "caBundle": base64.b64encode(b"the addon's CA").decode(),
        },
        "status": AVAILABLE,
    }


def _vela(hub: FakeKube, *, secure: bool = True) -> None:
    """What `vela install` (release kubevela) leaves: its gateway's Service, Deployment and TLS Secret."""
    helm = {"meta.helm.sh/release-name": "kubevela", "meta.helm.sh/release-namespace": "vela-system"}
    hub.put_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kubevela-cluster-gateway-service", "namespace": "vela-system", "annotations": helm},
            "spec": {"ports": [{"port": 9443, "targetPort": 9443}]},
        }
    )
    args = ["apiserver", "--secure-port=9443"]
    if secure:
        args.append("--tls-cert-file=/etc/k8s-cluster-gateway-certs/tls.crt")
    hub.put_object(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "kubevela-cluster-gateway", "namespace": "vela-system", "annotations": helm},
            "spec": {
                "selector": {"matchLabels": {"app": "gateway"}},
                "template": {
                    "metadata": {"labels": {"app": "gateway"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "gateway",
                                "args": args,
                                "volumeMounts": [{"name": "tls", "mountPath": "/etc/k8s-cluster-gateway-certs"}],
                            }
                        ],
                        "volumes": [
                            {"name": "tls", "secret": {"secretName": "kubevela-vela-core-cluster-gateway-tls-v2"}}
                        ],
                    },
                },
            },
        }
    )
    hub.put_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "kubevela-vela-core-cluster-gateway-tls-v2", "namespace": "vela-system"},
            "data": {"ca": CA, "tls.crt": CA, "tls.key": "a2V5"},
        }
    )


def _addon_manager(hub: FakeKube) -> None:
    labels = {"app": "cluster-gateway-addon-manager"}
    hub.put_object(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "cluster-gateway-addon-manager", "namespace": ADDON_NAMESPACE},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}},
        }
    )
    hub.put_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": ADDON_MANAGER_POD, "namespace": ADDON_NAMESPACE, "labels": labels},
        }
    )


@pytest.fixture
def hub() -> Iterator[FakeKube]:
    with FakeKube(registry=Registry((*DEFAULT_RESOURCES, APISERVICE_TYPE))) as kube:
        for namespace in ("vela-system", ADDON_NAMESPACE):
            kube.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        kube.put_object(_addons_apiservice())
        _addon_manager(kube)
        yield kube


def _pacing(hub: FakeKube, logged: list[str], *, pods_stop: bool = True) -> Pacing:
    """A clock only sleeping moves; each sleep is the Deployment controller's turn: a Deployment scaled to
    none loses its pod (unless pods_stop is False)."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        manager = hub.get_object("apps/v1", "Deployment", "cluster-gateway-addon-manager", ADDON_NAMESPACE)
        if pods_stop and manager is not None and manager["spec"]["replicas"] == 0:
            hub.delete_object("v1", "Pod", ADDON_MANAGER_POD, ADDON_NAMESPACE)

    return Pacing(clock=lambda: now[0], sleep=sleep, log=logged.append)


def _client(hub: FakeKube) -> Kube:
    return Kube(hub.api_client(), retry=RetryPolicy(attempts=1))


def test_vela_gets_back_the_apiservice_its_chart_makes_once_the_addon_manager_stopped(hub: FakeKube) -> None:
    _vela(hub)
    logged: list[str] = []
    give_back(_client(hub), ADDON_NAMESPACE, _pacing(hub, logged))
    back = hub.get_object("apiregistration.k8s.io/v1", "APIService", APISERVICE)
    assert back is not None
    assert back["spec"] == {
        "group": "cluster.core.oam.dev",
        "version": "v1alpha1",
        "groupPriorityMinimum": 2000,
        "versionPriority": 10,
        "service": {"name": "kubevela-cluster-gateway-service", "namespace": "vela-system", "port": 9443},
        "caBundle": CA,
    }
    assert "ownerReferences" not in back["metadata"], "the garbage collector leaves it when the addon goes"
    assert back["metadata"]["annotations"] == {
        "meta.helm.sh/release-name": "kubevela",
        "meta.helm.sh/release-namespace": "vela-system",
    }
    assert back["metadata"]["labels"]["api"] == "cluster-extension-apiserver"
    manager = hub.get_object("apps/v1", "Deployment", "cluster-gateway-addon-manager", ADDON_NAMESPACE)
    assert manager is not None
    assert manager["spec"]["replicas"] == 0
    order = [(r.method, r.path) for r in hub.requests if r.method in ("PATCH", "PUT", "DELETE")]
    assert order[0][0] == "PATCH"
    assert order[-1] == ("PUT", f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}")
    assert any(
        "given back to KubeVela's gateway vela-system/kubevela-cluster-gateway-service" in line for line in logged
    )


def test_an_apiservice_already_collected_is_made_again(hub: FakeKube) -> None:
    _vela(hub)
    hub.delete_object("apiregistration.k8s.io/v1", "APIService", APISERVICE)
    give_back(_client(hub), ADDON_NAMESPACE, _pacing(hub, []))
    back = hub.get_object("apiregistration.k8s.io/v1", "APIService", APISERVICE)
    assert back is not None
    assert back["spec"]["service"]["name"] == "kubevela-cluster-gateway-service"


def test_a_vela_gateway_without_tls_gets_the_charts_insecure_apiservice(hub: FakeKube) -> None:
    _vela(hub, secure=False)
    give_back(_client(hub), ADDON_NAMESPACE, _pacing(hub, []))
    back = hub.get_object("apiregistration.k8s.io/v1", "APIService", APISERVICE)
    assert back is not None
    assert back["spec"]["insecureSkipTLSVerify"] is True
    assert "caBundle" not in back["spec"]


def test_a_hub_without_vela_is_left_alone(hub: FakeKube) -> None:
    logged: list[str] = []
    give_back(_client(hub), ADDON_NAMESPACE, _pacing(hub, logged))
    live = hub.get_object("apiregistration.k8s.io/v1", "APIService", APISERVICE)
    assert live is not None
    assert (live["spec"], live["metadata"]["ownerReferences"]) == (
        _addons_apiservice()["spec"],
        _addons_apiservice()["metadata"]["ownerReferences"],
    )
    manager = hub.get_object("apps/v1", "Deployment", "cluster-gateway-addon-manager", ADDON_NAMESPACE)
    assert manager is not None
    assert manager["spec"]["replicas"] == 1
    assert logged == [f"APIService {APISERVICE}: no KubeVela gateway in vela-system, nothing to give back"]


def test_an_addon_manager_that_does_not_stop_is_an_error_and_the_apiservice_stays(hub: FakeKube) -> None:
    _vela(hub)
    with pytest.raises(HandbackError, match=re.escape(f"{ADDON_NAMESPACE}/cluster-gateway-addon-manager did not stop")):
        give_back(_client(hub), ADDON_NAMESPACE, _pacing(hub, [], pods_stop=False))
    live = hub.get_object("apiregistration.k8s.io/v1", "APIService", APISERVICE)
    assert live is not None
    assert live["spec"]["service"]["name"] == "cluster-gateway"


def test_the_hand_back_sits_beside_the_gateway_release_and_depends_on_it() -> None:
    rec = run_values({"addons": ALL_ON})
    (handback,) = rec.of_type("pulumi-python:dynamic/ocm-hub:VelaApiService")
    releases = {r.inputs["chart"]: r for r in rec.of_type("kubernetes:helm.sh/v3:Release")}
    assert releases["cluster-gateway-addon-manager"].urn in handback.dependencies
    assert handback.inputs["addonNamespace"] == ADDON_NAMESPACE
    without = run_values({"addons": {"clusterProxy": {"enabled": True}}})
    assert without.of_type("pulumi-python:dynamic/ocm-hub:VelaApiService") == []
