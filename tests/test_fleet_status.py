"""Fleet status: outputs under mocks, and condition mapping through the provider server (fake API)."""

from __future__ import annotations

import itertools
from typing import Any

import pulumi
import pytest

from components import OcmHub
from components.fleet_status import summarize
from config import RawConfig, load
from ocmhub_testing.dynamic_server import DynamicServer, ProviderError
from ocmhub_testing.fake_agent import ADDON, MANAGED_CLUSTER, FakeAgent
from ocmhub_testing.fakekube import FakeKube
from ocmhub_testing.pki import Pki, vela_secret
from ocmhub_testing.registrations import registration_inputs
from render import recording

ADDONS = ["cluster-gateway", "cluster-proxy", "managed-serviceaccount"]
STATES = ["True", "False", "Unknown", None]  # None: the condition was never reported


def _conditions(states: dict[str, str | None]) -> list[dict[str, str]]:
    return [
        {
            "type": kind,
            "status": status,
            "reason": f"{kind}Reason",
            "message": f"{kind} is {status}",
            "lastTransitionTime": "2026-11-23T08:00:00Z",
        }
        for kind, status in states.items()
        if status is not None
    ]


def _expected(status: str | None, kind: str) -> dict[str, str]:
    if status is None:
        return {"status": "Missing", "reason": "", "message": "", "since": ""}
    return {
        "status": status,
        "reason": f"{kind}Reason",
        "message": f"{kind} is {status}",
        "since": "2026-11-23T08:00:00Z",
    }


def _registered(hub: FakeKube, name: str = "prod-eu") -> None:
    hub.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    hub.put_object(
        {
            "apiVersion": MANAGED_CLUSTER[0],
            "kind": MANAGED_CLUSTER[1],
            "metadata": {
                "name": name,
                "labels": {"env": "prod"},
                "annotations": {"ocm-hub.io/klusterlet-mode": "Default"},
            },
            "spec": {"hubAcceptsClient": True, "managedClusterClientConfigs": [{"url": "https://10.0.0.1:6443"}]},
        }
    )


def test_cluster_conditions_map_in_every_combination(server: DynamicServer, hub: FakeKube) -> None:
    _registered(hub)
    props = registration_inputs(addons=[])
    for joined, available in itertools.product(STATES, STATES):
        live = hub.get_object(*MANAGED_CLUSTER, "prod-eu")
        assert live is not None
        live["status"] = {
            "conditions": _conditions({"ManagedClusterJoined": joined, "ManagedClusterConditionAvailable": available})
        }
        hub.put_object(live)
        _, outs = server.read("prod-eu", props)
        assert outs["status"]["joined"] == _expected(joined, "ManagedClusterJoined"), (joined, available)
        assert outs["status"]["available"] == _expected(available, "ManagedClusterConditionAvailable"), (
            joined,
            available,
        )
        assert outs["status"]["hubAccepted"] is True


def test_addon_conditions_map_in_every_combination(server: DynamicServer, hub: FakeKube) -> None:
    _registered(hub)
    props = registration_inputs(addons=ADDONS)
    combinations = list(itertools.product(STATES, STATES, STATES))
    for index, (available, degraded, progressing) in enumerate(combinations):
        addon = ADDONS[index % len(ADDONS)]
        hub.put_object(
            {
                "apiVersion": ADDON[0],
                "kind": ADDON[1],
                "metadata": {"name": addon, "namespace": "prod-eu"},
                "spec": {},
                "status": {
                    "conditions": _conditions(
                        {"Available": available, "Degraded": degraded, "Progressing": progressing}
                    )
                },
            }
        )
        _, outs = server.read("prod-eu", props)
        got = outs["status"]["addons"][addon]
        assert got == {
            "available": _expected(available, "Available"),
            "degraded": _expected(degraded, "Degraded"),
            "progressing": _expected(progressing, "Progressing"),
        }, (addon, available, degraded, progressing)


def test_addon_never_installed_shows_missing(server: DynamicServer, hub: FakeKube) -> None:
    _registered(hub)
    _, outs = server.read("prod-eu", registration_inputs(addons=["cluster-proxy"]))
    assert outs["status"]["addons"]["cluster-proxy"]["available"]["status"] == "Missing"


def test_join_waits_for_addons_and_creates_missing_ones(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    hub.put_object(vela_secret("prod-eu", managed.url, pki))
    with FakeAgent(hub, [managed]):
        _, outs = server.create(
            registration_inputs(addons=["cluster-proxy", "managed-serviceaccount"], waitForAddons=True)
        )
    assert {name: a["available"]["status"] for name, a in outs["status"]["addons"].items()} == {
        "cluster-proxy": "True",
        "managed-serviceaccount": "True",
    }
    assert hub.count(method="POST", path=r"/managedclusteraddons$") == 2  # no install strategy made them here


def test_addon_timeout_names_cluster_addon_and_condition(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    hub.put_object(vela_secret("prod-eu", managed.url, pki))
    with FakeAgent(hub, [managed], addon_available="False"), pytest.raises(ProviderError) as caught:
        server.create(registration_inputs(addons=["cluster-proxy"], waitForAddons=True, addonTimeoutSeconds=3))
    message = str(caught.value)
    assert "cluster prod-eu: addon cluster-proxy not Available after 3s" in message
    assert "condition Available is False (FakeAddonAvailable: lease)" in message


def test_no_wait_when_the_stack_turns_it_off(server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki) -> None:
    hub.put_object(vela_secret("prod-eu", managed.url, pki))
    with FakeAgent(hub, [managed], addon_available="False"):
        _, outs = server.create(registration_inputs(addons=["cluster-proxy"], waitForAddons=False))
    assert outs["status"]["addons"]["cluster-proxy"]["available"]["status"] == "Missing"


def test_summary_counts_out_of_what_is_declared() -> None:
    def cluster(joined: str, available: str, addons: dict[str, str]) -> dict[str, Any]:
        return {
            "joined": {"status": joined},
            "available": {"status": available},
            "addons": {name: {"available": {"status": s}} for name, s in addons.items()},
        }

    clusters = {
        "a": cluster("True", "True", {"cluster-proxy": "True", "managed-serviceaccount": "True"}),
        "b": cluster("True", "Unknown", {"cluster-proxy": "False", "managed-serviceaccount": "True"}),
        "c": None,
    }
    assert summarize(clusters, declared=3, addons=2) == {
        "clusters": 3,
        "joined": 2,
        "available": 1,
        "addons": {"declared": 6, "available": 3},
    }


def test_outputs_have_the_fleet_shape(pki: Pki) -> None:
    secrets = [vela_secret(f"c{i}", f"https://10.0.0.{i}:6443", pki) for i in range(3)]

    def program() -> None:
        cfg = load(
            RawConfig(
                {
                    "registration": {"discover": True},
                    "addons": {"clusterProxy": {"enabled": True}, "managedServiceAccount": {"enabled": True}},
                }
            )
        )
        hub = OcmHub("ocm-hub", cfg.args(), vela_secrets=secrets)
        for name, value in hub.outputs().items():
            pulumi.export(name, value)

    rec = recording.run(program)
    assert set(rec.outputs["clusters"]) == {"c0", "c1", "c2"}
    assert rec.outputs["fleetSummary"] == {
        "clusters": 3,
        "joined": 0,
        "available": 0,
        "addons": {"declared": 6, "available": 0},
    }
    (registration,) = [r for r in rec.resources if r.name == "ocm-hub-cluster-c0"]
    assert registration.inputs["spec"]["addons"] == ["cluster-proxy", "managed-serviceaccount"]
    assert registration.inputs["spec"]["waitForAddons"] is True
