"""`python -m render (--stack NAME | --config FILE)`: every object the stack would create, as YAML.

Runs the real `__main__.py` under a recording mock: no cluster, no Pulumi CLI. Exit status 2 on
invalid config, with the same message `pulumi up` prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pulumi

from config import ConfigError, from_file, load
from render import documents, recording


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make render", description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml in the project")
    source.add_argument("--config", type=Path, help="path to any Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    path: Path = args.config or recording.PROJECT_DIR / f"Pulumi.{args.stack}.yaml"
    if not path.is_file():
        print(f"error: stack config file {path} does not exist", file=sys.stderr)
        return 2
    stack = args.stack or path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        raw = from_file(path)
        for warning in raw.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        cfg = load(raw)
        result = recording.run_main(raw, stack=stack)
    except (ConfigError, pulumi.RunError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if cfg.registration.discover:
        print(
            "note: registration.discover lists vela's cluster Secrets on the hub at deploy time; "
            "this offline render shows only the clusters named in registration.clusters",
            file=sys.stderr,
        )
    sys.stdout.write(documents.to_yaml(documents.objects(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
