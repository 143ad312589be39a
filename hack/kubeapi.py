"""A small typed Kubernetes REST client built on the standard library.

The e2e harness needs only a handful of API calls (health checks, a fake Node, test fixtures) and
runs before any Kubernetes client package is installed, so it carries its own. It understands the
kubeconfigs our local clusters and usual test clusters use: client certificates or bearer tokens,
inline or as files; exec and auth-provider plugins are out of scope.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Json = dict[str, Any]


class ApiError(Exception):
    """A non-2xx answer from the API server, with the Status it sent back."""

    def __init__(self, method: str, path: str, status: int, body: bytes) -> None:
        self.status = status
        self.body = body.decode("utf-8", "replace")
        try:
            self.reason = str(json.loads(body).get("reason", ""))
        except (ValueError, AttributeError):
            self.reason = ""
        super().__init__(f"{method} {path}: HTTP {status}: {self.body[:500]}")


@dataclass
class KubeClient:
    server: str
    tls: ssl.SSLContext
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_kubeconfig(cls, path: Path, context_name: str | None = None) -> KubeClient:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        base = path.parent
        ctx_name = context_name or config.get("current-context")
        ctx = _named(config, "contexts", ctx_name, path)["context"]
        cluster = _named(config, "clusters", ctx["cluster"], path)["cluster"]
        user = _named(config, "users", ctx["user"], path)["user"] or {}
        if "exec" in user or "auth-provider" in user:
            raise ValueError(f"{path}: exec/auth-provider credentials are not supported")

        tls = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if cluster.get("insecure-skip-tls-verify"):
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
        elif "certificate-authority-data" in cluster:
            tls.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        elif "certificate-authority" in cluster:
            tls.load_verify_locations(cafile=base / cluster["certificate-authority"])

        # load_cert_chain only reads files: stage inline credentials in a private, short-lived dir.
        with tempfile.TemporaryDirectory(prefix="kubeapi-") as tmp:
            cert = _material(user, "client-certificate", base, Path(tmp) / "tls.crt")
            key = _material(user, "client-key", base, Path(tmp) / "tls.key")
            if cert and key:
                tls.load_cert_chain(cert, key)

        headers: dict[str, str] = {}
        token = user.get("token")
        if not token and user.get("tokenFile"):
            token = (base / user["tokenFile"]).read_text(encoding="utf-8").strip()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return cls(server=str(cluster["server"]).rstrip("/"), tls=tls, headers=headers)

    def request(
        self,
        method: str,
        path: str,
        body: Json | None = None,
        *,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> bytes:
        """Send one request; raise ApiError for any non-2xx answer."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", **self.headers}
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.server + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.tls) as resp:
                payload: bytes = resp.read()
                return payload
        except urllib.error.HTTPError as err:
            raise ApiError(method, path, err.code, err.read()) from None

    def get(self, path: str, *, timeout: float = 10.0) -> Json:
        return _as_json(self.request("GET", path, timeout=timeout))

    def create(self, path: str, body: Json) -> Json:
        return _as_json(self.request("POST", path, body))

    def patch(self, path: str, body: Json) -> Json:
        return _as_json(self.request("PATCH", path, body, content_type="application/merge-patch+json"))

    def put(self, path: str, body: Json) -> Json:
        return _as_json(self.request("PUT", path, body))

    def delete(self, path: str) -> None:
        try:
            self.request("DELETE", path)
        except ApiError as err:
            if err.status != 404:
                raise

    def exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
        except ApiError as err:
            if err.status == 404:
                return False
            raise
        return True

    def wait_for(
        self,
        path: str,
        predicate: Callable[[Json], bool],
        *,
        timeout: float,
        what: str,
        interval: float = 0.5,
    ) -> Json:
        """Poll an object until predicate holds; the TimeoutError names what and the last state."""
        deadline = time.monotonic() + timeout
        last: Json | str = "not found"
        while True:
            try:
                obj = self.get(path)
                if predicate(obj):
                    return obj
                last = obj.get("status", obj)
            except ApiError as err:
                if err.status != 404:
                    raise
            except OSError as err:
                last = f"unreachable: {err}"
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} not reached within {timeout:.0f}s; last state: {last}")
            time.sleep(interval)


def condition(obj: Json, kind: str) -> str | None:
    """The status of condition `kind` ("True"/"False"/"Unknown"), or None when absent."""
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


def _named(config: Json, section: str, name: str | None, path: Path) -> Json:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return dict(entry)
    raise ValueError(f"{path}: no {section[:-1]} named {name!r}")


def _material(user: Json, key: str, base: Path, staged: Path) -> Path | None:
    if f"{key}-data" in user:
        staged.write_bytes(base64.b64decode(user[f"{key}-data"]))
        staged.chmod(0o600)
        return staged
    if key in user:
        return base / str(user[key])
    return None


def _as_json(payload: bytes) -> Json:
    value = json.loads(payload) if payload else {}
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value
