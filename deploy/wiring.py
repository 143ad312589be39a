"""The real parts behind deploy.flow's interfaces: the sandbox's local clusters and tool builds,
Pulumi's Automation API, the kube context."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sandbox
from deploy.context import configured_context, current_context
from deploy.engine import Engine, at_hand, find_cli
from deploy.flow import Confirm, Console, Deploy, DeployError, Local
from sandbox import tools


def local_stack(root: Path, stack: str) -> sandbox.LocalStack:
    """How `stack` runs on the local clusters (sandbox.local_stack); a name that cannot be a stack is
    an error, not a traceback."""
    try:
        return sandbox.LocalStack(root, stack)
    except ValueError as err:
        raise DeployError(1, f"error: {err}") from None


class LocalClusters:
    """deploy.flow's `Sandbox`: the sandbox's local clusters, and its one word on how a stack runs on
    them (`sandbox.LocalStack`: the marker, the rewritten stack file, the hub's kubeconfig)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def start(self) -> None:
        """Missing cluster tools are built (saying what and how long); Ctrl-C meanwhile removes the
        clusters this run began (the sandbox does) and is raised again."""
        try:
            sandbox.start(build=True)
        except sandbox.ClusterError as err:
            raise DeployError(1, f"error: the local clusters did not start: {err}") from None

    def stop(self) -> None:
        sandbox.stop()

    def healthy(self) -> bool:
        return sandbox.healthy()

    def pids(self) -> list[int]:
        return sandbox.pids()

    def status(self) -> dict[str, str]:
        return sandbox.status()

    def is_local(self, stack: str) -> bool:
        return local_stack(self._root, stack).active()

    def mark_local(self, stack: str, local: bool) -> None:
        on_clusters = local_stack(self._root, stack)
        if local:
            on_clusters.activate()
        else:
            on_clusters.deactivate()

    def local_run(self, stack: str) -> Local:
        on_clusters = local_stack(self._root, stack)
        try:
            return Local(on_clusters.config_file(), on_clusters.kubeconfig)
        except sandbox.ClusterError as err:
            raise DeployError(1, f"error: {err}") from None


class BuiltTools:
    """deploy.engine's `Tools`: the Pulumi CLI, its Python host and the kubernetes plugin built from
    pinned Go modules (sandbox.tools)."""

    def built(self) -> bool:
        return not tools.missing(tools.PULUMI_TOOLS)

    def complete(self) -> bool:
        return not tools.missing(tools.UP_TOOLS)

    def ensure(self) -> Path:
        tools.ensure(tools.UP_TOOLS)  # the CLI laid out as an install root, the plugin installed
        return tools.pulumi_root()

    def env(self) -> dict[str, str]:
        return tools.pulumi_env()


def build_plan(local: bool) -> str | None:
    """The tools this `make up` builds before it deploys, with one estimate: the Pulumi CLI's when none is
    at hand, the local clusters' when it will start them (LOCAL=1, or no kube context configured)."""
    cli = [] if at_hand(BuiltTools()) else tools.missing(tools.UP_TOOLS)
    clusters = tools.missing(sandbox.start_tools()) if local or configured_context() is None else []
    names = [*cli, *(name for name in clusters if name not in cli)]
    if not names:
        return None
    line = (
        f"first building {len(names)} tools from pinned Go modules, {tools.estimate(names)} on 2 cores "
        f"(once; cached in {tools.cache_dir()}): {', '.join(names)}"
    )
    return line + ("; the Pulumi CLI's only if its installer cannot be reached" if cli else "")


def wired(root: Path, stack: str, confirm: Confirm, token: str, validate: Callable[[str], str | None]) -> Deploy:
    console = Console()

    def find() -> Engine:
        command, env = find_cli(BuiltTools(), console)
        return Engine(root, command, env, token, console)

    # A CLI at hand (nothing to build or download) is found while the stack file is checked; it is
    # named only once the check passed, as deploy.flow does it.
    early = ThreadPoolExecutor(1, "find-pulumi").submit(find) if at_hand(BuiltTools()) else None

    def pulumi() -> Engine:
        engine = early.result() if early is not None else find()
        console.say(f"using {engine.cli}")
        console.say(f"state backend: {engine.backend}")
        return engine

    return Deploy(
        root=root,
        stack=stack,
        confirm=confirm,
        pulumi=pulumi,
        sandbox=LocalClusters(root),
        validate=validate,
        build_plan=build_plan,
        kube_context=current_context,
        token=token,
        console=console,
    )
