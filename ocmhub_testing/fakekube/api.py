"""REST requests to store operations: path routing, verbs, query options, discovery, watch streams.

Nothing here touches a socket, so the transport can add faults, auth and logging around it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import yaml

from .errors import ApiError, Json, bad_request, invalid, method_not_allowed, no_such_resource
from .patches import APPLY_PATCH, PATCH_TYPES
from .registry import ResourceType
from .selectors import FieldSelector, LabelSelector
from .store import Store, served

Query = Mapping[str, list[str]]
HEALTH_PATHS = ("/healthz", "/readyz", "/livez")
VERSION_INFO: Json = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-fakekube",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.24.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


@dataclass(frozen=True)
class ResourcePath:
    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str


@dataclass(frozen=True)
class WatchRequest:
    rt: ResourceType
    namespace: str | None
    labels: LabelSelector
    fields: FieldSelector
    resource_version: int | None
    """None: start with synthetic ADDED events for what exists, as for an unset or "0" resourceVersion."""
    timeout: float
    bookmark: bool
    """sendInitialEvents: end the synthetic events with the initial-events-end BOOKMARK."""


@dataclass
class Reply:
    status: int
    body: Json | str
    headers: dict[str, str] = field(default_factory=dict)
    watch: WatchRequest | None = None


def parse_path(path: str) -> ResourcePath | None:
    """The resource a path names, or None for anything that is not a resource path."""
    parts = [unquote(part) for part in path.strip("/").split("/")]
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    namespace_subresource = not group and len(rest) == 3 and rest[2] in ("status", "finalize")
    if rest[0] == "namespaces" and len(rest) >= 3 and not namespace_subresource:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3 or not all(rest):
        return None
    return ResourcePath(
        group, version, rest[0], namespace, rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else ""
    )


def _flag(query: Query, name: str) -> bool:
    return any(value.lower() in ("true", "1") for value in query.get(name, []))


def _one(query: Query, name: str) -> str:
    values = query.get(name) or [""]
    return values[-1]


def verb_of(method: str, path: str, query: Query) -> str:
    """The Kubernetes verb of a request, for the request log; `discovery`/`health` for non-resource paths."""
    resource = parse_path(path)
    if resource is None:
        if path.rstrip("/") in HEALTH_PATHS:
            return "health"
        return "discovery" if path.startswith(("/api", "/version", "/openapi")) else ""
    collection = resource.name is None
    match method:
        case "GET":
            return ("watch" if _flag(query, "watch") else "list") if collection else "get"
        case "POST":
            return "create"
        case "PUT":
            return "update"
        case "PATCH":
            return "patch"
        case "DELETE":
            return "deletecollection" if collection else "delete"
    return method.lower()


def is_health(path: str) -> bool:
    return path.rstrip("/") in HEALTH_PATHS


class Api:
    """Serves one store over the Kubernetes REST conventions."""

    def __init__(self, store: Store, address: str, watch_timeout: float) -> None:
        self.store = store
        self.address = address
        self.watch_timeout = watch_timeout

    def handle(self, method: str, path: str, query: Query, content_type: str, body: bytes) -> Reply:
        try:
            if (found := self._non_resource(method, path)) is not None:
                return found
            return self._resource(method, path, query, content_type, body)
        except ApiError as err:
            return Reply(err.code, err.status())

    def _non_resource(self, method: str, path: str) -> Reply | None:
        parts = path.strip("/").split("/")
        registry = self.store.registry
        document: Json | str | None = None
        if is_health(path):
            document = "ok"
        elif parts == ["version"]:
            document = VERSION_INFO
        elif parts == ["api"]:
            document = {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.address}],
            }
        elif parts == ["api", "v1"]:
            document = registry.resources_document("", "v1")
        elif parts == ["apis"]:
            document = registry.groups_document()
        elif len(parts) == 2 and parts[0] == "apis":
            document = registry.group_document(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            document = registry.resources_document(parts[1], parts[2])
        else:
            return None
        if document is None:
            raise no_such_resource()
        if method != "GET":
            raise method_not_allowed()
        return Reply(200, document)

    def _resource(self, method: str, path: str, query: Query, content_type: str, body: bytes) -> Reply:
        where = parse_path(path)
        if where is None:
            raise no_such_resource()
        rt = self.store.registry.lookup(where.group, where.version, where.plural)
        if (
            rt is None
            or (where.namespace is not None and not rt.namespaced)
            or (where.namespace is None and rt.namespaced and where.name is not None)
            or (where.subresource and where.subresource not in rt.all_subresources)
        ):
            raise no_such_resource()
        namespace, name, subresource = where.namespace, where.name, where.subresource
        dry_run = "All" in query.get("dryRun", [])
        store = self.store
        if name is None:
            return self._collection(rt, method, namespace, query, body, dry_run)
        match method:
            case "GET" if subresource != "token":
                return Reply(200, store.get(rt, namespace, name))
            case "POST" if subresource == "token" and namespace is not None:
                return Reply(201, store.create_token(namespace, name, _decode(body), dry_run=dry_run))
            case "PUT" if subresource != "token":
                obj = store.replace(rt, namespace, name, _decode(body), subresource=subresource, dry_run=dry_run)
                return Reply(200, obj)
            case "PATCH" if subresource != "token":
                patch_type = content_type.split(";")[0].strip().lower()
                patch = _patch_body(patch_type, query, body)
                obj, created = store.patch(
                    rt, namespace, name, patch_type, patch, subresource=subresource, dry_run=dry_run
                )
                return Reply(201 if created else 200, obj)
            case "DELETE" if not subresource:
                options = _decode(body) if body.strip() else None
                return Reply(200, store.delete(rt, namespace, name, options=options, dry_run=dry_run))
        raise method_not_allowed()

    def _collection(
        self, rt: ResourceType, method: str, namespace: str | None, query: Query, body: bytes, dry_run: bool
    ) -> Reply:
        labels = LabelSelector.parse(_one(query, "labelSelector"))
        fields = FieldSelector.parse(_one(query, "fieldSelector"), rt.field_selectors)
        if method == "GET" and _flag(query, "watch"):
            return Reply(200, "", watch=self._watch_request(rt, namespace, labels, fields, query))
        if method == "GET":
            return Reply(200, self.store.listing(rt, namespace, labels, fields))
        if rt.namespaced and namespace is None:
            raise method_not_allowed()
        if method == "POST":
            return Reply(201, self.store.create(rt, namespace, _decode(body), dry_run=dry_run))
        if method == "DELETE":
            return Reply(200, self.store.delete_collection(rt, namespace, labels, fields, dry_run=dry_run))
        raise method_not_allowed()

    def _watch_request(
        self, rt: ResourceType, namespace: str | None, labels: LabelSelector, fields: FieldSelector, query: Query
    ) -> WatchRequest:
        resource_version = _one(query, "resourceVersion")
        if resource_version not in ("", "0") and not resource_version.isdigit():
            raise bad_request(f"invalid resource version: {resource_version!r}")
        timeout = _one(query, "timeoutSeconds")
        return WatchRequest(
            rt,
            namespace,
            labels,
            fields,
            int(resource_version) if resource_version not in ("", "0") else None,
            float(timeout) if timeout.isdigit() else self.watch_timeout,
            _flag(query, "sendInitialEvents"),
        )


def _patch_body(patch_type: str, query: Query, body: bytes) -> object:
    if patch_type not in PATCH_TYPES:
        accepted = ", ".join(PATCH_TYPES)
        message = f"the body of the request was in an unknown format - accepted media types include: {accepted}"
        raise ApiError(415, message)
    if patch_type == APPLY_PATCH:
        if not _one(query, "fieldManager"):
            raise invalid(
                "meta.k8s.io", "PatchOptions", "", "fieldManager", "Required value: is required for apply patch"
            )
        try:
            return _yaml_or_json(body) if body.strip() else None
        except yaml.YAMLError as err:
            raise bad_request(f"error decoding YAML: {err}") from None
    if "force" in query:
        raise invalid("meta.k8s.io", "PatchOptions", "", "force", "Forbidden: may not be specified for non-apply patch")
    return _decode(body)


def _yaml_or_json(body: bytes) -> object:
    """An apply body: JSON (what clients send) read as JSON, other YAML with libyaml when there is one.
    Pure-Python YAML of a klusterlet's CRD was where 100 parallel joins against the fakes spent their time."""
    try:
        return json.loads(body)
    except ValueError:
        return yaml.load(body, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _decode(body: bytes) -> object:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError as err:
        raise bad_request(f"the body of the request could not be decoded as JSON: {err}") from None


def watch_events(store: Store, request: WatchRequest, stopped: Callable[[], bool]) -> Iterator[Json]:
    """The events of one watch, until its timeout or the server stops; an ERROR event if it cannot resume."""
    rt = request.rt
    revision = request.resource_version
    if revision is None:
        existing, revision = store.watch_start(rt, request.namespace, request.labels, request.fields)
        for obj in existing:
            yield {"type": "ADDED", "object": obj}
    if request.bookmark:
        metadata = {"resourceVersion": str(revision), "annotations": {"k8s.io/initial-events-end": "true"}}
        yield {"type": "BOOKMARK", "object": {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": metadata}}
    deadline = time.monotonic() + request.timeout
    while not stopped() and (remaining := deadline - time.monotonic()) > 0:
        try:
            events = store.events_after(revision, min(remaining, 0.5))
        except ApiError as err:
            yield {"type": "ERROR", "object": err.status()}
            return
        for event in events:
            revision = event.resource_version
            if (event.group, event.plural) != (rt.group, rt.plural):
                continue
            if request.namespace is not None and event.namespace != request.namespace:
                continue
            obj = served(rt, event.object)
            if request.labels.matches(obj["metadata"].get("labels") or {}) and request.fields.matches(obj):
                yield {"type": event.type, "object": obj}
