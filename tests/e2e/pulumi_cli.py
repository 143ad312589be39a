"""The Pulumi CLI that sandbox/tools.py built, driven the way a user drives it.

One subprocess per command, in a project directory of its own, with a local file state backend and
a passphrase secrets provider in a temporary directory: nothing touches ~/.pulumi, the repository's
.pulumi-state/ or any cloud service. Every command is bounded; on timeout its whole process group
(the CLI, the language host, the program and the plugins it started) is stopped.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploy import procs
from sandbox import tools

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
DEFAULT_TIMEOUT = 300.0
KILL_GRACE = 10.0


class PulumiCommandError(AssertionError):
    """A pulumi command failed or timed out; carries its output, which says why."""

    def __init__(self, args: list[str], result: Result | None, reason: str) -> None:
        self.result = result
        output = f"\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}" if result else ""
        super().__init__(f"pulumi {' '.join(args)}: {reason}{output}")


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    finished_at: float  # time.time() when the command exited

    def json(self) -> Any:
        return json.loads(self.stdout)


def missing_binaries() -> list[str]:
    return tools.missing(tools.PULUMI_TOOLS)


def base_env() -> dict[str, str]:
    """The built CLI on PATH, its own PULUMI_HOME, no update checks, no plugin downloads, no cloud."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PULUMI_")}
    env.update(tools.pulumi_env(VENV_PYTHON))
    return env


@dataclass
class Project:
    """A Pulumi project directory with its own state backend and passphrase."""

    directory: Path
    state: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    passphrase: str = field(default_factory=lambda: secrets.token_hex(16))

    @property
    def env(self) -> dict[str, str]:
        return {
            **base_env(),
            "PULUMI_BACKEND_URL": self.state.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
            **self.extra_env,
        }

    def run(self, *args: str, timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> Result:
        """Run `pulumi --non-interactive ARGS` in the project; raise PulumiCommandError on failure."""
        argv = ["--non-interactive", *args]
        started = time.monotonic()
        token = secrets.token_hex(8)  # pulumi's plugins run in sessions of their own: found by this
        proc = subprocess.Popen(
            [str(tools.pulumi_root() / "bin" / "pulumi"), *argv],
            cwd=self.directory,
            env={**self.env, procs.TOKEN_ENV: token},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, so a timeout stops the plugins too
        )
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stdout, stderr = _stop(proc)
            procs.sweep(token)
            result = Result(proc.returncode, stdout, stderr, time.monotonic() - started, time.time())
            raise PulumiCommandError(argv, result, f"timed out after {timeout:.0f}s") from None
        result = Result(proc.returncode, stdout, stderr, time.monotonic() - started, time.time())
        if check and result.returncode != 0:
            raise PulumiCommandError(argv, result, f"exit status {result.returncode}")
        return result


def _stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM the command's process group (ours: start_new_session), then SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.communicate(timeout=KILL_GRACE)
        except subprocess.TimeoutExpired:
            continue
    return proc.communicate()


def as_new_stack(text: str) -> str:
    """A stack file as a new stack in a backend of its own has it: without the `encryptionsalt` a `make up`
    (or `make conformance`) in the work tree appended, made from that run's passphrase, not the copy's."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("encryptionsalt:"))


def copy_tracked(root: Path) -> None:
    """The files git tracks, as a fresh clone has them (its stack files as_new_stack), and .venv linked:
    built from these very requirements files, so `make` in the copy does not install again."""
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    for name in listed.stdout.splitlines():
        source = REPO_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
            if "/" not in name and name.startswith("Pulumi.") and name != "Pulumi.yaml":
                (root / name).write_text(as_new_stack(source.read_text(encoding="utf-8")), encoding="utf-8")
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    installed = (REPO_ROOT / ".venv" / ".installed").stat().st_mtime_ns
    for name in ("requirements.txt", "requirements-dev.txt"):
        os.utime(root / name, ns=(installed, installed))


def copy_project(target: Path, files: tuple[str, ...]) -> Path:
    """Copy the program (not its state or stack files) so tests never write into the work tree.

    .venv is linked, not copied: Pulumi.yaml names it relative to the project.
    """
    target.mkdir(parents=True)
    for name in files:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(REPO_ROOT / ".venv")
    return target
