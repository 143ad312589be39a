"""Issue 16: vela's cluster Secrets read as vela means them — proxy-url, insecure clusters, clusters
reached through cluster-proxy, vela's labels and alias — and an unusable discovered Secret skipped,
never at the price of unjoining a registered cluster."""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from typing import Any

import pytest

from config import RawConfig, load
from ocmhub_testing.cases import ENDPOINT
from ocmhub_testing.fakekube import FakeKube
from ocmhub_testing.fakekube.registry import ResourceType
from ocmhub_testing.pki import Pki, vela_secret
from policy import rules
from providers.discovery import GATEWAY_APISERVICE, DiscoveryError, VelaSecrets, fetch_vela_secrets, plan_fleet
from providers.join import Join, managed_cluster
from providers.registration import MANAGED_CLUSTER, SECRET_ANNOTATION, ClusterAccess, Registration
from providers.vela import ALIAS_ANNOTATION, VelaSecretError, parse_secret
from render import recording

PROXY = "http://proxy-user:proxy-pass@proxy.example.com:3128"


def _with_proxy(secret: dict[str, Any]) -> dict[str, Any]:
    secret = copy.deepcopy(secret)
    secret["data"]["proxy-url"] = base64.b64encode(PROXY.encode()).decode()
    return secret


def _without_ca(secret: dict[str, Any]) -> dict[str, Any]:
    secret = copy.deepcopy(secret)
    del secret["data"]["ca.crt"]
    return secret


@pytest.mark.parametrize("credential_type", ["X509Certificate", "ServiceAccountToken"])
def test_proxy_url_is_carried_into_the_kubeconfig(pki: Pki, credential_type: str) -> None:
    vela = parse_secret(_with_proxy(vela_secret("edge", ENDPOINT, pki, credential_type)))
    cluster = vela.kubeconfig()["clusters"][0]["cluster"]
    assert cluster["proxy-url"] == PROXY
    assert PROXY not in repr(vela)


@pytest.mark.parametrize("mode", ["Default", "Hosted"])
def test_both_modes_reach_the_cluster_through_vela_s_proxy(pki: Pki, mode: str) -> None:
    """Default connects with the Secret's kubeconfig; Hosted hands it to the agents on the hub."""
    seen: list[dict[str, Any]] = []
    secret = _with_proxy(vela_secret("edge", ENDPOINT, pki))

    class Target:
        def get(self, _api_version: str, kind: str, *_: Any) -> dict[str, Any] | None:
            return secret if kind == "Secret" else None

        def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
            if obj["kind"] == "Secret" and obj["metadata"]["name"] == "external-managed-kubeconfig":
                seen.append(obj)
            return obj

    target: Any = Target()

    def connect(kubeconfig: Mapping[str, Any]) -> Any:
        seen.append(dict(kubeconfig))
        return target

    reg = Registration.from_props({**_props(), "mode": mode, "secretName": "edge"})
    Join.complete(ClusterAccess(hub=target, connect=connect), reg).apply_klusterlet(None)
    assert len(seen) == 1
    assert PROXY in str(seen[0])


def _props() -> dict[str, Any]:
    return (
        plan_fleet(load(RawConfig({"registration": {"clusters": [{"name": "edge"}]}})), None)
        .registrations[0]
        .registration.props()
    )


def test_a_secret_without_ca_is_vela_s_insecure_cluster(pki: Pki) -> None:
    secret = _without_ca(vela_secret("lab", ENDPOINT, pki))
    with pytest.raises(VelaSecretError) as caught:
        parse_secret(secret)
    assert "how vela records an insecure cluster" in str(caught.value)
    assert "allowInsecure: true" in str(caught.value)
    vela = parse_secret(secret, allow_insecure=True)
    assert vela.kubeconfig()["clusters"][0]["cluster"] == {"server": ENDPOINT, "insecure-skip-tls-verify": True}
    reg = Registration.from_props({**_props(), "secretName": "lab", "insecure": True})
    client_config = managed_cluster(reg, vela)["spec"]["managedClusterClientConfigs"][0]
    assert client_config == {"url": ENDPOINT}


