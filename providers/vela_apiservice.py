"""The `VelaApiService` dynamic resource: KubeVela's APIService given back when the gateway addon goes.

The cluster-gateway addon manager (oam-dev/cluster-gateway v1.9.0 pkg/addon/controllers/installer.go)
replaces APIService v1alpha1.cluster.core.oam.dev with its own: pointed at the gateway it runs
(`<installNamespace>/cluster-gateway`), without the Helm annotations of vela's chart, and owned by the
ClusterManagementAddOn `cluster-gateway`. When the addon's release is uninstalled (the addon disabled,
or `make down`), the garbage collector deletes that APIService with the addon's gateway, and every
`vela cluster` command fails (a vela-core restart waits 5 min for the APIService, then exits); vela's
own chart renders it again only on its next upgrade (its `lookup` finds none).

This resource sits beside the gateway's release and depends on it, so it is deleted first: its delete
stops the addon manager (which would revert any change within a reconcile), then puts back the
APIService vela's chart makes (charts/vela-core templates/cluster-gateway/cluster-gateway.yaml of
kubevela v1.9.13): its gateway Service `<release>-cluster-gateway-service`, group priority 2000, the
chart's labels and Helm annotations (so `vela install`/`vela upgrade` own it again), the caBundle its
post-install `/patch` Job sets (key `ca` of the Secret vela's gateway serves with), and no owner, so
the garbage collector leaves it. A hub without vela's gateway has nothing to give back. Create, update
and read touch nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from config.names import VELA_NAMESPACE
from providers.hub_provider import HUB_KUBECONFIG, HubProvider, hub_access, with_hub_kubeconfig
from providers.kube import Kube, KubeError
from providers.poll import Pacing, Unmet
from providers.sdk_patches import serialized_once

APISERVICE = "v1alpha1.cluster.core.oam.dev"
APISERVICE_PATH = f"/apis/apiregistration.k8s.io/v1/apiservices/{APISERVICE}"
GATEWAY_SERVICE_SUFFIX = "-cluster-gateway-service"  # vela's chart: {{ .Release.Name }}-cluster-gateway-service
RELEASE_ANNOTATION = "meta.helm.sh/release-name"
RELEASE_NAMESPACE_ANNOTATION = "meta.helm.sh/release-namespace"
ADDON_MANAGER = "cluster-gateway-addon-manager"  # the gateway addon chart's Deployment
ADDON_MANAGER_LABELS = "app=cluster-gateway-addon-manager"
TLS_CERT_FLAG = "--tls-cert-file="
STOP_SECONDS = 120.0
AVAILABLE_SECONDS = 60.0


class HandbackError(Exception):
    """vela's APIService could not be given back; the message says why and what is left."""


def vela_gateway(hub: Kube) -> dict[str, Any] | None:
    """Vela's gateway Service, as its chart names it and Helm records it; None when vela has none here."""
    services = hub.request("GET", f"/api/v1/namespaces/{VELA_NAMESPACE}/services").get("items") or []
    for service in services:
        metadata = service.get("metadata") or {}
        release = (metadata.get("annotations") or {}).get(RELEASE_ANNOTATION)
        if release and metadata.get("name") == f"{release}{GATEWAY_SERVICE_SUFFIX}":
            return dict(service)
    return None


