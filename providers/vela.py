"""KubeVela's cluster Secrets: what they hold, whether they are usable, and a kubeconfig built from them.

Format (oam-dev/cluster-gateway pkg/apis/cluster/v1alpha1/clustergateway_types_secret.go): label
`cluster.core.oam.dev/cluster-credential-type` = X509Certificate (data tls.crt, tls.key),
ServiceAccountToken (data token) or Dynamic (an exec config); data `endpoint` (may end in a
newline) and `ca.crt` or `ca`. Credentials stay in memory; nothing here logs or returns them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from config.names import CREDENTIAL_TYPE_LABEL, cluster_name_problem
from config.urls import CREDENTIALS, url_problem

SUPPORTED_TYPES = ("X509Certificate", "ServiceAccountToken")
VELA_PREFIX = "cluster.core.oam.dev"  # vela's own labels and annotations; the rest are the user's
ENDPOINT_TYPE_LABEL = "cluster.core.oam.dev/cluster-endpoint-type"
ALIAS_ANNOTATION = "cluster.core.oam.dev/cluster-alias"
PROXY_SCHEMES = ("http", "https")  # client-go also takes socks5; the Python client cannot
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")
_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]+ )?PRIVATE KEY-----[A-Za-z0-9+/=\s]+-----END ([A-Z ]+ )?PRIVATE KEY-----")


class VelaSecretError(ValueError):
    """A vela cluster Secret ocm-hub cannot use; the message names the secret and never its data."""


@dataclass(frozen=True)
class VelaCluster:
    """A usable vela cluster. `repr` shows no credential."""

    secret_namespace: str
    secret_name: str
    credential_type: Literal["X509Certificate", "ServiceAccountToken"]
    endpoint: str
    ca: bytes
    labels: dict[str, str]
    alias: str = ""
    insecure: bool = False  # no CA: vela skips TLS verification, and so does this kubeconfig
    _proxy_url: str = field(default="", repr=False)  # may carry proxy credentials
    _cert: bytes = field(default=b"", repr=False)
    _key: bytes = field(default=b"", repr=False)
    _token: str = field(default="", repr=False)

    def kubeconfig(self) -> dict[str, Any]:
        """A kubeconfig for this cluster (it holds the credentials: keep it in memory or a Secret)."""
        user: dict[str, str]
        if self.credential_type == "X509Certificate":
            user = {
                "client-certificate-data": base64.b64encode(self._cert).decode(),
                "client-key-data": base64.b64encode(self._key).decode(),
            }
        else:
            user = {"token": self._token}
        cluster: dict[str, Any] = {"server": self.endpoint}
        if self.insecure:
            cluster["insecure-skip-tls-verify"] = True
        else:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca).decode()
        if self._proxy_url:
            cluster["proxy-url"] = self._proxy_url  # vela reaches the cluster through it: so do we
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": self.secret_name, "cluster": cluster}],
            "users": [{"name": self.secret_name, "user": user}],
            "contexts": [
                {"name": self.secret_name, "context": {"cluster": self.secret_name, "user": self.secret_name}}
            ],
            "current-context": self.secret_name,
        }

    def secret_bytes(self) -> list[bytes]:
        """Every credential byte string, for leak checks."""
        return [value for value in (self._cert, self._key, self._token.encode()) if value]

    def user_labels(self) -> dict[str, str]:
        """The labels vela's topology policies select on (vela strips its own prefix the same way)."""
        return {key: value for key, value in self.labels.items() if not key.startswith(VELA_PREFIX)}


