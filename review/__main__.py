"""`python -m review --base REF [--stack NAME]`: what a change does to every stack, as Markdown.

Renders each example stack (or one) at REF, in a temporary git worktree, and in the working tree;
prints which objects are added, removed or changed (changed fields only), the changes that delete or
replace something on the cluster, the guardrail violations, and `pulumi preview --diff` where a
backend and a cluster are configured. The checkout is never modified. Exit status 0 whatever
changed; 2 when a stack cannot be rendered, with the message `make render` prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from config import offline
from policy import rules
from review import preview, report
from review.diff import Obj, compare

PROJECT_DIR = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).resolve().parent / "snapshot.py"
RENDER_TIMEOUT = 600


class ReviewError(Exception):
    """The review cannot be made; the message says why (a bad ref, a stack that does not render)."""


def _git(project: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ReviewError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


@contextlib.contextmanager
def base_tree(project: Path, commit: str) -> Iterator[Path]:
    """The base commit checked out in a temporary worktree, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="ocm-hub-review-") as tmp:
        tree = Path(tmp) / "base"
        _git(project, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        try:
            yield tree
        finally:
            _git(project, "worktree", "remove", "--force", str(tree))


def stacks_in(tree: Path) -> set[str]:
    return {path.name.removeprefix("Pulumi.").removesuffix(".yaml") for path in tree.glob("Pulumi.*.yaml")}


def snapshot(tree: Path, stacks: Sequence[str]) -> dict[str, Any]:
    """Each stack rendered by the tree's own code (review/snapshot.py run inside it), offline whatever that
    code's age: no cluster is asked for vela's Secrets."""
    if not stacks:
        return {}
    args = [sys.executable, str(SNAPSHOT), "--root", str(tree)]
    for stack in stacks:
        args += ["--stack", stack]
    env = {**os.environ, offline.ENV: "1"}
    proc = subprocess.run(args, cwd=tree, env=env, capture_output=True, text=True, timeout=RENDER_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise ReviewError(f"cannot render the stacks of {tree}:\n{proc.stderr.strip()}")
    stacks_found: dict[str, Any] = json.loads(proc.stdout)["stacks"]
    return stacks_found


def _objects(rendered: dict[str, Any] | None) -> list[Obj]:
    return [Obj.from_snapshot(item) for item in (rendered or {}).get("objects", [])]


def _resources(objects: Sequence[Obj]) -> list[rules.Resource]:
    return [rules.Resource(o.type, o.name, o.inputs, o.urn, retain_on_delete=o.retain_on_delete) for o in objects]


def _policy_config(project: Path, stack: str) -> dict[str, Any]:
    path = project / "policy" / "config" / f"{stack}.json"
    config: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    return config


def _findings(base: Sequence[Obj], head: Sequence[Obj], config: dict[str, Any]) -> list[tuple[rules.Finding, bool]]:
    """Violations at the working tree, each marked new unless the base had it too (both sides judged
    with the working tree's policy config, so "new" means the program's change caused it)."""
    before = {(f.policy, f.resource.urn, f.message) for f in rules.evaluate(_resources(base), config)}
    return [(f, (f.policy, f.resource.urn, f.message) not in before) for f in rules.evaluate(_resources(head), config)]


def review(base_ref: str, only: str | None, run_preview: bool) -> str:
    project = PROJECT_DIR
    try:
        commit = _git(project, "rev-parse", "--verify", "--quiet", f"{base_ref}^{{commit}}")
    except ReviewError:
        raise ReviewError(f"{base_ref!r} is not a commit in {project} (fetch it first?)") from None
    head_stacks = stacks_in(project)
    with base_tree(project, commit) as tree:
        base_stacks = stacks_in(tree)
        names = sorted(head_stacks | base_stacks) if only is None else [only]
        if only is not None and only not in head_stacks | base_stacks:
            raise ReviewError(
                f"stack config file Pulumi.{only}.yaml exists neither at {base_ref} nor in the working tree"
            )
        with ThreadPoolExecutor(max_workers=2) as pool:
            base_job = pool.submit(snapshot, tree, [n for n in names if n in base_stacks])
            head_job = pool.submit(snapshot, project, [n for n in names if n in head_stacks])
            base_rendered, head_rendered = base_job.result(), head_job.result()
    for side, rendered in ((f"base {base_ref}", base_rendered), ("the working tree", head_rendered)):
        for stack, result in rendered.items():
            if result["error"]:
                raise ReviewError(f"stack {stack} at {side}: {result['error']}")
    labels = (base_ref, "working tree")
    stacks = []
    for name in names:
        base, head = _objects(base_rendered.get(name)), _objects(head_rendered.get(name))
        if name not in head_stacks:
            base = []  # a stack file removed deletes nothing by itself: the report says so instead
        status = (
            "changed" if name in base_stacks and name in head_stacks else "added" if name in head_stacks else "removed"
        )
        stacks.append(
            report.StackReport(
                diff=compare(name, base, head, labels),
                status=status,
                note=(head_rendered.get(name) or {}).get("note"),
                ocm_versions=(
                    (base_rendered.get(name) or {}).get("ocmVersion"),
                    (head_rendered.get(name) or {}).get("ocmVersion"),
                ),
                findings=_findings(base, head, _policy_config(project, name)),
                preview=preview.run(project, name) if run_preview and name in head_stacks else None,
            )
        )
    return report.markdown(f"`{base_ref}` ({commit[:12]})", "working tree", stacks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make review", description=__doc__)
    parser.add_argument("--base", required=True, help="git ref to compare with, e.g. origin/main")
    parser.add_argument("--stack", help="only this stack (default: every Pulumi.<stack>.yaml at either side)")
    parser.add_argument("--no-preview", action="store_true", help="never run `pulumi preview`, even where it could")
    args = parser.parse_args(argv)
    try:
        text = review(args.base, args.stack, run_preview=not args.no_preview)
    except ReviewError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
