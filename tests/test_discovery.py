"""Vela cluster secrets: every credential type, malformed secrets, and the stack's selection."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from config import RawConfig, load
from ocmhub_testing.cases import ENDPOINT, MALFORMED, set_data, without
from ocmhub_testing.pki import Pki, vela_secret
from providers.discovery import DiscoveryError, VelaSecrets, plan
from providers.vela import VelaSecretError, parse_secret


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def test_x509_secret_parses_and_builds_a_kubeconfig(pki: Pki) -> None:
    cluster = parse_secret(vela_secret("prod-eu", ENDPOINT, pki))
    assert cluster.credential_type == "X509Certificate"
    assert cluster.endpoint == ENDPOINT  # the trailing newline vela writes is gone
    user = cluster.kubeconfig()["users"][0]["user"]
    assert base64.b64decode(user["client-key-data"]) == pki.read("client_key")
    assert "PRIVATE KEY" not in repr(cluster)


def test_token_secret_parses(pki: Pki) -> None:
    cluster = parse_secret(vela_secret("edge", ENDPOINT, pki, "ServiceAccountToken", token="t0ken"))
    assert cluster.kubeconfig()["users"][0]["user"] == {"token": "t0ken"}
    assert "t0ken" not in repr(cluster)


def test_ca_under_the_short_key_is_accepted(pki: Pki) -> None:
    secret = vela_secret("a", ENDPOINT, pki)
    secret["data"]["ca"] = secret["data"].pop("ca.crt")
    assert parse_secret(secret).ca == pki.read("ca_cert")


@pytest.mark.parametrize(("label", "change", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_secret_is_a_clear_error(
    pki: Pki, label: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    secret = copy.deepcopy(vela_secret("broken", ENDPOINT, pki))
    change(secret)
    with pytest.raises(VelaSecretError) as caught:
        parse_secret(secret)
    assert "vela cluster secret vela-system/broken" in str(caught.value)
    assert message in str(caught.value)
    assert "PRIVATE KEY" not in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert "proxy:1080" not in str(caught.value)


@pytest.mark.parametrize(
    "change",
    [without("token"), set_data("token", b"   ")],
    ids=["missing", "blank"],
)
def test_token_secret_without_token_is_an_error(pki: Pki, change: Callable[[dict[str, Any]], None]) -> None:
    secret = vela_secret("edge", ENDPOINT, pki, "ServiceAccountToken")
    change(secret)
    with pytest.raises(VelaSecretError, match=r"data\.token is missing"):
        parse_secret(secret)


def _fleet(pki: Pki) -> list[dict[str, Any]]:
    return [
        vela_secret("prod-eu", "https://prod-eu:6443", pki, labels={"env": "prod"}),
        vela_secret("prod-us", "https://prod-us:6443", pki, "ServiceAccountToken", labels={"env": "prod"}),
        vela_secret("staging-1", "https://staging-1:6443", pki, labels={"env": "staging"}),
        vela_secret("edge.store.42", "https://edge:6443", pki),
    ]


def _plan(registration: dict[str, Any], secrets: list[dict[str, Any]]) -> list[str]:
    return [p.registration.cluster for p in plan(load(RawConfig({"registration": registration})), VelaSecrets(secrets))]


def test_discover_all_valid_names_sorted(pki: Pki) -> None:
    secrets = [s for s in _fleet(pki) if s["metadata"]["name"] != "edge.store.42"]
    assert _plan({"discover": True}, list(reversed(secrets))) == ["prod-eu", "prod-us", "staging-1"]


def test_include_and_exclude_by_name_globs(pki: Pki) -> None:
    assert _plan({"discover": True, "include": ["prod-*"], "exclude": ["*-us"]}, _fleet(pki)) == ["prod-eu"]


def test_name_that_cannot_be_a_namespace_is_an_error_with_a_hint(pki: Pki) -> None:
    with pytest.raises(DiscoveryError) as caught:
        _plan({"discover": True}, _fleet(pki))
    assert "edge.store.42" in str(caught.value)
    assert "set managedClusterName for it" in str(caught.value)


def test_name_override_and_per_cluster_settings(pki: Pki) -> None:
    planned = plan(
        load(
            RawConfig(
                {
                    "registration": {
                        "discover": True,
                        "defaults": {"labels": {"team": "platform"}, "clusterSet": "fleet", "mode": "Default"},
                        "clusters": [
                            {
                                "name": "edge.store.42",
                                "managedClusterName": "edge-42",
                                "mode": "Hosted",
                                "labels": {"tier": "edge"},
                            }
                        ],
                    }
                }
            )
        ),
        VelaSecrets(_fleet(pki)),
    )
    edge = next(p.registration for p in planned if p.registration.cluster == "edge-42")
    assert edge.secret_name == "edge.store.42"
    assert edge.mode == "Hosted"
    assert dict(edge.labels) == {"team": "platform", "tier": "edge"}
    assert edge.cluster_set == "fleet"
    assert edge.endpoint == "https://edge:6443"


def test_explicit_clusters_without_discovery(pki: Pki) -> None:
    assert _plan({"clusters": [{"name": "staging-1"}]}, _fleet(pki)) == ["staging-1"]


def test_explicit_cluster_without_secret_is_an_error(pki: Pki) -> None:
    with pytest.raises(DiscoveryError, match=r"vela-system/ghost .* does not exist"):
        _plan({"clusters": [{"name": "ghost"}]}, _fleet(pki))


def test_two_secrets_for_one_managed_cluster_is_an_error(pki: Pki) -> None:
    with pytest.raises(DiscoveryError, match="both become ManagedCluster 'prod-eu'"):
        _plan(
            {
                "discover": True,
                "exclude": ["edge.*"],
                "clusters": [{"name": "prod-us", "managedClusterName": "prod-eu"}],
            },
            _fleet(pki),
        )


def test_eks_arn_names_are_rejected(pki: Pki) -> None:
    arn = "arn-aws-eks-eu-west-1-123456789012-cluster-a-very-long-production-cluster-name"
    with pytest.raises(DiscoveryError, match="at most 63"):
        _plan({"discover": True}, [vela_secret(arn, ENDPOINT, pki)])


def test_every_bad_secret_is_reported_at_once(pki: Pki) -> None:
    bad = vela_secret("dyn", ENDPOINT, pki, "Dynamic")
    with pytest.raises(DiscoveryError) as caught:
        _plan({"discover": True}, [*_fleet(pki), bad])
    assert len(caught.value.problems) == 2


def test_offline_plan_uses_only_the_config(pki: Pki) -> None:
    planned = plan(load(RawConfig({"registration": {"discover": True, "clusters": [{"name": "a"}]}})), None)
    assert [p.registration.cluster for p in planned] == ["a"]


def test_bad_registration_config_is_rejected() -> None:
    from config import ConfigError

    bad = [
        (
            {"clusters": [{"name": "a", "managedClusterName": "Not_A_Label"}]},
            "registration.clusters[0].managedClusterName",
        ),
        ({"selector": "env in prod"}, "registration.selector"),
        ({"include": ["UPPER"]}, "registration.include[0]"),
        ({"hubApiServer": "http://hub:6443"}, "registration.hubApiServer"),
        ({"defaults": {"mode": "Singleton"}}, "registration.defaults.mode"),
        ({"joinTimeout": "forever"}, "registration.joinTimeout"),
    ]
    for registration, path in bad:
        with pytest.raises(ConfigError) as caught:
            load(RawConfig({"registration": registration}))
        assert f"ocm-hub:{path}:" in str(caught.value)