def ca_bundle(hub: Kube, release: str) -> str | None:
    """key `ca` of the Secret vela's gateway serves TLS with (base64, as a caBundle is); None when it
    serves none (the chart's secureTLS off: the APIService then skips verification, as the chart's)."""
    deployment = _get(hub, f"/apis/apps/v1/namespaces/{VELA_NAMESPACE}/deployments/{release}-cluster-gateway")
    spec = ((deployment or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    for container in spec.get("containers") or []:
        cert = next(
            (a.removeprefix(TLS_CERT_FLAG) for a in container.get("args") or [] if a.startswith(TLS_CERT_FLAG)), None
        )
        if cert is None:
            continue
        mount = next(
            (m for m in container.get("volumeMounts") or [] if cert.startswith(m["mountPath"].rstrip("/") + "/")), None
        )
        volume = next((v for v in spec.get("volumes") or [] if mount and v.get("name") == mount["name"]), None)
        secret_name = ((volume or {}).get("secret") or {}).get("secretName")
        if secret_name:
            secret = _get(hub, f"/api/v1/namespaces/{VELA_NAMESPACE}/secrets/{secret_name}")
            ca = ((secret or {}).get("data") or {}).get("ca")
            return str(ca) if ca else None
    return None


def vela_apiservice(service: Mapping[str, Any], ca: str | None) -> dict[str, Any]:
    """The APIService vela's chart makes for its gateway Service."""
    metadata = service["metadata"]
    annotations = metadata.get("annotations") or {}
    spec: dict[str, Any] = {
        "group": "cluster.core.oam.dev",
        "version": "v1alpha1",
        "groupPriorityMinimum": 2000,
        "versionPriority": 10,
        "service": {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "port": service["spec"]["ports"][0]["port"],
        },
    }
    if ca:
        spec["caBundle"] = ca
    else:
        spec["insecureSkipTLSVerify"] = True
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {
            "name": APISERVICE,
            "labels": {
                "api": "cluster-extension-apiserver",
                "apiserver": "true",
                "app.kubernetes.io/managed-by": "Helm",
            },
            "annotations": {
                RELEASE_ANNOTATION: annotations[RELEASE_ANNOTATION],
                RELEASE_NAMESPACE_ANNOTATION: annotations.get(RELEASE_NAMESPACE_ANNOTATION, metadata["namespace"]),
            },
        },
        "spec": spec,
    }


def give_back(hub: Kube, addon_namespace: str, pacing: Pacing) -> None:
    """Stop the gateway addon manager, then put vela's own APIService back (when vela has a gateway here)."""
    service = vela_gateway(hub)
    if service is None:
        pacing.log(f"APIService {APISERVICE}: no KubeVela gateway in {VELA_NAMESPACE}, nothing to give back")
        return
    _stop_addon_manager(hub, addon_namespace, pacing)
    release = service["metadata"]["annotations"][RELEASE_ANNOTATION]
    wanted = vela_apiservice(service, ca_bundle(hub, release))
    live = _get(hub, APISERVICE_PATH)
    if live is None:
        hub.request("POST", "/apis/apiregistration.k8s.io/v1/apiservices", body=wanted)
    else:
        wanted["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        hub.request("PUT", APISERVICE_PATH, body=wanted)
    target = f"{VELA_NAMESPACE}/{service['metadata']['name']}"
    pacing.log(f"APIService {APISERVICE}: given back to KubeVela's gateway {target} (release {release})")

    def look() -> Unmet | None:
        conditions = ((_get(hub, APISERVICE_PATH) or {}).get("status") or {}).get("conditions") or []
        available: dict[str, Any] = next((c for c in conditions if c.get("type") == "Available"), {})
        if available.get("status") == "True":
            return None
        return Unmet(f"Available is {available.get('status', 'not reported')} ({available.get('message', '')})")

    unmet = pacing.until(look, AVAILABLE_SECONDS)
    if unmet is not None:  # given back all the same: the gateway's readiness is vela's, not ocm-hub's
        pulumi.log.warn(
            f"APIService {APISERVICE} points at {target} again, but is not Available yet: {unmet.condition}"
        )


def _stop_addon_manager(hub: Kube, namespace: str, pacing: Pacing) -> None:
    """Scale the addon manager to none and wait until its pods are gone (bounded): a running manager puts
    its own APIService back on the next reconcile."""
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{ADDON_MANAGER}"
    if _get(hub, path) is None:
        return
    hub.request("PATCH", path, body={"spec": {"replicas": 0}}, content_type="application/merge-patch+json")

    def look() -> Unmet | None:
        pods = hub.request("GET", f"/api/v1/namespaces/{namespace}/pods", query={"labelSelector": ADDON_MANAGER_LABELS})
        running = [p["metadata"]["name"] for p in pods.get("items") or []]
        return (
            Unmet(f"pods still running: {', '.join(running)}", f"waiting for {namespace}/{ADDON_MANAGER} to stop")
            if running
            else None
        )

    unmet = pacing.until(look, STOP_SECONDS)
    if unmet is not None:
        raise HandbackError(
            f"APIService {APISERVICE} not given back to KubeVela: {namespace}/{ADDON_MANAGER} did not stop within "
            f"{STOP_SECONDS:g}s ({unmet.condition}); it would take the APIService again"
        )


def _get(hub: Kube, path: str) -> dict[str, Any] | None:
    try:
        return hub.request("GET", path)
    except KubeError as err:
        if err.status == 404:
            return None
        raise


class VelaApiServiceProvider(HubProvider):
    """Delete gives vela's APIService back; nothing else touches the hub."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        rotated = olds.get(HUB_KUBECONFIG) != news.get(HUB_KUBECONFIG)
        moved = olds.get("addonNamespace") != news.get("addonNamespace")
        return DiffResult(changes=rotated or moved, replaces=[], stables=["apiService"], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(APISERVICE, self._outputs(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, self._outputs(props))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        give_back(self.hub(props), str(props["addonNamespace"]), Pacing())

    @staticmethod
    def _outputs(props: Mapping[str, Any]) -> dict[str, Any]:
        return {"apiService": APISERVICE, "addonNamespace": props["addonNamespace"], **hub_access(props)}


class VelaApiService(pulumi.dynamic.Resource, module="ocm-hub", name="VelaApiService"):
    """KubeVela's APIService, given back to vela's gateway when the cluster-gateway addon is removed."""

    api_service: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        addon_namespace: str,
        hub_kubeconfig: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"addonNamespace": addon_namespace, "apiService": None}
        opts = with_hub_kubeconfig(props, hub_kubeconfig, opts)
        with serialized_once():
            super().__init__(VelaApiServiceProvider(), name, props, opts)
