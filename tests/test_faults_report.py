"""`make faults` counts honestly: each of its checks fails when it should, so a clean report means something."""

from __future__ import annotations

import json
from pathlib import Path

from bench.faults import build, count, one_line, table
from bench.faults_api import OPS, ApiRun, FaultResult, Kind, Scenario, created, deleted, harness, scenarios, updated
from bench.faults_leaks import needles, redact, scan
from bench.faults_rejects import (
    AREAS,
    ConfigCase,
    SecretCase,
    check_config,
    check_discovery,
    check_secret,
    config_cases,
    distinct,
    secret_cases,
)
from ocmhub_testing.cases import ENDPOINT
from ocmhub_testing.fake_agent import MANAGED_CLUSTER
from ocmhub_testing.fakekube import FakeKube
from ocmhub_testing.pki import Pki, vela_secret
from ocmhub_testing.registrations import TOKEN


def test_an_accepted_config_counts_as_not_rejected() -> None:
    result = check_config(ConfigCase("hub", {"ocmVersion": "v1.3.1"}, "ocmVersion", "supported"))
    assert not result.rejected
    assert "accepted" in result.problem
    assert count([result]).items() >= {"tried": 1, "rejected": 0, "clear": 0}.items()


def test_a_message_without_the_key_or_the_allowed_values_is_not_clear() -> None:
    clear = check_config(ConfigCase("hub", {"ocmVersion": "v9.9.9"}, "ocmVersion", "supported: v1.2.1, v1.3.1"))
    vague = check_config(ConfigCase("hub", {"ocmVersion": "v9.9.9"}, "ocmVersion", "a hint it never gives"))
    elsewhere = check_config(ConfigCase("hub", {"ocmVersion": "v9.9.9"}, "images.tag", "supported: v1.3.1"))
    assert clear.problem == ""
    assert vague.rejected
    assert "not clear" in vague.problem
    assert not elsewhere.clear
    assert count([clear, vague, elsewhere]).items() >= {"tried": 3, "rejected": 3, "clear": 1}.items()


def test_the_config_cases_are_distinct_and_cover_every_area() -> None:
    cases = config_cases()
    assert {case.area for case in cases} == set(AREAS)
    assert distinct(cases) == len(cases) >= 40


def test_a_usable_secret_counts_as_not_rejected(pki: Pki) -> None:
    usable = SecretCase("usable", "unchanged", lambda _: None, "anything")
    assert not check_secret(usable, pki).rejected
    results, error = check_discovery([usable], pki)
    assert not results[0].rejected
    assert error == ""


def test_discovery_must_name_each_malformed_secret(pki: Pki) -> None:
    cases = secret_cases()[:3]
    results, error = check_discovery(cases, pki)
    assert all(r.rejected and r.clear for r in results)
    assert all(f"vela-system/{case.name}:" in error for case in cases)


def test_the_scanner_finds_a_leaked_key_line_and_token_and_redacts_them(pki: Pki) -> None:
    strings = needles(pki, {"vela token": TOKEN})
    key_line = pki.read("client_key").decode().splitlines()[5]
    artifacts = {
        "logs: provider": f"error near {key_line}",
        "outputs: secret": json.dumps(vela_secret("c", ENDPOINT, pki, "ServiceAccountToken", token=TOKEN)),
        "outputs: clean": "ca.crt is public and fine: " + pki.read("ca_cert").decode(),
    }
    found = {(leak.artifact, leak.needle) for leak in scan(artifacts, strings)}
    assert ("logs: provider", "client_key PEM line 6") in found
    assert ("outputs: secret", "vela token base64") in found
    assert not any(artifact == "outputs: clean" for artifact, _ in found)
    shown = redact(f"token={TOKEN} {key_line}", strings)
    assert TOKEN not in shown
    assert key_line not in shown


def test_end_states_fail_on_clusters_the_operation_did_not_change() -> None:
    with FakeKube() as hub, FakeKube() as managed:
        assert "no ManagedCluster on the hub" in created(hub, managed, "c", {})
        assert "the outputs do not show the new labels" in updated(hub, managed, "c", {"spec": {"labels": {}}})
        assert deleted(hub, managed, "c", {}) == []
        hub.put_object({"apiVersion": MANAGED_CLUSTER[0], "kind": MANAGED_CLUSTER[1], "metadata": {"name": "c"}})
        assert deleted(hub, managed, "c", {}) == ["ManagedCluster on the hub is still there"]


def test_every_operation_meets_every_fault_on_its_own_cluster() -> None:
    planned = scenarios()
    assert {s.op for s in planned} == set(OPS)
    assert len({s.cluster for s in planned}) == len(planned)
    assert {s.credential for s in planned} == {"X509Certificate", "ServiceAccountToken"}


def test_a_fault_the_operation_never_meets_counts_as_not_survived(pki: Pki, tmp_path: Path) -> None:
    never = Kind("never", "500 nobody sees", {"status": 500})
    scenario = Scenario("create", never, "hub", "DELETE", "/secrets/{cluster}$", "X509Certificate")
    with harness(pki, tmp_path) as rig:
        result = rig.run(scenario)
    assert result.fired == 0
    assert not result.survived
    assert result.problems == ("the fault never fired: create made no hub DELETE /secrets/create-never",)


def test_failures_and_leaks_fail_the_report(pki: Pki) -> None:
    strings = needles(pki, {"vela token": TOKEN})
    boom = 'Delete: Traceback (most recent call last):\n  File "x.py"\nKubeError: DELETE /x: 409 Conflict'
    run = ApiRun(
        [
            FaultResult("create", "429", "hub PATCH /a", 1, (), 0.5, "{}", ""),
            FaultResult("delete", "409", "managed DELETE /b", 1, (f"delete failed: {boom}",), 0.1, "{}", boom),
        ],
        log="",
        tokens={},
        fake_errors=[],
    )
    secret = vela_secret("c", ENDPOINT, pki, token=TOKEN)
    leaked = {"logs: provider stderr": f"key {secret['data']['tls.key']}"}
    report = build([], [], [], run, leaked, {"vela secrets": json.dumps(secret)}, {}, strings, 1.0)
    assert not report["ok"]
    assert report["faults"]["survived"]["all"] == {"tried": 2, "survived": 1}
    assert report["leaks"]["found"] == [{"artifact": "logs: provider stderr", "needle": "client_key base64"}]
    assert report["leaks"]["control_missed"] == ["vela token base64"]  # an X509 secret carries no token
    assert (
        "delete / 409 (managed DELETE /b): delete failed: Delete: KubeError: DELETE /x: 409 Conflict"
        in (report["failures"])
    )
    assert secret["data"]["tls.key"] not in table(report) + json.dumps(report)
    assert one_line("a\n  b") == "a b"
