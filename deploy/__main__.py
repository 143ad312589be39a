"""`make up`, `make down` and `make status` (see deploy/__init__.py):

    python -m deploy up --stack NAME [--yes] [--local]
    python -m deploy down --stack NAME [--yes]
    python -m deploy status --stack NAME [--json]

Exit codes: 0 done, 1 failed (one `error:` line, or pulumi's own), 2 invalid stack file, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from deploy.flow import Confirm, DeployError

ROOT = Path(__file__).resolve().parents[1]


def confirm_mode(yes: bool) -> Confirm:
    """YES=1 or CI apply without asking; on a terminal pulumi's preview is shown and the user asked."""
    if yes or os.environ.get("CI"):
        return Confirm.YES
    if sys.stdin.isatty() and sys.stdout.isatty():
        return Confirm.ASK
    return Confirm.NO_TERMINAL


def start_validation(stack: str) -> Callable[[str], str | None]:
    """The stack file checked exactly as the program reads it (`python -m render`), started before this
    process imports the Automation API, so both run at once (about a second each); the returned call
    waits for its answer. Its notes are about the offline render, so they are shown only when it
    fails. Its own process group: Ctrl-C lets it end (it is short) instead of printing a
    KeyboardInterrupt traceback."""
    check = subprocess.Popen(
        [sys.executable, "-m", "render", "--stack", stack],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
    )

    def problems(_stack: str) -> str | None:
        _, stderr = check.communicate()
        return stderr if check.returncode else None

    return problems


def status(stack: str, as_json: bool) -> int:
    """The hub and its fleet; on the local clusters when the stack was deployed there. (`up` and `down`
    reach the product only through pulumi, `python -m render` and the plain names of config/names.py:
    only `status` imports it.)"""
    from deploy.wiring import local_stack
    from fleetstatus.__main__ import main as fleetstatus

    if kubeconfig := local_stack(ROOT, stack).kubeconfig_to_use():
        os.environ["KUBECONFIG"] = str(kubeconfig)
    return fleetstatus(["--stack", stack, *(["--json"] if as_json else [])])


def _unused(stack: str) -> str | None:
    raise AssertionError(f"only make up validates the stack file ({stack})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--yes", action="store_true", help="apply without asking (YES=1)")
    parser.add_argument(
        "--local", action="store_true", help="on the local clusters, whatever the kube context (LOCAL=1)"
    )
    parser.add_argument("--json", action="store_true", help="status as JSON (JSON=1)")
    args = parser.parse_args(argv)
    if args.command == "status":
        try:
            return status(args.stack, args.json)
        except DeployError as stop:
            print(stop.line, file=sys.stderr)
            return stop.code

    validate = start_validation(args.stack) if args.command == "up" else _unused
    from deploy.wiring import wired  # the Automation API: imported while the stack file is checked

    token = f"{os.getpid()}-{secrets.token_hex(8)}"
    deploy = wired(ROOT, args.stack, confirm_mode(args.yes), token, validate)
    return deploy.execute(lambda: deploy.up(local=args.local) if args.command == "up" else deploy.down())


if __name__ == "__main__":
    sys.exit(main())
