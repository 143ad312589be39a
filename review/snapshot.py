"""Render stacks of one source tree to JSON: run as a script inside that tree (the base worktree or the
working tree), so each side is rendered by its own code, exactly as `make render` would.

    python review/snapshot.py --root TREE --stack dev --stack prod

Prints {"stacks": {name: {"error": str|null, "note": str|null, "ocmVersion": str|null, "objects": [...]}}}. Each object carries
its Kubernetes document (as `make render` prints it) and the Pulumi facts a review needs: URN,
resource name, retainOnDelete, deletedWith, aliases, and the inputs. Secret values are masked here,
before anything leaves the process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

MASK = "[secret]"


def _masked(value: Any) -> Any:
    """Every secret value replaced by MASK. A secret map keeps its keys (names, not values), so the
    guardrails see `data.token` as the policy pack does in `pulumi preview`."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return _mask_leaves(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {str(key): _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _mask_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _mask_leaves(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_leaves(item) for item in value]
    return MASK


def _identity(doc: dict[str, Any]) -> dict[str, str]:
    metadata = doc.get("metadata") or {}
    return {
        "apiVersion": str(doc.get("apiVersion", "")),
        "kind": str(doc.get("kind", "")),
        "namespace": str(metadata.get("namespace") or ""),
        "name": str(metadata.get("name") or ""),
    }


def render(root: Path, stack: str) -> dict[str, Any]:
    """One stack of the tree at `root`: its objects, or the error `make render` would print."""
    import pulumi

    from config import ConfigError, from_file, load
    from render import documents, recording

    try:
        raw = from_file(root / f"Pulumi.{stack}.yaml")
        cfg = load(raw)
        result = recording.run_main(raw, stack=stack)
    except (ConfigError, pulumi.RunError) as err:
        return {"error": str(err), "note": None, "ocmVersion": None, "objects": []}
    objects = []
    # A tree from before render.recording named them `resources` calls them `registrations`.
    listed = "resources" if hasattr(result, "resources") else "registrations"
    for resource in getattr(result, listed):
        alone: dict[str, Any] = {listed: [resource]}
        docs = documents.objects(recording.Recording(**alone))
        if not docs:
            continue  # providers and components: not objects on the cluster
        doc = _masked(docs[0])
        formers = result.former_urns(resource) if hasattr(result, "former_urns") else resource.aliases
        objects.append(
            {
                "identity": _identity(doc),
                "doc": doc,
                "urn": resource.urn,
                "type": resource.type,
                "name": resource.name,
                "retainOnDelete": resource.retain_on_delete,
                "deletedWith": getattr(resource, "deleted_with", ""),
                "aliases": list(formers),
                "inputs": _masked(dict(resource.inputs)),
            }
        )
    order = {json.dumps(_identity(doc)): index for index, doc in enumerate(documents.objects(result))}
    objects.sort(key=lambda item: order[json.dumps(item["identity"])])  # `make render`'s order
    note = None
    if getattr(getattr(cfg, "registration", None), "discover", False):
        note = (
            "registration.discover lists vela's cluster Secrets on the hub at deploy time; "
            "this offline render shows only the clusters named in registration.clusters"
        )
    return {"error": None, "note": note, "ocmVersion": cfg.ocm_version, "objects": objects}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--stack", action="append", default=[])
    args = parser.parse_args(argv)
    root = args.root.resolve()
    sys.path[0] = str(root)  # the tree's own packages, not this script's folder
    os.chdir(root)
    stacks = {stack: render(root, stack) for stack in args.stack}
    json.dump({"stacks": stacks}, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
