"""A thin Kubernetes API layer over the official client: paths, server-side apply, retries.

Why not the typed API classes: the provider touches a dozen kinds (several of them OCM CRDs), and one
generic path keeps every call countable, retried the same way and easy to point at a test server.
`hub_client` reaches the hub as the stack configures it, for the providers and the entry points alike.
The `kubernetes` package is imported only when a client is made, so the provider starts fast.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import yaml

from config import safe_yaml

FIELD_MANAGER = "ocm-hub"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# Client-side rate limit per API server, shared by every join in the process (client-go's QPS and Burst; its
# defaults, 5 and 10, are for one controller, not 100 joins). 100 joins stay within what a hub's default
# priority-and-fairness levels serve; a 429 is still retried with its Retry-After.
QPS = 50.0
BURST = 100
APPLY = "application/apply-patch+yaml"

# (apiVersion, kind) -> (plural, namespaced)
KINDS: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Pod"): ("pods", True),
    ("coordination.k8s.io/v1", "Lease"): ("leases", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"): ("customresourcedefinitions", False),
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): ("certificatesigningrequests", False),
    ("cluster.open-cluster-management.io/v1", "ManagedCluster"): ("managedclusters", False),
    ("cluster.open-cluster-management.io/v1beta2", "ManagedClusterSet"): ("managedclustersets", False),
    ("operator.open-cluster-management.io/v1", "Klusterlet"): ("klusterlets", False),
    ("operator.open-cluster-management.io/v1", "ClusterManager"): ("clustermanagers", False),
    ("addon.open-cluster-management.io/v1alpha1", "ManagedClusterAddOn"): ("managedclusteraddons", True),
}


class KubeError(Exception):
    """An API answer we cannot use. Carries the status and reason; never a request body."""

    def __init__(self, method: str, path: str, status: int, reason: str, message: str) -> None:
        self.status, self.reason = status, reason
        super().__init__(f"{method} {path}: {status} {reason}: {message}".strip())


class TransientError(KubeError):
    """Still failing after the retries: throttling, server errors or a broken connection."""


class HubConfigError(ValueError):
    """The hub kubeconfig cannot be read; the message never quotes it."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; Retry-After from the server wins when longer."""

    attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 8.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff: float = min(self.max_delay, self.base_delay * (2**attempt)) * (0.5 + random.random() / 2)
        return max(backoff, min(retry_after or 0.0, self.max_delay))


