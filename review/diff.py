"""What changes between two renders of a stack, and which changes can delete something on the cluster.

Objects are matched by identity (apiVersion, kind, namespace, name). A changed object is shown as a
unified diff of its changed fields only: both sides are pruned to the keys that differ (list items
with a `name` are matched by name), then dumped as YAML. Dangers are judged from the Pulumi facts
the render records: URN, retainOnDelete, deletedWith, aliases.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from config.names import CLUSTER_MANAGER_CRD
from providers.registration import REPLACE_KEYS, WIRES, Kind

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
# Fields the registration provider replaces on (clusterName being the object's name), and those no change
# of which is a diff (settings: the preview shows no update either).
REGISTRATION_REPLACE_FIELDS = tuple(key for key in REPLACE_KEYS if key != "clusterName")
REGISTRATION_SETTINGS = frozenset(wire.key for wire in WIRES.values() if wire.kind is Kind.SETTING)


@dataclass(frozen=True)
class Obj:
    """One rendered object with the Pulumi facts recorded for it."""

    identity: tuple[str, str, str, str]
    doc: Mapping[str, Any]
    urn: str
    type: str
    name: str
    retain_on_delete: bool
    deleted_with: str
    aliases: tuple[str, ...]
    inputs: Mapping[str, Any]

    @classmethod
    def from_snapshot(cls, item: Mapping[str, Any]) -> Obj:
        ident = item["identity"]
        return cls(
            identity=(ident["apiVersion"], ident["kind"], ident["namespace"], ident["name"]),
            doc=item["doc"],
            urn=item["urn"],
            type=item["type"],
            name=item["name"],
            retain_on_delete=bool(item.get("retainOnDelete")),
            deleted_with=str(item.get("deletedWith") or ""),
            aliases=tuple(item.get("aliases") or ()),
            inputs=item.get("inputs") or {},
        )

    @property
    def kind(self) -> str:
        return self.identity[1]

    @property
    def label(self) -> str:
        _, kind, namespace, name = self.identity
        return f"{kind} `{namespace}/{name}`" if namespace else f"{kind} `{name}`"


@dataclass(frozen=True)
class Change:
    before: Obj
    after: Obj
    diff: str


@dataclass(frozen=True)
class Danger:
    """A change that deletes or replaces something on the cluster, or removes a protection."""

    label: str
    action: str
    why: str


@dataclass
class StackDiff:
    stack: str
    added: list[Obj] = field(default_factory=list)
    removed: list[Obj] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    dangers: list[Danger] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def compare(stack: str, base: Sequence[Obj], head: Sequence[Obj], labels: tuple[str, str]) -> StackDiff:
    """Added, removed and changed objects in render order, and the dangers among them."""
    before = {obj.identity: obj for obj in base}
    after = {obj.identity: obj for obj in head}
    result = StackDiff(stack)
    result.added = [obj for obj in head if obj.identity not in before]
    result.removed = [obj for obj in base if obj.identity not in after]
    for obj in head:
        old = before.get(obj.identity)
        if old is not None and _compared(old) != _compared(obj):
            result.changed.append(Change(old, obj, unified_diff(old.doc, obj.doc, labels)))
    result.dangers = _dangers(base, head, result)
    return result


def _compared(obj: Obj) -> Mapping[str, Any]:
    """The document as a change is judged: a registration without its settings."""
    if obj.kind != "ManagedClusterRegistration":
        return obj.doc
    spec = {key: value for key, value in (obj.doc.get("spec") or {}).items() if key not in REGISTRATION_SETTINGS}
    return {**obj.doc, "spec": spec}


def unified_diff(before: Mapping[str, Any], after: Mapping[str, Any], labels: tuple[str, str]) -> str:
    old, new = prune(before, after)
    old_lines, new_lines = _yaml(old).splitlines(), _yaml(new).splitlines()
    context = max(len(old_lines), len(new_lines))  # the pruned documents are small: show them whole
    return "\n".join(difflib.unified_diff(old_lines, new_lines, labels[0], labels[1], n=context, lineterm=""))


def prune(before: Any, after: Any) -> tuple[Any, Any]:
    """Both values cut down to what differs, keeping the keys (and list item names) that lead there."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        old: dict[str, Any] = {}
        new: dict[str, Any] = {}
        for key in sorted(set(before) | set(after)):
            if key in before and key in after:
                if before[key] != after[key]:
                    old[key], new[key] = prune(before[key], after[key])
            elif key in before:
                old[key] = before[key]
            else:
                new[key] = after[key]
        return old, new
    if _named(before) and _named(after):
        old_items = {item["name"]: item for item in before}
        new_items = {item["name"]: item for item in after}
        old_list, new_list = [], []
        for name in [*old_items, *(n for n in new_items if n not in old_items)]:
            if name in old_items and name in new_items:
                if old_items[name] != new_items[name]:
                    o, n = prune(old_items[name], new_items[name])
                    old_list.append({"name": name, **o})
                    new_list.append({"name": name, **n})
            elif name in old_items:
                old_list.append(old_items[name])
            else:
                new_list.append(new_items[name])
        return old_list, new_list
    return before, after


