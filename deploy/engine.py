"""Pulumi through its Automation API (`pulumi.automation`): the CLI found or built, the state backend,
the stack, and each operation with pulumi's output shown as it comes.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import yaml
from pulumi import automation as auto

from config import names
from deploy.flow import EXIT_FAILED, Console, DeployError, Local, PulumiError, failed
from deploy.procs import TOKEN_ENV

PASSPHRASE_CHECK_KEY = "ocm-hub:passphraseCheck"
SALT_KEY = "encryptionsalt"  # the stack file's key for the salt of the passphrase secrets provider
INSTALLER_TIMEOUT = 20.0  # seconds for each network read of the official installer
INSTALL_DOCS = "https://www.pulumi.com/docs/install/"
# After a destroy, pulumi suggests `pulumi stack rm`, a CLI the user may not have on PATH: the
# command removes the stack itself (deploy.flow), so these lines are not shown.
STACK_RM_HINT = (
    "The resources in the stack have been deleted, but the history and configuration",
    "If you want to remove the stack completely, run `pulumi stack rm",
)
# How the SDK words a failed command (`CommandResult.__str__`); tests/test_deploy_engine.py holds it to that.
_RESULT = re.compile(r"\A\n code: (?P<code>-?\d+)\n stdout: .*?\n stderr: (?P<stderr>.*)\Z", re.DOTALL)


class Tools(Protocol):
    """The Pulumi CLI built from pinned Go modules (the sandbox's tool builds)."""

    def built(self) -> bool: ...
    def complete(self) -> bool: ...  # built, and nothing else `make up` needs is missing
    def ensure(self) -> Path: ...  # builds what is missing; returns the install root
    def env(self) -> dict[str, str]: ...


def command_result(err: auto.CommandError) -> tuple[int | None, str]:
    """The exit code (negative: the signal that ended it) and stderr of a failed pulumi command."""
    match = _RESULT.match(str(err))
    if match is None:
        return None, str(err).strip()
    return int(match["code"]), match["stderr"].strip()


@contextmanager
def quick() -> Iterator[None]:
    """A short pulumi command: its error ends the command as pulumi wrote it."""
    try:
        yield
    except auto.CommandError as err:
        raise DeployError(EXIT_FAILED, command_result(err)[1] or "error: pulumi failed") from None


def _home_root() -> Path:
    return Path.home() / ".pulumi"


def at_hand(tools: Tools) -> bool:
    """Whether find_cli finds a CLI without building or downloading anything."""
    return bool(shutil.which("pulumi")) or os.access(_home_root() / "bin" / "pulumi", os.X_OK) or tools.complete()


def find_cli(tools: Tools, console: Console) -> tuple[auto.PulumiCommand, dict[str, str]]:
    """The user's CLI (PATH, ~/.pulumi/bin), else the one built here before, else the official
    installer's, else one built from pinned Go modules; with the environment it runs in."""
    home_root = _home_root()
    if shutil.which("pulumi"):
        return auto.PulumiCommand(), {}
    if os.access(home_root / "bin" / "pulumi", os.X_OK):
        return auto.PulumiCommand(root=str(home_root)), {}
    if tools.built():
        return auto.PulumiCommand(root=str(tools.ensure())), tools.env()
    installed = _install()
    if installed is not None:
        return installed, {}
    if not shutil.which("go"):
        raise failed(
            f"no Pulumi CLI, its installer cannot be reached, and no Go to build one: install Pulumi ({INSTALL_DOCS})"
        )
    console.say("no Pulumi CLI and its installer cannot be reached: building one from pinned Go modules")
    return auto.PulumiCommand(root=str(tools.ensure())), tools.env()


def _install() -> auto.PulumiCommand | None:
    """The CLI of the SDK's version from the official installer, as the Automation API installs it
    (~/.pulumi/versions/<version>), or None when it cannot be had."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(INSTALLER_TIMEOUT)  # the SDK downloads the installer with no timeout of its own
    try:
        return auto.PulumiCommand.install()
    except Exception:  # offline, blocked, a failed install: each means "not from the installer"
        return None
    finally:
        socket.setdefaulttimeout(previous)


class Engine:
    """The project's stacks in one state backend, run with one CLI (deploy.flow's `Pulumi`)."""

    def __init__(self, root: Path, command: auto.PulumiCommand, env: Mapping[str, str], token: str, console: Console):
        self.backend = os.environ.get("PULUMI_BACKEND_URL") or (root / ".pulumi-state").as_uri()
        # The stack's secrets: an empty passphrase for local use unless the user gave one.
        given = {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} & os.environ.keys()
        self._env = {
            **({} if given else {"PULUMI_CONFIG_PASSPHRASE": ""}),
            **env,
            "PULUMI_BACKEND_URL": self.backend,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            TOKEN_ENV: token,
        }
        self._workspace = auto.LocalWorkspace(work_dir=str(root), env_vars=dict(self._env), pulumi_command=command)
        self._root = root
        self._console = console
        self.cli = f"{shutil.which(command.command) or command.command} (v{command.version})"

    def _show(self, line: str) -> None:
        if not line.startswith(STACK_RM_HINT):
            self._console.out(line)

    def _backend_ready(self) -> None:
        """The project's own state directory, made when a stack is first selected (not before the stack
        file passed its check: deploy.wiring makes the Engine while it runs)."""
        if self.backend == (self._root / ".pulumi-state").as_uri():
            (self._root / ".pulumi-state").mkdir(exist_ok=True)

    def select(self, stack: str) -> CliStack | None:
        self._backend_ready()
        with quick():
            try:
                return CliStack(auto.Stack.select(stack, self._workspace), self)
            except auto.StackNotFoundError:
                return None

    def create_or_select(self, stack: str) -> CliStack:
        self._backend_ready()
        stack_file = self._root / f"Pulumi.{stack}.yaml"
        written = stack_file.read_text(encoding="utf-8") if stack_file.is_file() else None
        with quick():
            try:
                selected = CliStack(auto.Stack.select(stack, self._workspace), self)
            except auto.StackNotFoundError:
                selected = CliStack(auto.Stack.create(stack, self._workspace), self, created=True)
        if written is not None:
            selected.salted_now = SALT_KEY in keep_as_written(stack_file, written)
        return selected

    def check_passphrase(self, stack: str) -> None:
        """Encrypting a value makes Pulumi check the passphrase against the stack file's salt: done in
        a scratch copy, so the stack file stays as written."""
        with tempfile.TemporaryDirectory(prefix="ocm-hub-passphrase-") as scratch:
            copy = Path(scratch) / f"Pulumi.{stack}.yaml"
            shutil.copyfile(self._root / f"Pulumi.{stack}.yaml", copy)
            with quick():
                self._workspace.cli_api.config_set(
                    PASSPHRASE_CHECK_KEY,
                    "ok",
                    secret=True,
                    stack=stack,
                    config_file=str(copy),
                    cwd=str(self._root),
                    additional_env=self._env,
                )

    def run(self, operation: Callable[..., object], target: Local | None, **options: Any) -> None:
        """A long operation: pulumi's output shown live (in color on a terminal), `PulumiError` when it
        fails. On the local clusters pulumi gets their stack file and their hub's kubeconfig."""
        env = dict(self._env)
        if target is not None:
            env["KUBECONFIG"] = str(target.kubeconfig)
        self._workspace.env_vars = env
        color = "always" if sys.stdout.isatty() else None
        try:
            operation(
                on_output=self._show,
                on_error=self._console.err,
                color=color,
                config_file=str(target.config_file) if target else None,
                **options,
            )
        except auto.CommandError as err:
            code, _ = command_result(err)
            raise PulumiError(-code if code is not None and code < 0 else None) from None