def test_the_insecure_opt_in_is_per_cluster_warned_and_flagged(pki: Pki) -> None:
    values = {"registration": {"discover": True, "clusters": [{"name": "lab", "allowInsecure": True}]}}
    secrets = VelaSecrets([_without_ca(vela_secret("lab", ENDPOINT, pki))], frozenset())
    fleet = plan_fleet(load(RawConfig(values)), secrets)
    assert fleet.registrations[0].registration.props()["insecure"] is True
    other = plan_fleet(
        load(RawConfig({"registration": {"discover": True}})),
        VelaSecrets([vela_secret("a", ENDPOINT, pki)], frozenset()),
    )
    assert "insecure" not in other.registrations[0].registration.props()  # older registrations see no diff
    resource = rules.Resource(
        rules.REGISTRATION, "ocm-hub-cluster-lab", {"spec": fleet.registrations[0].registration.props()}
    )
    assert any("allowInsecure" in message for message in rules.check_cluster_tls(resource, {}))
    safe = rules.Resource(
        rules.REGISTRATION, "ocm-hub-cluster-a", {"spec": other.registrations[0].registration.props()}
    )
    assert rules.check_cluster_tls(safe, {}) == []


def test_a_preview_warns_about_an_insecure_cluster(monkeypatch: pytest.MonkeyPatch) -> None:
    import pulumi

    from components import OcmHub

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_args, **_kwargs: warnings.append(str(message)))
    values = {"registration": {"clusters": [{"name": "lab", "allowInsecure": True}]}}

    def program() -> None:
        OcmHub("ocm-hub", load(RawConfig(values)).args())

    recording.run(program)
    assert any("cluster lab is registered with allowInsecure" in w for w in warnings)


def test_discovery_that_finds_no_vela_cluster_says_so(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> None:
    import pulumi

    from components import OcmHub

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_args, **_kwargs: warnings.append(str(message)))
    args = load(RawConfig({"registration": {"discover": True}})).args()
    listed: list[VelaSecrets] = [VelaSecrets([], frozenset())]

    def program() -> None:
        OcmHub("ocm-hub", args, vela_secrets=listed[-1])

    recording.run(program)
    assert [w for w in warnings if "found no vela clusters" in w] == [
        "registration.discover: found no vela clusters: no Secret in vela-system carries "
        "cluster.core.oam.dev/cluster-credential-type (KubeVela is not installed on this cluster, or no cluster "
        "was joined with `vela cluster join` yet), so no cluster is registered"
    ]
    warnings.clear()
    listed.append(VelaSecrets([vela_secret("prod-eu", ENDPOINT, pki)], frozenset()))
    recording.run(program)
    assert not [w for w in warnings if "found no vela clusters" in w]


def test_vela_labels_and_alias_reach_the_managed_cluster(pki: Pki) -> None:
    labels = {"env": "prod", "region": "eu", "cluster.core.oam.dev/cluster-credential-type": "X509Certificate"}
    secret = vela_secret("prod-eu", ENDPOINT, pki, labels=labels)
    secret["metadata"]["annotations"] = {ALIAS_ANNOTATION: "Production EU"}
    values = {
        "registration": {
            "discover": True,
            "defaults": {"labels": {"managed-by": "ocm-hub"}},
            "clusters": [{"name": "prod-eu", "labels": {"region": "eu-west-1"}}],
        }
    }
    reg = plan_fleet(load(RawConfig(values)), VelaSecrets([secret], frozenset())).registrations[0].registration
    assert dict(reg.labels) == {"env": "prod", "region": "eu-west-1", "managed-by": "ocm-hub"}
    managed = managed_cluster(reg, parse_secret(secret))
    assert managed["metadata"]["annotations"][ALIAS_ANNOTATION] == "Production EU"
    assert not any(key.startswith("cluster.core.oam.dev") for key in managed["metadata"]["labels"])


def _discover(values: dict[str, Any] | None = None) -> Any:
    return load(RawConfig({"registration": {"discover": True, **(values or {})}}))


def test_an_unusable_discovered_secret_is_skipped_and_listed(pki: Pki) -> None:
    secrets = VelaSecrets(
        [vela_secret("good", ENDPOINT, pki), vela_secret("dyn", ENDPOINT, pki, "Dynamic")], frozenset()
    )
    fleet = plan_fleet(_discover(), secrets)
    assert [p.registration.cluster for p in fleet.registrations] == ["good"]
    assert list(fleet.skipped) == ["dyn"]
    assert "Dynamic" in fleet.skipped["dyn"]


