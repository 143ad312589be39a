"""Bad inputs of issue 16's kinds, as data: tests/test_inputs.py asserts each is refused clearly, and
`make faults` (bench/faults_rejects.py) counts and times them."""

from __future__ import annotations

from typing import Any

from config import safe_yaml

CIPHERTEXT = "v1:SENTINELciphertextAAAAxyz=="

# A 300-byte stack file that expands to 9^8 list items.
BILLION_LAUGHS = "config:\n  ocm-hub:operator:\n    l0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"    l{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
)
HOSTILE_YAML = {
    "billion laughs": BILLION_LAUGHS,
    "alias cycle": "config:\n  ocm-hub:operator: &a {x: *a}\n",
    "deep nesting": "config:\n  ocm-hub:operator: " + "[" * 5000 + "]" * 5000 + "\n",
    "deep through aliases": "config:\n  a: &a "
    + "[" * 60
    + "1"
    + "]" * 60
    + "\n  b: "
    + "[" * 60
    + "*a"
    + "]" * 60
    + "\n",
    "too many nodes": "config:\n  ocm-hub:imagePullSecrets:\n" + "  - a\n" * 150_000,
    "too large": "config:\n  ocm-hub:ocmVersion: " + "x" * (safe_yaml.MAX_BYTES + 1) + "\n",
}


# Issue 16's kinds, as (config under `ocm-hub:`, key path the message names, fragment it carries);
# bench/faults_rejects.py counts them in `make faults` too.
STRICT_TYPES: list[tuple[dict[str, Any], str, str]] = [
    ({"allowTeardown": "yes"}, "allowTeardown", "valid boolean"),
    ({"allowTeardown": 1}, "allowTeardown", "valid boolean"),
    ({"operator": {"replicas": True}}, "operator.replicas", "valid integer"),
    ({"operator": {"replicas": 2.5}}, "operator.replicas", "valid integer"),
    ({"operator": {"enableSyncLabels": "on"}}, "operator.enableSyncLabels", "valid boolean"),
    ({"addons": {"clusterProxy": {"enabled": "yes"}}}, "addons.clusterProxy.enabled", "valid boolean"),
    ({"registration": {"discover": 1}}, "registration.discover", "valid boolean"),
    ({"registration": {"waitForAddons": "no"}}, "registration.waitForAddons", "valid boolean"),
    (
        {"operator": {"tolerations": [{"key": "k", "effect": "NoExecute", "tolerationSeconds": "5"}]}},
        "operator.tolerations[0].tolerationSeconds",
        "valid integer",
    ),
    ({"operator": {"resources": {"requests": {"cpu": True}}}}, "operator.resources.requests.cpu", "valid string"),
    (
        {"operator": {"resources": {"requests": {"cpu": 2}, "limits": {"cpu": 0.5}}}},
        "operator.resources.requests.cpu",
        "must not exceed its limit 0.5",
    ),
]
REGISTRATION_RULES: list[tuple[dict[str, Any], str, str]] = [
    ({"clusters": [{"name": "a"}, {"name": "a"}]}, "clusters[1].name", "listed twice (also registration.clusters[0])"),
    (
        {"clusters": [{"name": "a", "managedClusterName": "c"}, {"name": "b", "managedClusterName": "c"}]},
        "clusters[1].managedClusterName",
        "makes ManagedCluster 'c', as registration.clusters[0] does",
    ),
    (
        {"clusters": [{"name": "a"}, {"name": "b", "managedClusterName": "a"}]},
        "clusters[1].managedClusterName",
        "makes ManagedCluster 'a'",
    ),
    ({"clusters": [{"name": "prod.eu"}]}, "clusters[0].name", "set managedClusterName"),
    ({"clusters": [{"name": "x" * 70}]}, "clusters[0].name", "at most 63"),
    ({"clusters": [{"name": "a" * 60, "mode": "Hosted"}]}, "clusters[0].name", "too long for mode Hosted"),
    ({"include": ["prod-*"], "clusters": [{"name": "a"}]}, "include", "unless registration.discover is true"),
    ({"selector": "env=prod"}, "selector", "unless registration.discover is true"),
    ({"exclude": ["a"]}, "exclude", "unless registration.discover is true"),
]
SELECTORS_REJECTED = [
    "env in (prod staging)",
    "env in prod",
    "env=prod,,tier",
    "bad key!=x",
    "Example.com/env=x",
    "env==a=b",
    "!env=x",
    "env>x",
    "env=a b",
    "env in (a",
    "-env",
    "env=" + "v" * 64,
    "a/b/c=x",
]
SELECTORS_ACCEPTED = [
    "",
    "env",
    "!env",
    "env=prod",
    "env==prod",
    "env!=prod",
    "env in (prod,staging)",
    "env notin (a, b)",
    "env in ()",
    "env in (a,)",
    "env=",
    "tier>3",
    "example.com/env=prod,!legacy",
    "in=notin",
    " env = prod , tier in ( a , b ) ",
]
URLS: list[tuple[dict[str, Any], str, str]] = [
    ({"registration": {"hubApiServer": "https://:6443"}}, "registration.hubApiServer", "has no host"),
    ({"registration": {"hubApiServer": "https://hub:70000"}}, "registration.hubApiServer", "port"),
    ({"registration": {"hubApiServer": "https://hub:6443abc"}}, "registration.hubApiServer", "port"),
    ({"registration": {"hubApiServer": "https://hub:6443/ x"}}, "registration.hubApiServer", "without spaces"),
    ({"registration": {"hubApiServer": "https://hub:6443?x=1"}}, "registration.hubApiServer", "no query"),
    ({"registration": {"hubApiServer": "https://hub:6443#top"}}, "registration.hubApiServer", "no query"),
    ({"registration": {"hubApiServer": "https://bad host!:6443"}}, "registration.hubApiServer", "without spaces"),
    ({"registration": {"hubApiServer": "https://bad_host!:6443"}}, "registration.hubApiServer", "neither a DNS name"),
    ({"registration": {"hubApiServer": "https://admin:hunter2@hub:6443"}}, "registration.hubApiServer", "not shown"),
    ({"addons": {"repository": "http://charts.example.com/ocm"}}, "addons.repository", "https:// or oci://"),
]
ALL_BAD = [
    *STRICT_TYPES,
    *[({"registration": v}, f"registration.{p}", a) for v, p, a in REGISTRATION_RULES],
    *[
        (
            {"registration": {"discover": True, "selector": s}},
            "registration.selector",
            "not a Kubernetes label selector",
        )
        for s in SELECTORS_REJECTED
    ],
    *URLS,
]
