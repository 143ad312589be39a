"""The real parts behind deploy.flow's interfaces: the local clusters and the tool builds of hack/
(through their command lines, until the sandbox package gives them a Python interface), Pulumi's
Automation API, the kube context."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from deploy.context import current_context
from deploy.engine import Engine, find_cli
from deploy.flow import Confirm, Console, Deploy, DeployError, Local

UP_TOOLS = ("pulumi", "pulumi-language-python", "pulumi-resource-kubernetes")


def _hack(root: Path, module: str, *args: str, quiet: bool = True) -> subprocess.CompletedProcess[str]:
    """python -m MODULE ARGS; its progress (stderr) shown unless quiet, its stdout returned."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
        check=False,
    )


def _waited(proc: subprocess.Popen[str]) -> int:
    """The exit code of `proc`, which got the terminal's SIGINT too and ends as it does (the local
    clusters it was creating removed); Ctrl-C meanwhile is raised once it has."""
    interrupted = False
    while True:
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            interrupted = True
            continue
        if interrupted:
            raise KeyboardInterrupt
        return code


class LocalClusters:
    """deploy.flow's `Sandbox`: sandbox/clusters.py, and how a stack runs on its clusters: marked in
    .e2e/local-stacks/<stack> (what `make status` and `make down` read), with the stack file rewritten for
    the clusters' chart repository beside the marker, and the hub's kubeconfig."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._stacks = root / ".e2e" / "local-stacks"
        self.kubeconfig = root / ".e2e" / "hub.kubeconfig"

    def start(self) -> None:
        with subprocess.Popen(
            [sys.executable, "-m", "sandbox", "up"],
            cwd=self._root,
            stdout=subprocess.DEVNULL,
            text=True,
        ) as proc:
            if _waited(proc):
                raise DeployError(1, "error: the local clusters did not start (see above)")

    def stop(self) -> None:
        _hack(self._root, "sandbox", "down", quiet=False)

    def healthy(self) -> bool:
        return _hack(self._root, "sandbox", "check").returncode == 0

    def pids(self) -> list[int]:
        return [int(pid) for pid in _hack(self._root, "sandbox", "pids").stdout.split()]

    def status(self) -> dict[str, str]:
        lines = _hack(self._root, "sandbox", "status").stdout.splitlines()
        return dict(line.split(": ", 1) for line in lines if ": " in line)

    def is_local(self, stack: str) -> bool:
        return (self._stacks / stack).is_file()

    def mark_local(self, stack: str, local: bool) -> None:
        if local:
            self._stacks.mkdir(parents=True, exist_ok=True)
            (self._stacks / stack).touch()
        else:
            (self._stacks / stack).unlink(missing_ok=True)
            (self._stacks / f"Pulumi.{stack}.yaml").unlink(missing_ok=True)

    def local_run(self, stack: str) -> Local:
        rewritten = _hack(self._root, "sandbox", "stack-config", f"Pulumi.{stack}.yaml", quiet=False)
        if rewritten.returncode:
            raise DeployError(1, "error: the stack file could not be rewritten for the local clusters (see above)")
        config_file = self._stacks / f"Pulumi.{stack}.yaml"
        config_file.write_text(rewritten.stdout, encoding="utf-8")
        return Local(config_file, self.kubeconfig)


class BuiltTools:
    """deploy.engine's `Tools`: the Pulumi CLI, its Python host and the kubernetes plugin built from
    pinned Go modules by sandbox/tools.py."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def env(self) -> dict[str, str]:
        printed = _hack(self._root, "sandbox.tools", "--print-env")
        return dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in printed.stdout.splitlines())

    def built(self) -> bool:
        return _hack(self._root, "sandbox.tools", "--print-env").returncode == 0

    def ensure(self) -> Path:
        built = _hack(self._root, "sandbox.tools", "--only", *UP_TOOLS, quiet=False)
        if built.returncode:
            raise DeployError(1, "error: the Pulumi CLI could not be built (see above)")
        return Path(self.env()["PATH"].split(":", 1)[0]).parent


def wired(root: Path, stack: str, confirm: Confirm, token: str, validate: Callable[[str], str | None]) -> Deploy:
    console = Console()

    def pulumi() -> Engine:
        command, env = find_cli(BuiltTools(root), console)
        engine = Engine(root, command, env, token, console)
        console.say(f"using {engine.describe}")
        console.say(f"state backend: {engine.backend}")
        return engine

    return Deploy(
        root=root,
        stack=stack,
        confirm=confirm,
        pulumi=pulumi,
        sandbox=LocalClusters(root),
        validate=validate,
        kube_context=current_context,
        token=token,
        console=console,
    )
