"""Addons as Helm releases: on/off, dependencies, values checks, order, overrides, vela safety."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from config import ConfigError, RawConfig, load
from config.addons import CHARTS, chart_value_keys
from ocmhub_testing.cases import ALL_ON, BAD_ADDONS
from render import documents, recording
from tests.conftest import SHARED_DIR, run_values, upstream_docs

ON = {"enabled": True}

RELEASE = "kubernetes:helm.sh/v3:Release"
READINESS = "pulumi-python:dynamic/ocm-hub:HubReadiness"


def _releases(rec: recording.Recording) -> dict[str, recording.ResourceRequest]:
    return {r.inputs["chart"]: r for r in rec.of_type(RELEASE)}


def _valid_subsets() -> list[tuple[str, ...]]:
    keys = list(CHARTS)
    subsets = itertools.chain.from_iterable(itertools.combinations(keys, n) for n in range(len(keys) + 1))
    return [s for s in subsets if all(need in s for key in s for need in CHARTS[key].requires)]


@pytest.mark.parametrize("enabled", _valid_subsets(), ids=lambda s: "+".join(s) or "none")
def test_each_addon_on_and_off(enabled: tuple[str, ...]) -> None:
    rec = run_values({"addons": {key: {"enabled": key in enabled} for key in CHARTS}})
    assert sorted(_releases(rec)) == sorted(CHARTS[key].chart for key in enabled)
    addon_namespaces = [
        r
        for r in rec.of_type("kubernetes:core/v1:Namespace")
        if r.inputs["metadata"]["name"] == "open-cluster-management-addon"
    ]
    assert len(addon_namespaces) == (1 if enabled else 0)
    status = rec.outputs["addons"]
    assert {key for key, s in status.items() if s["enabled"]} == set(enabled)
    assert all(s["status"] == "disabled" for key, s in status.items() if key not in enabled)


def test_releases_are_helm_releases_in_the_addon_namespace() -> None:
    rec = run_values({"addons": ALL_ON})
    for chart, release in _releases(rec).items():
        assert release.inputs["name"] == chart
        assert release.inputs["namespace"] == "open-cluster-management-addon"
        assert release.inputs["createNamespace"] is False
        assert release.inputs["version"]


def test_releases_install_after_the_hub_is_ready_and_in_dependency_order() -> None:
    rec = run_values({"addons": ALL_ON})
    (readiness,) = rec.of_type(READINESS)
    releases = _releases(rec)
    for release in releases.values():
        assert readiness.urn in release.dependencies
    gateway = releases["cluster-gateway-addon-manager"]
    assert releases["cluster-proxy"].urn in gateway.dependencies
    assert releases["managed-serviceaccount"].urn in gateway.dependencies


@pytest.mark.parametrize(
    ("addons", "missing"),
    [
        ({"clusterGateway": {"enabled": True}}, "clusterProxy.enabled: true and addons.managedServiceAccount"),
        (
            {"clusterGateway": {"enabled": True}, "clusterProxy": {"enabled": True}},
            "needs addons.managedServiceAccount.enabled: true",
        ),
        (
            {"clusterGateway": {"enabled": True}, "managedServiceAccount": {"enabled": True}},
            "needs addons.clusterProxy.enabled: true",
        ),
    ],
)
def test_gateway_without_its_dependencies_is_a_config_error(addons: dict[str, Any], missing: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(RawConfig({"addons": addons}))
    assert "ocm-hub:addons.clusterGateway.enabled:" in str(caught.value)
    assert missing in str(caught.value)


@pytest.mark.parametrize("repository", ["http://127.0.0.1:8879", "http://localhost:8879/charts", "http://[::1]:8879"])
def test_plain_http_is_accepted_for_a_mirror_on_the_loopback_only(repository: str) -> None:
    """The local clusters' chart repository: nothing travels a network."""
    assert load(RawConfig({"addons": {"repository": repository}})).addons.repository == repository