def test_skipped_secrets_are_an_output(pki: Pki) -> None:
    from components import OcmHub

    secrets = VelaSecrets(
        [vela_secret("good", ENDPOINT, pki), _without_ca(vela_secret("lab", ENDPOINT, pki))], frozenset()
    )

    def program() -> None:
        import pulumi

        hub = OcmHub("ocm-hub", _discover().args(), vela_secrets=secrets)
        for name, value in hub.outputs().items():
            pulumi.export(name, value)

    outputs = recording.run(program).outputs
    assert list(outputs["skippedClusters"]) == ["lab"]
    assert "insecure cluster" in outputs["skippedClusters"]["lab"]


def test_a_named_cluster_stays_an_error_and_strict_keeps_all_or_nothing(pki: Pki) -> None:
    secrets = VelaSecrets(
        [vela_secret("good", ENDPOINT, pki), vela_secret("dyn", ENDPOINT, pki, "Dynamic")], frozenset()
    )
    with pytest.raises(DiscoveryError, match="Dynamic"):
        plan_fleet(_discover({"clusters": [{"name": "dyn"}]}), secrets)
    with pytest.raises(DiscoveryError, match="Dynamic"):
        plan_fleet(_discover({"strict": True}), secrets)


def test_skipping_never_unjoins_a_registered_cluster(pki: Pki, hub: FakeKube) -> None:
    """edge is registered (its ManagedCluster carries ocm-hub's secret annotation), then its Secret is
    edited badly: the program must stop, since leaving edge out would make Pulumi delete (unjoin) it."""
    for secret in (vela_secret("good", ENDPOINT, pki), vela_secret("edge", ENDPOINT, pki, "Dynamic")):
        hub.put_object(secret)
    hub.put_object(
        {
            "apiVersion": MANAGED_CLUSTER[0],
            "kind": MANAGED_CLUSTER[1],
            "metadata": {"name": "edge", "annotations": {SECRET_ANNOTATION: "vela-system/edge"}},
            "spec": {"hubAcceptsClient": True},
        }
    )
    cfg = _discover()
    secrets = fetch_vela_secrets(cfg.registration, {"kubeconfig": _yaml(hub.kubeconfig())})
    assert isinstance(secrets, VelaSecrets)
    assert secrets.registered == frozenset({"vela-system/edge"})
    with pytest.raises(DiscoveryError) as caught:
        plan_fleet(cfg, secrets)
    assert "is registered with OCM, and skipping it would unjoin it, so this run stops" in str(caught.value)


def test_without_knowing_what_is_registered_nothing_is_skipped(pki: Pki) -> None:
    with pytest.raises(DiscoveryError, match="may be registered already"):
        plan_fleet(_discover(), VelaSecrets([vela_secret("dyn", ENDPOINT, pki, "Dynamic")]))


def _yaml(kubeconfig: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(kubeconfig)


APISERVICES = ResourceType("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, status=True)


def _gateway(available: str, reason: str, message: str) -> dict[str, Any]:
    condition = {"type": "Available", "status": available, "reason": reason, "message": message}
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": GATEWAY_APISERVICE},
        "spec": {"group": "cluster.core.oam.dev", "version": "v1alpha1"},
        "status": {"conditions": [condition]},
    }


def test_discovery_tells_when_vela_cluster_gateway_is_down(hub: FakeKube, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registration needs vela's Secrets only, so a gateway without endpoints does not stop the run; it
    is said, since every `vela cluster` command fails meanwhile. No APIService (no KubeVela), an
    Available one, or one the user may not read: nothing to say."""
    import pulumi

    from components import OcmHub

    cfg = _discover()

    def listed() -> VelaSecrets:
        secrets = fetch_vela_secrets(cfg.registration, {"kubeconfig": _yaml(hub.kubeconfig())})
        assert secrets is not None
        return secrets

    assert listed().gateway_problem is None
    hub.store.registry.register(APISERVICES)
    assert listed().gateway_problem is None
    hub.put_object(_gateway("False", "MissingEndpoints", "endpoints for service/kubevela-gateway have no addresses"))
    down = listed()
    assert down.gateway_problem == "MissingEndpoints: endpoints for service/kubevela-gateway have no addresses"

    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_args, **_kwargs: warnings.append(str(message)))

    def program() -> None:
        OcmHub("ocm-hub", cfg.args(), vela_secrets=down)

    recording.run(program)
    assert (
        "KubeVela's cluster gateway (APIService v1alpha1.cluster.core.oam.dev) is not Available (MissingEndpoints: "
        "endpoints for service/kubevela-gateway have no addresses): `vela cluster` commands fail until it is; "
        "registration goes on from vela's Secrets"
    ) in warnings

    hub.put_object(_gateway("True", "Passed", "all checks passed"))
    assert listed().gateway_problem is None
