"""A registration's inputs, declared once (providers/registration.py): what a change of each does, through
the SDK's own dynamic-provider server; states written by earlier releases read as they meant; and a moved
hub address applied to the agents, with the fake agent bootstrapping again as OCM's registration agent does."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ocmhub_testing.dynamic_server import DynamicServer, ProviderError
from ocmhub_testing.fake_agent import CSR, MANAGED_CLUSTER, FakeAgent
from ocmhub_testing.fakekube import FakeKube
from ocmhub_testing.pki import Pki
from ocmhub_testing.registrations import REGISTRATION_IMAGES, add_vela_cluster, registration_inputs
from providers import klusterlet as kl
from providers.registration import REQUIRED, WIRE_KEYS, WIRES, Kind, Registration

# What a change of each input does. Settings never diff: raising a join timeout must not preview an update
# of every registration of a fleet.
KINDS = {
    "clusterName": Kind.REPLACE,
    "secretNamespace": Kind.REPLACE,
    "secretName": Kind.REPLACE,
    "mode": Kind.REPLACE,
    "endpoint": Kind.UPDATE,
    "labels": Kind.UPDATE,
    "clusterSet": Kind.UPDATE,
    "images": Kind.UPDATE,
    "hubApiServer": Kind.UPDATE,
    "addons": Kind.UPDATE,
    "ocmVersion": Kind.UPDATE,
    "annotations": Kind.UPDATE,
    "insecure": Kind.UPDATE,
    "timeoutSeconds": Kind.SETTING,
    "waitForAddons": Kind.SETTING,
    "addonTimeoutSeconds": Kind.SETTING,
    "maxConcurrentJoins": Kind.SETTING,
}
# A changed value of each input (registration_inputs() holds the unchanged one).
CHANGED: dict[str, Any] = {
    "clusterName": "prod-us",
    "secretNamespace": "vela-fleet",
    "secretName": "prod-eu-2",
    "mode": "Hosted",
    "endpoint": "https://prod-eu.example:6443",
    "labels": {"env": "staging"},
    "clusterSet": "fleet",
    "images": {**dataclasses.asdict(REGISTRATION_IMAGES), "work": "quay.io/open-cluster-management/work:v1.3.2"},
    "hubApiServer": "https://hub.example:6443",
    "addons": ["cluster-proxy"],
    "ocmVersion": "v1.2.1",
    "annotations": {"cluster.core.oam.dev/cluster-alias": "Production EU"},
    "insecure": True,
    "timeoutSeconds": 360,
    "waitForAddons": True,
    "addonTimeoutSeconds": 900,
    "maxConcurrentJoins": 64,
}


def test_every_input_is_declared_with_the_kind_it_is_expected_to_have() -> None:
    assert {wire.key: wire.kind for wire in WIRES.values()} == KINDS
    assert set(CHANGED) == set(WIRE_KEYS)


@pytest.mark.parametrize("key", [key for key, kind in KINDS.items() if kind is Kind.SETTING])
def test_a_changed_setting_is_no_diff(server: DynamicServer, key: str) -> None:
    olds = registration_inputs()
    assert olds["spec"][key] != CHANGED[key]
    diff = server.diff("prod-eu", olds, registration_inputs(**{key: CHANGED[key]}))
    assert diff.changes == diff.DIFF_NONE


@pytest.mark.parametrize("key", [key for key, kind in KINDS.items() if kind is Kind.UPDATE])
def test_a_changed_update_input_is_an_update_in_place(server: DynamicServer, key: str) -> None:
    diff = server.diff("prod-eu", registration_inputs(), registration_inputs(**{key: CHANGED[key]}))
    assert diff.changes == diff.DIFF_SOME
    assert list(diff.replaces) == []


@pytest.mark.parametrize("key", [key for key, kind in KINDS.items() if kind is Kind.REPLACE])
def test_a_changed_replace_input_replaces_the_registration(server: DynamicServer, key: str) -> None:
    diff = server.diff("prod-eu", registration_inputs(), registration_inputs(**{key: CHANGED[key]}))
    assert diff.changes == diff.DIFF_SOME
    assert list(diff.replaces) == [f"spec.{key}"]
    assert diff.deleteBeforeReplace


def test_numbers_that_crossed_the_wire_as_doubles_are_no_diff(server: DynamicServer) -> None:
    olds = registration_inputs()
    news = registration_inputs(labels={"env": "prod"}, addonTimeoutSeconds=600.0, timeoutSeconds=20.0)
    diff = server.diff("prod-eu", olds, news)
    assert diff.changes == diff.DIFF_NONE


def test_props_and_from_props_are_inverse() -> None:
    spec = registration_inputs(**{k: v for k, v in CHANGED.items() if k != "mode"})["spec"]
    reg = Registration.from_props(spec)
    assert reg.props() == spec
    assert Registration.from_props(reg.props()) == reg


def test_a_state_written_before_the_optional_inputs_existed_reads_as_it_meant() -> None:
    """The oldest spec: only the inputs every release has written."""
    oldest = {
        key: value
        for key, value in registration_inputs(endpoint="https://prod-eu:6443")["spec"].items()
        if next(wire for wire in WIRES.values() if wire.key == key).absent is REQUIRED
    }
    reg = Registration.from_props(oldest)
    assert (reg.addons, reg.wait_for_addons, reg.addon_timeout_seconds) == ((), False, 600)
    assert (reg.ocm_version, reg.annotations, reg.insecure) == ("v1.3.1", {}, False)
    assert reg.endpoint is None  # absent is "from the secret"
    with pytest.raises(KeyError, match="clusterName"):
        Registration.from_props({k: v for k, v in oldest.items() if k != "clusterName"})


def test_check_refuses_a_spec_that_cannot_be_read(server: DynamicServer) -> None:
    spec = registration_inputs()["spec"]
    del spec["images"]
    assert dict(server.check({"spec": spec}))["spec"] == "cannot be read (KeyError: 'images')"


def _bootstrap_server(cluster: FakeKube) -> str | None:
    endpoint = kl.hub_endpoint(cluster.get_object("v1", "Secret", kl.BOOTSTRAP_SECRET, kl.DEFAULT_AGENT_NAMESPACE))
    return endpoint[0] if endpoint else None


def _dialed(cluster: FakeKube) -> str | None:
    secret = cluster.get_object("v1", "Secret", kl.HUB_KUBECONFIG_SECRET, kl.DEFAULT_AGENT_NAMESPACE)
    endpoint = kl.hub_endpoint(secret)
    return endpoint[0] if endpoint else None


def test_a_moved_hub_address_is_applied_and_the_agents_bootstrap_again(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    """The update writes a fresh bootstrap kubeconfig naming the new address; the agents bootstrap again
    (a new CSR, which the update approves) and their hub kubeconfig names it before the update returns."""
    add_vela_cluster(hub, managed, pki)
    moved = hub.url.replace("127.0.0.1", "localhost")
    with FakeAgent(hub, [managed]) as agent:
        id_, outs = server.create(registration_inputs())
        assert _bootstrap_server(managed) == _dialed(managed) == hub.url
        news = registration_inputs(hubApiServer=moved)
        before = server.diff(id_, outs, news)
        assert before.changes == before.DIFF_SOME
        updated = server.update(id_, outs, news)
        after = server.diff(id_, updated, news)
        assert after.changes == after.DIFF_NONE  # the next preview shows no change
    assert agent.errors == []
    assert _bootstrap_server(managed) == _dialed(managed) == moved
    assert updated["status"]["joined"]["status"] == updated["status"]["available"]["status"] == "True"
    csrs = hub.list_objects(*CSR)
    assert sorted(c["metadata"]["name"] for c in csrs) == ["prod-eu-csr", "prod-eu-csr-2"]
    assert all(any(c["type"] == "Approved" for c in csr["status"]["conditions"]) for csr in csrs)
    assert f"the agents bootstrap again, against {moved}" in server.log()


def test_an_update_that_keeps_the_hub_address_leaves_the_agents_alone(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs())
        before = managed.get_object("v1", "Secret", kl.BOOTSTRAP_SECRET, kl.DEFAULT_AGENT_NAMESPACE)
        server.update(id_, outs, registration_inputs(labels={"env": "prod", "tier": "gold"}, hubApiServer=hub.url))
    after = managed.get_object("v1", "Secret", kl.BOOTSTRAP_SECRET, kl.DEFAULT_AGENT_NAMESPACE)
    assert before is not None
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # no new token
    assert len(hub.list_objects(*CSR)) == 1


def test_agents_that_do_not_move_fail_the_update_naming_both_addresses(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    add_vela_cluster(hub, managed, pki)
    moved = hub.url.replace("127.0.0.1", "localhost")
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs(timeout=2))
    with pytest.raises(ProviderError) as caught:  # no agent runs now: nobody bootstraps again
        server.update(id_, outs, registration_inputs(timeout=2, hubApiServer=moved))
    assert f"the agents still dial {hub.url} after 2s, not {moved}" in str(caught.value)
    assert hub.get_object(*MANAGED_CLUSTER, "prod-eu") is not None
