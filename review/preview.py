"""`pulumi preview --diff` with the guardrails, when a backend and a cluster are there to ask.

It runs only when the CLI is on PATH, a backend is configured (PULUMI_BACKEND_URL, or
PULUMI_ACCESS_TOKEN for Pulumi Cloud) and the stack names a cluster (`kubernetes:kubeconfig` or
`kubernetes:context` in its config, KUBECONFIG, or ~/.kube/config); otherwise the report says which
of these is missing. Secrets stay masked: the CLI prints `[secret]` unless `--show-secrets` is
given, and it never is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from config.loader import stack_config

TIMEOUT_SECONDS = 1800
# A dynamic resource's serialized provider: one long opaque line, of no use to a reviewer.
_INTERNAL = re.compile(r"^\s*[-+~]?\s*__provider:")


@dataclass(frozen=True)
class Preview:
    stack: str
    ran: bool
    ok: bool
    text: str  # the CLI's output when it ran, else why it did not


def skip_reason(project: Path, stack: str, env: Mapping[str, str]) -> str | None:
    """Why `pulumi preview` cannot run for this stack here, or None when it can."""
    if shutil.which("pulumi", path=env.get("PATH")) is None:
        return "the Pulumi CLI is not on PATH"
    if not (env.get("PULUMI_BACKEND_URL") or env.get("PULUMI_ACCESS_TOKEN")):
        return "no backend is configured (set PULUMI_BACKEND_URL, or PULUMI_ACCESS_TOKEN for Pulumi Cloud)"
    if not _names_a_cluster(project / f"Pulumi.{stack}.yaml", env):
        return "no cluster is configured (kubernetes:kubeconfig or kubernetes:context, KUBECONFIG, or ~/.kube/config)"
    return None


def _names_a_cluster(stack_file: Path, env: Mapping[str, str]) -> bool:
    if env.get("KUBECONFIG") or (Path(env.get("HOME", "~")).expanduser() / ".kube" / "config").is_file():
        return True
    config = stack_config(stack_file) if stack_file.is_file() else {}
    return any(key in config for key in ("kubernetes:kubeconfig", "kubernetes:context"))


def command(project: Path, stack: str) -> list[str]:
    """The preview CI runs: the stack's diff, checked by the policy pack with the stack's policy config."""
    args = ["pulumi", "preview", "--diff", "--stack", stack, "--non-interactive", "--color", "never"]
    args += ["--policy-pack", str(project / "policy")]
    config = project / "policy" / "config" / f"{stack}.json"
    if config.is_file():
        args += ["--policy-pack-config", str(config)]
    return args


def run(project: Path, stack: str, env: Mapping[str, str] | None = None) -> Preview:
    env = dict(os.environ if env is None else env)
    reason = skip_reason(project, stack, env)
    if reason is not None:
        return Preview(stack, ran=False, ok=False, text=f"skipped: {reason}")
    try:
        proc = subprocess.run(
            command(project, stack),
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Preview(stack, ran=True, ok=False, text=f"pulumi preview did not finish in {TIMEOUT_SECONDS}s")
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if not _INTERNAL.match(line)]
    return Preview(stack, ran=True, ok=proc.returncode == 0, text="\n".join(lines))
