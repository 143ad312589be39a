"""Which resources the fake serves, and the discovery documents clients read to find them.

Storage is keyed by group and plural, not version, so every served version of a resource shows the same
objects (there is no conversion: the stored fields are returned under whichever apiVersion was asked for).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import ApiError, Json, invalid

MAIN_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")
CRD_GROUP = "apiextensions.k8s.io"
CRD_KIND = "CustomResourceDefinition"
# (group, plural) of the resources the store gives special treatment.
NAMESPACES = ("", "namespaces")
SECRETS = ("", "secrets")
CRDS = (CRD_GROUP, "customresourcedefinitions")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (group, version, plural) and the rules the server applies to it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    status: bool = False
    """Has a `status` subresource: the main resource ignores status changes and /status changes only status."""
    subresources: tuple[str, ...] = ()
    """Special subresources beyond status: `token` (TokenRequest) and `approval` (CSR)."""
    field_selectors: tuple[str, ...] = ()
    """Field labels beyond metadata.name/metadata.namespace the server accepts in a fieldSelector."""
    short_names: tuple[str, ...] = ()
    custom: bool = False
    """Served from a CRD: a completed DELETE answers with the object instead of a success Status."""
    singular: str = ""

    @property
    def resource(self) -> tuple[str, str]:
        """(group, plural): what identifies the resource across its versions."""
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def all_subresources(self) -> tuple[str, ...]:
        return (("status",) if self.status else ()) + self.subresources

    def discovery(self) -> list[Json]:
        """The APIResource entries for this resource and its subresources."""
        entry: Json = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(MAIN_VERBS),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        entries = [entry]
        for sub in self.all_subresources:
            sub_entry: Json = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(SUBRESOURCE_VERBS),
            }
            if sub == "token":
                sub_entry.update(group="authentication.k8s.io", version="v1", kind="TokenRequest", verbs=["create"])
            entries.append(sub_entry)
        return entries


def _ocm(
    group: str, version: str, plural: str, kind: str, namespaced: bool, short: tuple[str, ...] = ()
) -> ResourceType:
    return ResourceType(group, version, plural, kind, namespaced, status=True, short_names=short, custom=True)


DEFAULT_RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", False, status=True, short_names=("ns",)),
    ResourceType("", "v1", "secrets", "Secret", True, field_selectors=("type",)),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, subresources=("token",), short_names=("sa",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, short_names=("cm",)),
    ResourceType("", "v1", "services", "Service", True, status=True, short_names=("svc",)),
    ResourceType("", "v1", "pods", "Pod", True, status=True, short_names=("po",)),
    ResourceType(
        "",
        "v1",
        "events",
        "Event",
        True,
        field_selectors=("involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "reason", "type"),
        short_names=("ev",),
    ),
    ResourceType("apps", "v1", "deployments", "Deployment", True, status=True, short_names=("deploy",)),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    ResourceType(
        CRD_GROUP, "v1", "customresourcedefinitions", CRD_KIND, False, status=True, short_names=("crd", "crds")
    ),
    ResourceType(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        False,
        status=True,
        subresources=("approval",),
        field_selectors=("spec.signerName",),
        short_names=("csr",),
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    _ocm("cluster.open-cluster-management.io", "v1", "managedclusters", "ManagedCluster", False, ("mcl", "mcls")),
    _ocm(
        "cluster.open-cluster-management.io",
        "v1beta2",
        "managedclustersets",
        "ManagedClusterSet",
        False,
        ("mclset", "mclsets"),
    ),
    _ocm(
        "cluster.open-cluster-management.io",
        "v1beta2",
        "managedclustersetbindings",
        "ManagedClusterSetBinding",
        True,
        ("mclsetbinding", "mclsetbindings"),
    ),
    _ocm("operator.open-cluster-management.io", "v1", "klusterlets", "Klusterlet", False),
    _ocm("operator.open-cluster-management.io", "v1", "clustermanagers", "ClusterManager", False),
    _ocm(
        "addon.open-cluster-management.io",
        "v1alpha1",
        "managedclusteraddons",
        "ManagedClusterAddOn",
        True,
        ("mca", "mcas"),
    ),
    _ocm(
        "addon.open-cluster-management.io",
        "v1alpha1",
        "clustermanagementaddons",
        "ClusterManagementAddOn",
        False,
        ("cma", "cmas"),
    ),
)


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version order, highest first when sorted in reverse: v1 > v1beta2 > v1beta1 > v1alpha1."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (0, 0, 0)
    stability = {"alpha": 1, "beta": 2}.get(match.group(2) or "", 3)
    return (stability, int(match.group(1)), int(match.group(3) or 0))


class Registry:
    """The served resources, looked up by path or by apiVersion/kind; safe to share between threads."""

    def __init__(self, types: Iterable[ResourceType] = DEFAULT_RESOURCES) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for resource_type in types:
            self.register(resource_type)

    def register(self, resource_type: ResourceType) -> None:
        with self._lock:
            self._types[(resource_type.group, resource_type.version, resource_type.plural)] = resource_type

    def unregister(self, group: str, plural: str) -> None:
        """Forget every version of a resource, as when its CRD is deleted."""
        with self._lock:
            for key in [key for key in self._types if key[0] == group and key[2] == plural]:
                del self._types[key]

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for resource_type in self._types.values():
                if (resource_type.group, resource_type.version, resource_type.kind) == (group, version, kind):
                    return resource_type
        return None

    def versions(self, group: str) -> list[str]:
        """Served versions of a group, preferred first."""
        with self._lock:
            found = {version for (g, version, _) in self._types if g == group}
        return sorted(found, key=version_priority, reverse=True)

    def group_document(self, group: str) -> Json | None:
        """APIGroup for /apis/<group>; None when nothing of the group is served."""
        versions = [{"groupVersion": f"{group}/{version}", "version": version} for version in self.versions(group)]
        if not versions:
            return None
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": versions,
            "preferredVersion": versions[0],
        }

    def groups_document(self) -> Json:
        """APIGroupList for /apis."""
        with self._lock:
            groups = sorted({group for (group, _, _) in self._types if group})
        documents = [self.group_document(group) for group in groups]
        listed = [{key: doc[key] for key in ("name", "versions", "preferredVersion")} for doc in documents if doc]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": listed}

    def resources_document(self, group: str, version: str) -> Json | None:
        """APIResourceList for /api/v1 or /apis/<group>/<version>; None when that version is not served."""
        with self._lock:
            served = sorted(
                (t for t in self._types.values() if (t.group, t.version) == (group, version)), key=lambda t: t.plural
            )
        if not served:
            return None
        resources = [entry for resource_type in served for entry in resource_type.discovery()]
        group_version = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def crd_resource_types(crd: Json) -> list[ResourceType]:
    """The resources a CustomResourceDefinition serves; 422 Invalid for the mistakes the server rejects."""
    name = str(crd.get("metadata", {}).get("name", ""))
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group"), names.get("plural"), names.get("kind")

    def fail(field_path: str, message: str) -> ApiError:
        return invalid(CRD_GROUP, CRD_KIND, name, field_path, message)

    for field_path, value in (("spec.group", group), ("spec.names.plural", plural), ("spec.names.kind", kind)):
        if not value or not isinstance(value, str):
            raise fail(field_path, "Required value")
    if name != f"{plural}.{group}":
        raise fail("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        raise fail("spec.scope", f'Unsupported value: "{scope}": supported values: "Cluster", "Namespaced"')
    versions = spec.get("versions") or []
    if not versions:
        raise fail("spec.versions", "Required value: must have exactly one version marked as storage version")
    return [
        ResourceType(
            group=str(group),
            version=str(version["name"]),
            plural=str(plural),
            kind=str(kind),
            namespaced=scope == "Namespaced",
            status="status" in (version.get("subresources") or {}),
            short_names=tuple(names.get("shortNames") or ()),
            custom=True,
            singular=str(names.get("singular") or str(kind).lower()),
        )
        for version in versions
        if version.get("served", True)
    ]


def crd_status(crd: Json, now: str) -> Json:
    """The status the apiextensions controllers settle on once the names are accepted."""
    spec = crd["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", str(names["kind"]).lower())
    names.setdefault("listKind", f"{names['kind']}List")
    stored = [version["name"] for version in spec.get("versions", []) if version.get("storage")]
    conditions = [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
        {
            "type": "Established",
            "status": "True",
            "reason": "InitialNamesAccepted",
            "message": "the initial names have been accepted",
        },
    ]
    for condition in conditions:
        condition["lastTransitionTime"] = now
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": stored}