class TokenBucket:
    """client-go's token bucket: `qps` tokens a second, at most `burst` saved; each request takes one.

    A request that finds none reserves the next and waits for it, so waiters are served in order and the
    rate holds however many threads ask at once.
    """

    def __init__(self, qps: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps, self.burst, self.clock = qps, burst, clock
        self._tokens, self._last = float(burst), clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take a token; the seconds to wait before using it (0 when one was saved)."""
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps) - 1
            self._last = now
            return 0.0 if self._tokens >= 0 else -self._tokens / self.qps


_BUCKETS: dict[str, TokenBucket] = {}
_BUCKETS_LOCK = threading.Lock()


def rate_limit(server: str) -> TokenBucket:
    """The one bucket of an API server in this process: every Kube for it draws from the same."""
    with _BUCKETS_LOCK:
        return _BUCKETS.setdefault(server, TokenBucket(QPS, BURST))


@dataclass
class Kube:
    """One cluster's API, through a configured `kubernetes.client.ApiClient`."""

    api: Any
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 30.0
    calls: int = 0
    sleep: Callable[[float], None] = time.sleep
    limit: TokenBucket | None = None  # None: the process's bucket for this server

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Mapping[str, Any], context: str | None = None, **kwargs: Any) -> Kube:
        from kubernetes import config as kube_config

        return cls(kube_config.new_client_from_config_dict(dict(kubeconfig), context=context), **kwargs)  # type: ignore[no-untyped-call]

    @classmethod
    def from_file(cls, path: str | None = None, context: str | None = None, **kwargs: Any) -> Kube:
        from kubernetes import config as kube_config

        return cls(kube_config.new_client_from_config(config_file=path, context=context), **kwargs)  # type: ignore[no-untyped-call]

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    @property
    def ca_data(self) -> bytes:
        path = self.api.configuration.ssl_ca_cert
        if not path:
            return b""
        with open(path, "rb") as handle:
            return handle.read()

    def path(self, api_version: str, kind: str, name: str | None = None, namespace: str | None = None) -> str:
        try:
            plural, namespaced = KINDS[(api_version, kind)]
        except KeyError:
            raise KeyError(f"ocm-hub's API layer does not know {kind} ({api_version})") from None
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        if namespaced:
            if not namespace:
                raise ValueError(f"{kind} {name} needs a namespace")
            prefix += f"/namespaces/{quote(namespace)}"
        return f"{prefix}/{plural}" + (f"/{quote(name)}" if name else "")

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", self.path(api_version, kind, name, namespace))
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        query = {"labelSelector": label_selector} if label_selector else {}
        items: list[dict[str, Any]] = self.request("GET", self.path(api_version, kind, None, namespace), query)["items"]
        return items

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Server-side apply: one call creates or updates the object, whatever state it is in.

        A 409 (another writer won a race) is answered by reading the object and applying once more.
        """
        metadata = obj["metadata"]
        path = self.path(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))
        query = {"fieldManager": FIELD_MANAGER, "force": "true"}
        try:
            return self.request("PATCH", path, query, body=dict(obj), content_type=APPLY)
        except KubeError as err:
            if err.status != 409:
                raise
        self.get(obj["apiVersion"], obj["kind"], metadata["name"], metadata.get("namespace"))
        return self.request("PATCH", path, query, body=dict(obj), content_type=APPLY)

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        metadata = obj["metadata"]
        return self.request(
            "POST", self.path(obj["apiVersion"], obj["kind"], None, metadata.get("namespace")), body=dict(obj)
        )

    def merge_patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: Mapping[str, Any],
        namespace: str | None = None,
        subresource: str = "",
    ) -> dict[str, Any]:
        path = self.path(api_version, kind, name, namespace) + (f"/{subresource}" if subresource else "")
        return self.request("PATCH", path, body=dict(patch), content_type="application/merge-patch+json")

    def put(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PUT", path, body=dict(body))

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body=dict(body))

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """True if a delete was issued, False if the object was already gone."""
        try:
            self.request(
                "DELETE",
                self.path(api_version, kind, name, namespace),
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            )
        except KubeError as err:
            if err.status == 404:
                return False
            raise
        return True

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """One API call with bounded retries of transient failures; KubeError on any other failure."""
        url = self.server + path + (f"?{urlencode(dict(query))}" if query else "")
        headers = {"Accept": "application/json", "Content-Type": content_type}
        last: KubeError | None = None
        if self.limit is None:
            self.limit = rate_limit(self.server)
        for attempt in range(self.retry.attempts):
            wait = self.limit.reserve()
            if wait:
                self.sleep(wait)
            self.calls += 1
            try:
                status, reason, payload, retry_after = self._send(method, url, headers, body)
            except Exception as err:
                last = TransientError(method, path, 0, type(err).__name__, "no answer from the API server")
                retry_after = None
            else:
                if 200 <= status < 300:
                    return payload if isinstance(payload, dict) else {}
                message = str(payload.get("message", "")) if isinstance(payload, dict) else ""
                error_reason = str(payload.get("reason", reason)) if isinstance(payload, dict) else reason
                if status not in RETRYABLE_STATUS:
                    raise KubeError(method, path, status, error_reason, message)
                last = TransientError(method, path, status, error_reason, message)
            if attempt + 1 < self.retry.attempts:
                self.sleep(self.retry.delay(attempt, retry_after))
        assert last is not None
        raise last

    def _send(self, method: str, url: str, headers: dict[str, str], body: Any) -> tuple[int, str, Any, float | None]:
        auth_headers = dict(headers)
        self.api.update_params_for_auth(auth_headers, [], ["BearerToken"], url, method, body)
        response = self.api.rest_client.request(
            method, url, headers=auth_headers, body=body, _request_timeout=self.timeout
        )
        data = response.read()
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = {"message": data[:200].decode("utf-8", "replace")}
        retry_after = response.headers.get("Retry-After")
        return response.status, str(response.reason or ""), payload, _seconds(retry_after)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def hub_client(config: Mapping[str, Any]) -> Kube:
    """The hub's API from provider configuration: a kubeconfig's contents or path, and a context."""
    kubeconfig, context = config.get("kubeconfig"), config.get("context") or None
    if kubeconfig:
        text = str(kubeconfig)
        try:
            parsed = (
                safe_yaml.load(text, "the hub kubeconfig") if "\n" in text or text.lstrip().startswith("{") else None
            )
        except safe_yaml.YamlLimitError as err:
            raise HubConfigError(str(err)) from None
        except yaml.YAMLError as err:  # its message quotes the offending line, which may hold a token
            mark = getattr(err, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise HubConfigError(f"the hub kubeconfig is not valid YAML{where}; its contents are not shown") from None
        if isinstance(parsed, dict):
            return Kube.from_kubeconfig(parsed, context)
        return Kube.from_file(os.path.expanduser(text), context)
    return Kube.from_file(None, context)
