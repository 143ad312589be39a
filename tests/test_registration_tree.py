"""Registrations in the tree under mocks: order, fleet safety on destroy, no credentials, 1000+ scale."""

from __future__ import annotations

import pickle
from typing import Any

import pulumi
import pytest

from components import OcmHub
from config import RawConfig, load
from ocmhub_testing.pki import Pki, vela_fleet
from providers.managed_cluster import ManagedClusterProvider, ManagedClusterRegistration
from render import recording

REGISTRATION = "pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration"
CR = "kubernetes:operator.open-cluster-management.io/v1:ClusterManager"
READINESS = "pulumi-python:dynamic/ocm-hub:HubReadiness"


def _run(values: dict[str, Any], secrets: list[dict[str, Any]]) -> recording.Recording:
    def program() -> None:
        hub = OcmHub("ocm-hub", load(RawConfig(values)).args(), vela_secrets=secrets)
        pulumi.export("clusters", hub.clusters)

    return recording.run(program)


def test_each_cluster_is_registered_after_the_hub(pki: Pki) -> None:
    rec = _run({"registration": {"discover": True}}, vela_fleet(pki, 3))
    (readiness,) = rec.of_type(READINESS)
    (role,) = [r for r in rec.resources if r.name == "ocm-hub-registration-bootstrap-role"]
    registrations = rec.of_type(REGISTRATION)
    assert sorted(r.name for r in registrations) == [
        "ocm-hub-cluster-cluster-0000",
        "ocm-hub-cluster-cluster-0001",
        "ocm-hub-cluster-cluster-0002",
    ]
    for reg in registrations:
        assert readiness.urn in reg.dependencies
        assert role.urn in reg.dependencies
        assert reg.parent.endswith("ocm-hub:index:FleetRegistration::ocm-hub-registration")


def test_registrations_survive_destroy_unless_teardown(pki: Pki) -> None:
    kept = _run({"registration": {"discover": True}}, vela_fleet(pki, 2))
    (cr,) = kept.of_type(CR)
    assert all(r.deleted_with == cr.urn for r in kept.of_type(REGISTRATION))
    torn = _run({"allowTeardown": True, "registration": {"discover": True}}, vela_fleet(pki, 2))
    assert all(r.deleted_with == "" for r in torn.of_type(REGISTRATION))


def test_inputs_hold_a_reference_never_the_credentials(pki: Pki) -> None:
    secrets = vela_fleet(pki, 4)
    rec = _run({"registration": {"discover": True}}, secrets)
    text = repr([r.inputs for r in rec.resources]) + repr(rec.outputs)
    for needle in (pki.read("client_key"), pki.read("client_cert"), b"vela-test-token-0123456789"):
        assert needle.decode() not in text
    (first,) = [r for r in rec.of_type(REGISTRATION) if r.name.endswith("0000")]
    assert first.inputs["spec"]["secretNamespace"] == "vela-system"
    assert first.inputs["spec"]["secretName"] == "cluster-0000"


def test_adopting_an_existing_registration_imports_it(pki: Pki) -> None:
    rec = _run({"registration": {"clusters": [{"name": "cluster-0001", "import": True}]}}, vela_fleet(pki, 2))
    (only,) = rec.of_type(REGISTRATION)
    assert only.import_id == "cluster-0001"


def test_no_registration_without_config(pki: Pki) -> None:
    rec = _run({}, vela_fleet(pki, 2))
    assert not rec.of_type(REGISTRATION)
    assert rec.outputs["clusters"] == {}


class _BareProvider(pulumi.dynamic.ResourceProvider):
    pass


class _Bare(pulumi.dynamic.Resource, module="test", name="Bare"):
    pass


def test_sdk_still_leaks_pickler_wrappers() -> None:
    """Why the workaround exists: the SDK's own dynamic Resource leaves a wrapper per construction.
    If this fails after an SDK upgrade, the defect is fixed upstream and the workaround can go."""

    def program() -> None:
        before = pickle._Pickler.__dict__["_batch_setitems"]
        _Bare(_BareProvider(), "bare", {})
        assert pickle._Pickler.__dict__["_batch_setitems"] is not before

    recording.run(program)


@pytest.mark.timeout(300)
def test_well_over_300_registrations_in_one_program(pki: Pki) -> None:
    """The SDK as shipped raises RecursionError past ~300 dynamic resources; ours must not."""
    count = 1200
    seen: list[object] = []

    def program() -> None:
        hub = OcmHub("ocm-hub", {"registration": {"discover": True}}, vela_secrets=vela_fleet(pki, count))
        seen.append(pickle._Pickler.__dict__["_batch_setitems"])
        assert hub.registration is not None
        assert len(hub.registration.clusters) == count

    before = pickle._Pickler.__dict__["_batch_setitems"]
    rec = recording.run(program)
    assert len(rec.of_type(REGISTRATION)) == count
    assert seen == [before]
    assert isinstance(ManagedClusterRegistration, type)


def test_an_ocm_upgrade_keeps_every_resource_and_updates_registrations_in_place(pki: Pki) -> None:
    """v1.2.1 -> v1.3.1: the same resources with the same object names (so pulumi-kubernetes updates, never
    replaces, the CRD, the ClusterManager and the namespace), and each registration's provider diff is an
    update that carries the new release to its klusterlet."""
    secrets = vela_fleet(pki, 2)
    old, new = (_run({"ocmVersion": v, "registration": {"discover": True}}, secrets) for v in ("v1.2.1", "v1.3.1"))

    def identities(rec: recording.Recording) -> dict[str, Any]:
        return {r.urn: ((r.inputs.get("metadata") or {}).get("name"), r.retain_on_delete) for r in rec.resources}

    assert identities(old) == identities(new)
    provider = ManagedClusterProvider()
    olds = {r.name: r for r in old.of_type(REGISTRATION)}
    assert len(olds) == 2
    for after in new.of_type(REGISTRATION):
        before = olds[after.name]
        assert (before.inputs["spec"]["ocmVersion"], after.inputs["spec"]["ocmVersion"]) == ("v1.2.1", "v1.3.1")
        assert after.inputs["spec"]["images"]["operator"].endswith("registration-operator:v1.3.1")
        diff = provider.diff(before.name, dict(before.inputs), dict(after.inputs))
        assert diff.changes
        assert not diff.replaces


@pytest.mark.parametrize(
    ("change", "updates"),
    [
        ({"joinTimeout": "6m"}, 0),
        ({"addonTimeout": "15m", "waitForAddons": False, "maxConcurrentJoins": 64}, 0),
        ({"hubApiServer": "https://hub.example:6443"}, 100),
    ],
)
def test_what_a_registration_setting_changes_across_a_fleet(pki: Pki, change: dict[str, Any], updates: int) -> None:
    """A 100-cluster fleet: raising joinTimeout from 5m to 6m (or any setting) is an update of none of its
    registrations; a moved hub address is an update of each."""
    secrets = vela_fleet(pki, 100)
    old, new = (
        _run({"registration": {"discover": True, "joinTimeout": "5m", **extra}}, secrets) for extra in ({}, change)
    )
    provider = ManagedClusterProvider()
    olds = {r.name: r for r in old.of_type(REGISTRATION)}
    diffs = [provider.diff(r.name, dict(olds[r.name].inputs), dict(r.inputs)) for r in new.of_type(REGISTRATION)]
    assert len(diffs) == 100
    assert sum(bool(d.changes) for d in diffs) == updates
    assert not any(d.replaces for d in diffs)