def keep_as_written(stack_file: Path, written: str) -> dict[str, Any]:
    """A new stack's `pulumi stack init` saves the stack file re-serialized (comments gone, values
    requoted) to add its secrets keys (`encryptionsalt`): put the user's text back, with only the keys
    pulumi added appended; returns those."""
    now = stack_file.read_text(encoding="utf-8")
    if now == written:
        return {}
    before = yaml.safe_load(written) or {}
    after = yaml.safe_load(now) or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return {}
    added = {key: value for key, value in after.items() if key not in before}
    text = written if written.endswith("\n") or not written else written + "\n"
    stack_file.write_text(text + (yaml.safe_dump(added, sort_keys=False) if added else ""), encoding="utf-8")
    return added


class CliStack:
    """One selected stack (deploy.flow's `Stack`)."""

    def __init__(self, stack: auto.Stack, engine: Engine, *, created: bool = False) -> None:
        self._stack = stack
        self._engine = engine
        self.salted_now = False
        self._drift_urns: list[str] = []
        # The state as last exported, until an operation changes it: one `pulumi stack export` answers
        # both pending_operations and drift_checked, and none for a stack `pulumi stack init` just made.
        self._state: dict[str, Any] | None = {} if created else None

    def _run(self, operation: Callable[..., object], target: Local | None, **options: Any) -> None:
        self._state = None
        self._engine.run(operation, target, **options)

    def preview(self, target: Local | None) -> None:
        self._run(self._stack.preview, target)

    def up(self, target: Local | None) -> None:
        self._run(self._stack.up, target)

    def refresh_pending(self, target: Local | None) -> None:
        self._run(self._stack.refresh, target, clear_pending_creates=True)

    def drift_checked(self) -> list[str]:
        """The stack's ClusterManager, which other clients change too (OCM's e2e suite sets its gates); kept
        for refresh_drift_checked."""
        resources = self._deployment().get("resources") or []
        self._drift_urns = [r["urn"] for r in resources if r.get("type") == names.CLUSTER_MANAGER_TYPE]
        return [f"{names.CLUSTER_MANAGER_KIND} {urn.rsplit('::', 1)[-1]}" for urn in self._drift_urns]

    def refresh_drift_checked(self, target: Local | None) -> None:
        urns = self._drift_urns
        self._run(lambda **options: self._stack.refresh(target=urns, **options), target)

    def preview_destroy(self, target: Local | None) -> None:
        self._run(self._stack.preview_destroy, target)

    def destroy(self, target: Local | None) -> None:
        self._run(self._stack.destroy, target)

    def _deployment(self) -> dict[str, Any]:
        if self._state is None:
            with quick():
                self._state = dict(self._stack.export_stack().deployment or {})
        return self._state

    def pending_operations(self) -> list[str]:
        """What an update stopped hard left unfinished, as `creating ocm-hub-readiness`."""
        operations = self._deployment().get("pending_operations") or []
        return [f"{op['type']} {op['resource']['urn'].rsplit('::', 1)[-1]}" for op in operations]

    def resource_count(self) -> int:
        return len(self._deployment().get("resources") or [])

    def cancel(self) -> None:
        """Releases the stack's lock that a pulumi ended by a signal left (nothing to do otherwise)."""
        with suppress(auto.CommandError):
            self._stack.cancel()

    def remove(self, *, force: bool) -> None:
        with quick():
            self._stack.workspace.remove_stack(self._stack.name, force=force, preserve_config=True)
