"""The floor of `make render`: a bare program declaring the same objects, under the same recording mocks,
printed by the same YAML writer. It imports the pulumi_kubernetes module of each kind it declares, as a
program that declares them with the SDK's classes would, and nothing of ocm-hub's but the writer.

    python -m bench.render_bare --dump STACK FILE    record what `make render STACK=...` declares (JSON)
    python -m bench.render_bare FILE                 declare those objects, print them as `make render` does
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any


def dump(stack: str, target: Path) -> None:
    from config import from_file
    from render import recording

    result = recording.run_main(from_file(recording.PROJECT_DIR / f"Pulumi.{stack}.yaml"), stack=stack)
    declared = [
        {"type": r.type, "name": r.name, "inputs": r.inputs}
        for r in result.resources
        if r.custom and not r.type.startswith("pulumi:providers:")
    ]
    target.write_text(json.dumps(declared, default=str))


def _module_of(type_: str) -> str | None:
    """kubernetes:apps/v1:Deployment -> pulumi_kubernetes.apps.v1; a CRD's kind -> pulumi_kubernetes.apiextensions."""
    if not type_.startswith("kubernetes:"):
        return None
    group_version = type_.split(":")[1]
    group, _, version = group_version.rpartition("/")
    package = group.split(".")[0] or "core"
    name = f"pulumi_kubernetes.{package}.{version}"
    return name if importlib.util.find_spec(f"pulumi_kubernetes.{package}") and _exists(name) else None


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def declare(source: Path) -> None:
    import pulumi

    from render import documents, recording

    declared: list[dict[str, Any]] = json.loads(source.read_text())
    for module in sorted({_module_of(d["type"]) or "pulumi_kubernetes.apiextensions" for d in declared}):
        importlib.import_module(module)

    def program() -> None:
        for item in declared:
            pulumi.CustomResource(item["type"], item["name"], item["inputs"])

    sys.stdout.write(documents.to_yaml(documents.objects(recording.run(program))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dump", metavar="STACK")
    parser.add_argument("file", type=Path)
    args = parser.parse_args()
    if args.dump:
        dump(args.dump, args.file)
    else:
        declare(args.file)


if __name__ == "__main__":
    main()
