"""Bad inputs ocm-hub must reject, with the message fragment each rejection must carry.

Shared by the tests (each case is a test) and `make faults` (the reliability report counts them).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from config.addons import CHARTS
from providers.vela import ENDPOINT_TYPE_LABEL

ENDPOINT = "https://10.0.0.1:6443"
ALL_ON = {key: {"enabled": True} for key in CHARTS}
GOOD_IMAGE = "registry.example.com/ocm/registration:v1.3.1"

# (config under `ocm-hub:`, the key path the message must name, a fragment of what is allowed)
BAD_CONFIGS: list[tuple[dict[str, Any], str, str]] = [
    ({"ocmVersoin": "v1.3.1"}, "ocm-hub:ocmVersoin", "allowed here: addons, allowTeardown"),
    ({"ocmVersion": "v9.9.9"}, "ocm-hub:ocmVersion", "supported: v1.2.1, v1.3.1"),
    ({"ocmVersion": ["v1.3.1"]}, "ocm-hub:ocmVersion", "valid string"),
    ({"images": {"registry": "quay.io/ocm/"}}, "ocm-hub:images.registry", "no tag or trailing '/'"),
    ({"images": {"registry": "quay.io/ocm:v1"}}, "ocm-hub:images.registry", "no tag"),
    ({"images": {"tag": "v1.3.1 beta"}}, "ocm-hub:images.tag", "image tag"),
    ({"images": {"pullPolicy": "Sometimes"}}, "ocm-hub:images.pullPolicy", "'Always', 'IfNotPresent' or 'Never'"),
    (
        {"images": {"overrides": {"work": "quay.io/ocm/work"}}},
        "ocm-hub:images.overrides.work",
        "explicit tag or digest",
    ),
    ({"images": {"overrides": {"worker": GOOD_IMAGE}}}, "ocm-hub:images.overrides.worker", "addOnManager"),
    ({"images": {"overrides": {"placement": "UPPER/case:v1"}}}, "ocm-hub:images.overrides.placement", "explicit tag"),
    ({"imagePullSecrets": ["Bad_Name"]}, "ocm-hub:imagePullSecrets[0]", "DNS-1123 subdomain"),
    ({"imagePullSecrets": ["a", "a"]}, "ocm-hub:imagePullSecrets[1]", "listed twice"),
    ({"imagePullSecrets": "regcred"}, "ocm-hub:imagePullSecrets", "valid list"),
    ({"operator": {"replicas": 0}}, "ocm-hub:operator.replicas", "greater than or equal to 1"),
    ({"operator": {"replicas": "three"}}, "ocm-hub:operator.replicas", "valid integer"),
    (
        {"operator": {"resources": {"requests": {"cpu": "2 cores"}}}},
        "ocm-hub:operator.resources.requests.cpu",
        "quantity",
    ),
    ({"operator": {"resources": {"requests": {"gpu": "1"}}}}, "ocm-hub:operator.resources.requests.gpu", "'cpu'"),
    (
        {"operator": {"resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}}},
        "ocm-hub:operator.resources.requests.memory",
        "must not exceed its limit 512Mi",
    ),
    ({"operator": {"nodeSelector": {"bad key!": "x"}}}, "ocm-hub:operator.nodeSelector.bad key!", "label key"),
    ({"operator": {"nodeSelector": {"zone": "a b"}}}, "ocm-hub:operator.nodeSelector.zone", "label value"),
    (
        {"operator": {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}},
        "ocm-hub:operator.tolerations[0].value",
        "must be empty when operator is Exists",
    ),
    (
        {"operator": {"tolerations": [{"operator": "Equal", "value": "v"}]}},
        "ocm-hub:operator.tolerations[0].key",
        "required when operator is Equal",
    ),
    (
        {"operator": {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]}},
        "ocm-hub:operator.tolerations[0].tolerationSeconds",
        "only allowed with effect NoExecute",
    ),
    (
        {"operator": {"tolerations": [{"key": "k", "effect": "Never"}]}},
        "ocm-hub:operator.tolerations[0].effect",
        "NoExecute",
    ),
    ({"operator": {"replica": 1}}, "ocm-hub:operator.replica", "enableSyncLabels, nodeSelector, replicas"),
    (
        {"clusterManager": {"registration": {"featureGates": {"AutoApprove": "Enable"}}}},
        "ocm-hub:clusterManager.registration.featureGates.AutoApprove",
        "ManagedClusterAutoApproval",
    ),
    (
        {"clusterManager": {"registration": {"featureGates": {"DefaultClusterSet": "true"}}}},
        "ocm-hub:clusterManager.registration.featureGates.DefaultClusterSet",
        "'Enable' or 'Disable'",
    ),
    (
        {"clusterManager": {"work": {"featureGates": {"DefaultClusterSet": "Enable"}}}},
        "ocm-hub:clusterManager.work.featureGates.DefaultClusterSet",
        "ManifestWorkReplicaSet",
    ),
    (
        {"clusterManager": {"addOnManager": {"featureGates": {"AddonManagment": "Disable"}}}},
        "ocm-hub:clusterManager.addOnManager.featureGates.AddonManagment",
        "AddonManagement",
    ),
    (
        {"clusterManager": {"placement": {"featureGates": {"Debug": "Enable"}}}},
        "ocm-hub:clusterManager.placement.featureGates.Debug",
        "PlacementDebugServer",
    ),
    (
        {"ocmVersion": "v1.2.1", "clusterManager": {"placement": {"featureGates": {"PlacementDebugServer": "Enable"}}}},
        "ocm-hub:clusterManager.placement.featureGates.PlacementDebugServer",
        "set ocmVersion: v1.3.1; on a hub that runs v1.2.1, in two changes: ocmVersion first (pulumi up), then the gate",
    ),
    (
        {"clusterManager": {"registration": {"autoApproveUsers": ["system:serviceaccount:a:b"]}}},
        "ocm-hub:clusterManager.registration.autoApproveUsers",
        "ManagedClusterAutoApproval is Enable",
    ),
    (
        {"clusterManager": {"registration": {"autoApproveUsers": [""]}}},
        "ocm-hub:clusterManager.registration.autoApproveUsers[0]",
        "at least 1 character",
    ),
    ({"clusterManager": {"deployMode": "Hosted"}}, "ocm-hub:clusterManager.deployMode", "allowed: Default"),
    ({"clusterManager": {"deployMode": "Singleton"}}, "ocm-hub:clusterManager.deployMode", "'Default' or 'Hosted'"),
    (
        {"clusterManager": {"resourceRequirement": {"type": "ResourceRequirement"}}},
        "ocm-hub:clusterManager.resourceRequirement.resourceRequirements",
        "required when type is ResourceRequirement",
    ),
    (
        {"clusterManager": {"resourceRequirement": {"resourceRequirements": {"requests": {"cpu": "1"}}}}},
        "ocm-hub:clusterManager.resourceRequirement.resourceRequirements",
        "only used when type is ResourceRequirement",
    ),
    (
        {"clusterManager": {"nodePlacement": {"tolerations": [{"key": "a", "operator": "Exists", "value": "b"}]}}},
        "ocm-hub:clusterManager.nodePlacement.tolerations[0].value",
        "must be empty",
    ),
    (
        {"clusterManager": {"registrationConfiguration": {}}},
        "ocm-hub:clusterManager.registrationConfiguration",
        "registration",
    ),
    ({"readinessTimeout": "ten minutes"}, "ocm-hub:readinessTimeout", "duration such as 90s"),
    ({"readinessTimeout": "5s"}, "ocm-hub:readinessTimeout", "between 30s and 6h"),
    ({"readinessTimeout": "12h"}, "ocm-hub:readinessTimeout", "between 30s and 6h"),
    ({"allowTeardown": "maybe"}, "ocm-hub:allowTeardown", "valid boolean"),
]


BAD_ADDONS: list[tuple[dict[str, Any], str, str]] = [
    ({"clusterProxy": {"values": {"replica": 2}}}, "addons.clusterProxy.values.replica", "known: cluster-proxy-common"),
    (
        {"managedServiceAccount": {"values": {"images": "x"}}},
        "addons.managedServiceAccount.values.images",
        "agentInstallAll",
    ),
    (
        {"clusterGateway": {"values": {"secretNamespace": "x"}}},
        "addons.clusterGateway.values.secretNamespace",
        "clusterGateway",
    ),
    ({"clusterProxy": {"values": ["replicas"]}}, "addons.clusterProxy.values", "valid dictionary"),
    ({"clusterProxy": {"version": "latest"}}, "addons.clusterProxy.version", "chart version such as 0.11.0"),
    ({"clusterProxy": {"repository": "ftp://charts"}}, "addons.clusterProxy.repository", "https:// or oci://"),
    ({"repository": "charts.example.com"}, "addons.repository", "https:// or oci://"),
    ({"repository": "http://charts.example.com"}, "addons.repository", "https:// or oci://"),
    ({"repository": "http://10.0.0.1:8080"}, "addons.repository", "https:// or oci://"),
    ({"repository": "https://charts.example.com:70000"}, "addons.repository", "port"),
    ({"repository": "https://charts.example.com/x?token=1"}, "addons.repository", "no query"),
    ({"repository": "https://u:hunter2@charts.example.com"}, "addons.repository", "not shown"),
    ({"clusterProxy": {"timeout": "forever"}}, "addons.clusterProxy.timeout", "duration"),
    ({"clusterProxy": {"enabled": "sometimes"}}, "addons.clusterProxy.enabled", "valid boolean"),
    ({"clusterGatewayAddonManager": {"enabled": True}}, "addons.clusterGatewayAddonManager", "clusterGateway"),
    (
        {**ALL_ON, "clusterGateway": {"enabled": True, "values": {"clusterGateway": {"secretNamespace": "ocm-creds"}}}},
        "addons.clusterGateway.values.clusterGateway.secretNamespace",
        "hides every cluster vela joins",
    ),
    (
        {**ALL_ON, "clusterGateway": {"enabled": True, "values": {"manualSecretManagement": False}}},
        "addons.clusterGateway.values.manualSecretManagement",
        "overwrite vela's cluster secrets",
    ),
]


def without(key: str) -> Callable[[dict[str, Any]], None]:
    """Drops data.<key> from a vela Secret."""
    return lambda s: s["data"].pop(key)


def set_data(key: str, value: bytes) -> Callable[[dict[str, Any]], None]:
    """Sets data.<key> of a vela Secret."""
    return lambda s: s["data"].__setitem__(key, base64.b64encode(value).decode())


def _set_label(value: str | None) -> Callable[[dict[str, Any]], None]:
    def change(secret: dict[str, Any]) -> None:
        labels = secret["metadata"]["labels"]
        if value is None:
            labels.pop("cluster.core.oam.dev/cluster-credential-type")
        else:
            labels["cluster.core.oam.dev/cluster-credential-type"] = value

    return change


def _set_label_key(key: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(secret: dict[str, Any]) -> None:
        secret["metadata"]["labels"][key] = value
        secret["data"].pop("endpoint")

    return change


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no type label", _set_label(None), "has no cluster.core.oam.dev/cluster-credential-type label"),
    ("dynamic exec credential", _set_label("Dynamic"), "Dynamic (an exec plugin) is not supported"),
    ("unknown type", _set_label("Kerberos"), "unknown credential type 'Kerberos'"),
    ("no endpoint", without("endpoint"), "data.endpoint is missing"),
    ("empty endpoint", set_data("endpoint", b"\n"), "data.endpoint is missing"),
    ("http endpoint", set_data("endpoint", b"http://10.0.0.1:6443"), "must be an https:// URL"),
    ("endpoint not a URL", set_data("endpoint", b"my cluster"), "must be an https:// URL"),
    ("endpoint port out of range", set_data("endpoint", b"https://10.0.0.1:99999"), "port"),
    ("endpoint with a password", set_data("endpoint", b"https://admin:hunter2@10.0.0.1"), "is not shown here"),
    ("no CA (vela's insecure cluster)", without("ca.crt"), "how vela records an insecure cluster"),
    ("proxy-url not http(s)", set_data("proxy-url", b"socks5://proxy:1080"), "http:// or https:// proxy URL"),
    (
        "reached through cluster-proxy",
        _set_label_key(ENDPOINT_TYPE_LABEL, "ClusterProxy"),
        "through OCM's cluster-proxy",
    ),
    ("CA not PEM", set_data("ca.crt", b"not a certificate"), "data.ca.crt is not a PEM certificate"),
    ("no client cert", without("tls.crt"), "data.tls.crt is missing"),
    ("no client key", without("tls.key"), "data.tls.key is missing"),
    ("client key not PEM", set_data("tls.key", b"garbage"), "data.tls.key is not PEM"),
    (
        "data not base64",
        lambda s: s["data"].__setitem__("endpoint", "%%%not-base64%%%"),
        "data.endpoint is not valid base64",
    ),
]