@pytest.mark.parametrize(("addons", "path", "allowed"), BAD_ADDONS, ids=[p for _, p, _ in BAD_ADDONS])
def test_bad_addon_config_is_rejected(addons: dict[str, Any], path: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(RawConfig({"addons": addons}))
    assert f"ocm-hub:{path}:" in str(caught.value)
    assert allowed in str(caught.value)


@pytest.mark.parametrize("key", list(CHARTS))
def test_known_values_are_the_published_charts_values(key: str) -> None:
    chart = CHARTS[key]
    (values,) = upstream_docs(f"ocm/helm-repo/{chart.chart}-{chart.default_version}/{chart.chart}/values.yaml")
    assert chart_value_keys(key) == set(values) | set(chart.subcharts) | {"global"}
    shipped = chart.values_file.read_bytes()
    published = SHARED_DIR / f"ocm/helm-repo/{chart.chart}-{chart.default_version}/{chart.chart}/values.yaml"
    assert shipped == published.read_bytes()


def test_repository_override_global_and_per_addon() -> None:
    rec = run_values(
        {
            "addons": {
                "repository": "https://mirror.example.com/ocm/",
                "clusterProxy": {"enabled": True},
                "managedServiceAccount": {"enabled": True, "repository": "oci://registry.example.com/charts"},
            }
        }
    )
    releases = _releases(rec)
    assert releases["cluster-proxy"].inputs["repositoryOpts"] == {"repo": "https://mirror.example.com/ocm"}
    assert releases["managed-serviceaccount"].inputs["repositoryOpts"] == {"repo": "oci://registry.example.com/charts"}


def test_default_repository_and_versions_are_the_published_ones() -> None:
    releases = _releases(run_values({"addons": ALL_ON}))
    assert {c: r.inputs["version"] for c, r in releases.items()} == {
        "cluster-proxy": "0.11.0",
        "managed-serviceaccount": "0.10.0",
        "cluster-gateway-addon-manager": "1.4.0",
    }
    assert {r.inputs["repositoryOpts"]["repo"] for r in releases.values()} == {
        "https://open-cluster-management.io/helm-charts"
    }


def test_addon_images_follow_the_hub_registry_override() -> None:
    releases = _releases(
        run_values({"images": {"registry": "mirror.local:5000/ocm"}, "addons": {k: ALL_ON[k] for k in ALL_ON}})
    )
    proxy = releases["cluster-proxy"].inputs["values"]
    assert proxy["registry"] == "mirror.local:5000/ocm"
    assert proxy["proxyAgentImage"] == proxy["proxyServerImage"] == "mirror.local:5000/ocm/cluster-proxy"
    assert (
        releases["managed-serviceaccount"].inputs["values"]["image"] == "mirror.local:5000/ocm/managed-serviceaccount"
    )
    assert "image" not in releases["cluster-gateway-addon-manager"].inputs["values"]


def test_stack_values_win_over_ocm_hub_defaults() -> None:
    releases = _releases(
        run_values(
            {
                "images": {"registry": "mirror.local/ocm"},
                "addons": {"clusterProxy": {"enabled": True, "values": {"registry": "other.local/ocm", "replicas": 3}}},
            }
        )
    )
    values = releases["cluster-proxy"].inputs["values"]
    assert values["registry"] == "other.local/ocm"
    assert values["replicas"] == 3
    assert values["proxyAgentImage"] == "mirror.local/ocm/cluster-proxy"


def test_gateway_keeps_vela_clusters_reachable() -> None:
    """Rendered settings: the gateway reads vela's own secrets and never writes over them."""
    values = _releases(run_values({"addons": ALL_ON}))["cluster-gateway-addon-manager"].inputs["values"]
    assert values["clusterGateway"] == {"installNamespace": "vela-system", "secretNamespace": "vela-system"}
    assert values["manualSecretManagement"] is True
    assert values["konnectivityEgress"] is False


def test_cluster_proxy_installs_by_the_placement_of_managed_serviceaccount_when_both_are_on() -> None:
    """Both charts render ManagedClusterSetBinding `global` in the release namespace: two releases
    cannot own it (the second install fails), so cluster-proxy uses managed-serviceaccount's Placement."""
    for chart, template in (
        ("cluster-proxy-0.11.0/cluster-proxy", "clustersetbinding.yaml"),
        ("managed-serviceaccount-0.10.0/managed-serviceaccount", "placement.yaml"),
    ):
        text = (SHARED_DIR / "ocm/helm-repo" / chart / "templates" / template).read_text()
        assert "kind: ManagedClusterSetBinding" in text
        assert "name: global" in text
    both = _releases(run_values({"addons": {"clusterProxy": ON, "managedServiceAccount": ON}}))
    assert both["cluster-proxy"].inputs["values"]["installByPlacement"] == {
        "placementName": "global",
        "placementNamespace": "open-cluster-management-addon",
    }
    alone = _releases(run_values({"addons": {"clusterProxy": ON}}))
    assert "installByPlacement" not in alone["cluster-proxy"].inputs["values"]
    own = {"installByPlacement": {"placementName": "mine", "placementNamespace": "ops"}}
    chosen = _releases(run_values({"addons": {"clusterProxy": {**ON, "values": own}, "managedServiceAccount": ON}}))
    assert chosen["cluster-proxy"].inputs["values"]["installByPlacement"] == own["installByPlacement"]


def test_gateway_defaults_change_the_charts_risky_defaults() -> None:
    (values,) = upstream_docs(
        "ocm/helm-repo/cluster-gateway-addon-manager-1.4.0/cluster-gateway-addon-manager/values.yaml"
    )
    assert values["clusterGateway"]["secretNamespace"] != "vela-system"  # why ocm-hub sets it


def test_chart_version_change_touches_only_that_release() -> None:
    before = run_values({"addons": ALL_ON})
    after = run_values({"addons": {**ALL_ON, "clusterProxy": {"enabled": True, "version": "0.12.0"}}})

    def inputs(rec: recording.Recording) -> dict[str, Any]:
        return {r.urn: r.inputs for r in rec.resources}

    changed = {urn for urn, value in inputs(after).items() if inputs(before).get(urn) != value}
    assert changed == {_releases(after)["cluster-proxy"].urn}


def test_disabling_an_addon_touches_nothing_else() -> None:
    """Turning managed-serviceaccount off only hands cluster-proxy its own placement back."""
    before = run_values({"addons": {"clusterProxy": {"enabled": True}, "managedServiceAccount": {"enabled": True}}})
    after = run_values({"addons": {"managedServiceAccount": {"enabled": True}}})
    before_inputs = {r.urn: r.inputs for r in before.resources}
    after_inputs = {r.urn: r.inputs for r in after.resources}
    assert set(before_inputs) - set(after_inputs) == {_releases(before)["cluster-proxy"].urn}
    assert all(before_inputs[urn] == value for urn, value in after_inputs.items())


def test_render_shows_each_enabled_release_as_its_own_document() -> None:
    docs = documents.objects(run_values({"addons": ALL_ON}))
    releases = [d for d in docs if d["kind"] == "Release"]
    assert [d["metadata"]["name"] for d in releases] == [
        "cluster-gateway-addon-manager",
        "cluster-proxy",
        "managed-serviceaccount",
    ]
    assert all(set(d["spec"]) == {"chart", "repository", "version", "values", "timeoutSeconds"} for d in releases)


def test_addon_render_is_deterministic() -> None:
    def render() -> str:
        return documents.to_yaml(documents.objects(run_values({"addons": ALL_ON})))

    assert render() == render()