def parse_secret(secret: dict[str, Any], *, allow_insecure: bool = False) -> VelaCluster:
    """A vela cluster from its Secret (as the API returns it), or VelaSecretError saying what is wrong.
    Messages name the secret and its data keys, and may show its endpoint (without user info); never
    a token, key, certificate, CA or proxy URL. `allow_insecure`: the stack's opt-in for a secret
    without a CA."""
    metadata = secret.get("metadata") or {}
    namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
    where = f"vela cluster secret {namespace}/{name}"
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    alias = str((metadata.get("annotations") or {}).get(ALIAS_ANNOTATION, ""))
    kind = labels.get(CREDENTIAL_TYPE_LABEL)
    if kind is None:
        raise VelaSecretError(f"{where}: has no {CREDENTIAL_TYPE_LABEL} label, so it is not a vela cluster")
    if kind == "Dynamic":
        raise VelaSecretError(
            f"{where}: credential type Dynamic (an exec plugin) is not supported: the agents cannot run the plugin; "
            "join the cluster with an X509Certificate or ServiceAccountToken credential, or exclude it"
        )
    if kind not in SUPPORTED_TYPES:
        raise VelaSecretError(f"{where}: unknown credential type {kind!r}; supported: {', '.join(SUPPORTED_TYPES)}")
    if labels.get(ENDPOINT_TYPE_LABEL) == "ClusterProxy":
        raise VelaSecretError(
            f"{where}: vela reaches this cluster through OCM's cluster-proxy ({ENDPOINT_TYPE_LABEL}: ClusterProxy, "
            "so it has no endpoint on purpose): the cluster-gateway addon writes such secrets for clusters that are "
            "already OCM ManagedClusters, so there is nothing to register; leave it out with registration.exclude"
        )
    data = _decoded(where, secret.get("data") or {})
    endpoint = data.get("endpoint", b"").decode("utf-8", "replace").strip()
    if not endpoint:
        raise VelaSecretError(f"{where}: data.endpoint is missing")
    problem = url_problem(endpoint, ("https",))
    if problem:
        shown = "" if problem == CREDENTIALS else f" {endpoint!r}"
        raise VelaSecretError(f"{where}: data.endpoint{shown} {problem}")
    proxy_url = data.get("proxy-url", b"").decode("utf-8", "replace").strip()
    if proxy_url and url_problem(proxy_url, PROXY_SCHEMES) not in (None, CREDENTIALS):
        raise VelaSecretError(
            f"{where}: data.proxy-url (not shown: it may hold credentials) is not an http:// or https:// proxy URL; "
            "ocm-hub reaches clusters through vela's proxy, and its client speaks http(s) proxies only"
        )
    ca = data.get("ca.crt") or data.get("ca") or b""
    insecure = not ca
    if insecure and not allow_insecure:
        raise VelaSecretError(
            f"{where}: has no data.ca.crt (or data.ca), which is how vela records an insecure cluster: it reaches "
            "it without verifying its TLS certificate. Add the cluster's CA to the secret, or accept the risk for "
            "this cluster with allowInsecure: true on its registration.clusters entry (previews warn about it and "
            "the policy pack flags it)"
        )
    if ca and not _PEM_CERT.search(ca):
        raise VelaSecretError(f"{where}: data.ca.crt is not a PEM certificate")
    facts: dict[str, Any] = {"alias": alias, "insecure": insecure, "_proxy_url": proxy_url}
    if kind == "X509Certificate":
        cert, key = data.get("tls.crt", b""), data.get("tls.key", b"")
        for item, value, pattern in (("tls.crt", cert, _PEM_CERT), ("tls.key", key, _PEM_KEY)):
            if not value:
                raise VelaSecretError(f"{where}: data.{item} is missing (credential type X509Certificate)")
            if not pattern.search(value):
                raise VelaSecretError(f"{where}: data.{item} is not PEM")
        return VelaCluster(namespace, name, "X509Certificate", endpoint, ca, labels, **facts, _cert=cert, _key=key)
    token = data.get("token", b"").decode("utf-8", "replace").strip()
    if not token:
        raise VelaSecretError(f"{where}: data.token is missing (credential type ServiceAccountToken)")
    return VelaCluster(namespace, name, "ServiceAccountToken", endpoint, ca, labels, **facts, _token=token)


def check_cluster_name(secret_namespace: str, secret_name: str, cluster_name: str, overridden: bool) -> None:
    problem = cluster_name_problem(cluster_name)
    if problem:
        hint = "set managedClusterName for it in registration.clusters" if not overridden else "choose another"
        raise VelaSecretError(
            f"vela cluster secret {secret_namespace}/{secret_name}: ManagedCluster name {cluster_name!r} {problem}; {hint}"
        )


def _decoded(where: str, data: dict[str, Any]) -> dict[str, bytes]:
    decoded = {}
    for key, value in data.items():
        try:
            decoded[str(key)] = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise VelaSecretError(f"{where}: data.{key} is not valid base64") from None
    return decoded