def _named(value: Any) -> bool:
    """A list of mappings with unique names (containers, env, volumes): matched item by item."""
    if not isinstance(value, list) or not value:
        return False
    names = [item.get("name") for item in value if isinstance(item, Mapping)]
    return len(names) == len(value) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names)


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=True, default_flow_style=False, width=100)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _hub_operator_args(obj: Obj) -> list[str] | None:
    """The args of the `registration-operator hub` container, if this is the hub operator."""
    if obj.kind not in WORKLOADS:
        return None
    for container in _get(obj.doc, "spec", "template", "spec", "containers") or []:
        args = [str(a) for a in container.get("args") or []]
        if "hub" in args and any(a.endswith("registration-operator") for a in args):
            return args
    return None


def _skips_crd_removal(objects: Sequence[Obj]) -> bool:
    return any("--skip-remove-crds" in (_hub_operator_args(obj) or []) for obj in objects)


def _delete_reason(obj: Obj, siblings: Sequence[Obj]) -> str | None:
    """Why deleting this object hurts, or None when its deletion is routine."""
    kind, name = obj.kind, obj.identity[3]
    if kind == "Namespace":
        inside = [o.label for o in siblings if o.identity[2] == name]
        listed = f" ({', '.join(inside)})" if inside else ""
        return f"deleting a namespace deletes everything in it{listed}, including what controllers created there"
    if kind == "CustomResourceDefinition":
        extra = ": the ClusterManager with it, which takes the hub down" if name == CLUSTER_MANAGER_CRD else ""
        return f"deleting a CRD deletes every custom resource of that kind on the cluster{extra}"
    if kind == "ClusterManager":
        if _skips_crd_removal(siblings):
            return (
                "the operator tears the hub controllers down; the hub CRDs survive (--skip-remove-crds), "
                "but no cluster is served until it is recreated"
            )
        return (
            "the operator tears the hub down and, without --skip-remove-crds, deletes the hub CRDs: every "
            "ManagedCluster, ManifestWork and addon goes with them"
        )
    if kind == "ManagedClusterRegistration":
        return (
            f"unjoins cluster {name}: its klusterlet is removed and its ManagedCluster deleted, with the "
            "ManifestWorks and addons in its namespace on the hub"
        )
    if kind == "Release":
        return f"uninstalls {name}: its addon leaves the hub and its agents leave every managed cluster"
    if _hub_operator_args(obj) is not None:
        return "the hub operator stops: nothing reconciles the ClusterManager any more"
    return None


def _dangers(base: Sequence[Obj], head: Sequence[Obj], diff: StackDiff) -> list[Danger]:
    dangers: list[Danger] = []
    head_by_urn = {obj.urn: obj for obj in head}
    for old in diff.removed:
        reason = _delete_reason(old, base)
        new = head_by_urn.get(old.urn)
        if new is not None:
            why = f"its Pulumi resource `{old.name}` now declares {new.label}, so Pulumi deletes this one"
            dangers.append(Danger(old.label, "replace", f"{why}; {reason}" if reason else why))
        elif reason and old.retain_on_delete:
            dangers.append(
                Danger(old.label, "leaves Pulumi", "retained on delete: it stays on the cluster, no longer managed")
            )
        elif reason:
            dangers.append(Danger(old.label, "delete", reason))
    before = {obj.identity: obj for obj in base}
    for new in head:
        old_obj = before.get(new.identity)
        if old_obj is not None:
            dangers += _in_place_dangers(old_obj, new)
    return dangers


def _in_place_dangers(old: Obj, new: Obj) -> list[Danger]:
    """Dangers of an object that stays: a forced replacement, a rename, a protection removed."""
    found = []
    if old.urn != new.urn and old.urn not in new.aliases and old.name not in new.aliases and not old.retain_on_delete:
        found.append(
            Danger(
                new.label,
                "replace",
                f"its Pulumi resource was renamed (`{old.name}` → `{new.name}`) without an alias: Pulumi creates "
                "the new resource, then deletes the old one, which is this same object; add "
                f'`aliases=[pulumi.Alias(name="{old.name}")]`',
            )
        )
    if new.kind in WORKLOADS and _get(old.doc, "spec", "selector") != _get(new.doc, "spec", "selector"):
        found.append(
            Danger(
                new.label,
                "replace",
                "spec.selector is immutable: the workload is deleted and created again, and its pods are "
                "down in between",
            )
        )
    if new.kind == "ManagedClusterRegistration":
        fields = [f for f in REGISTRATION_REPLACE_FIELDS if _get(old.doc, "spec", f) != _get(new.doc, "spec", f)]
        if fields:
            found.append(
                Danger(
                    new.label,
                    "replace",
                    f"changing {', '.join(fields)} unjoins cluster {new.identity[3]} and joins it again: its "
                    "ManagedCluster, and the ManifestWorks and addons in its namespace on the hub, are deleted "
                    "in between",
                )
            )
    if old.retain_on_delete and not new.retain_on_delete:
        found.append(
            Danger(
                new.label,
                "protection removed",
                "no longer retained on delete: `pulumi destroy`, or dropping it from the program, deletes it "
                "from the cluster",
            )
        )
    if old.deleted_with and not new.deleted_with:
        found.append(
            Danger(
                new.label, "protection removed", "no longer deletedWith the ClusterManager: `pulumi destroy` unjoins it"
            )
        )
    old_args, new_args = _hub_operator_args(old), _hub_operator_args(new)
    if old_args and new_args is not None and "--skip-remove-crds" in old_args and "--skip-remove-crds" not in new_args:
        found.append(
            Danger(
                new.label,
                "protection removed",
                "the operator no longer runs with --skip-remove-crds: deleting the ClusterManager would now delete "
                "the hub CRDs and every ManagedCluster, ManifestWork and addon",
            )
        )
    return found
