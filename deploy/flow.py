"""What `make up`, `make down` and `make status` do, step by step, and every line they say.

The steps talk to Pulumi, the local clusters and the kube context through the small interfaces
below, so tests run the whole flow with fakes; `deploy.wiring` gives the real ones. A step that cannot go on raises `DeployError` with the exit code and the line that says why.
"""

from __future__ import annotations

import contextlib
import enum
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol

from deploy import procs
from deploy.guard import Guard, Ladder, Watch, stop_gently

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130


class DeployError(Exception):
    """The command ends here: `code`, and the line that says why (none when pulumi said it)."""

    def __init__(self, code: int, line: str | None = None) -> None:
        super().__init__(line)
        self.code = code
        self.line = line


def failed(message: str) -> DeployError:
    return DeployError(EXIT_FAILED, f"error: {message}")


class PulumiError(Exception):
    """A pulumi operation that did not succeed; `signal` when a signal ended pulumi (it said nothing)."""

    def __init__(self, signal_number: int | None = None) -> None:
        super().__init__(signal_number)
        self.signal = signal_number


@dataclass(frozen=True)
class Local:
    """How a stack runs on the local clusters: the stack file rewritten for them, their hub's kubeconfig."""

    config_file: Path
    kubeconfig: Path


class Confirm(enum.Enum):
    YES = "yes"  # YES=1 or CI: apply without asking
    ASK = "ask"  # on a terminal: show the preview, then ask as `pulumi up` does
    NO_TERMINAL = "no-terminal"  # nobody to ask: preview only


class Stack(Protocol):
    """One stack, selected, through Pulumi's Automation API. Every operation shows pulumi's output
    as it comes and raises `PulumiError` when pulumi does not succeed."""

    salted_now: bool  # its secrets salt was made by this run, from this run's passphrase

    def preview(self, target: Local | None) -> None: ...
    def up(self, target: Local | None) -> None: ...
    def refresh_pending(self, target: Local | None) -> None: ...
    # What other clients change too, as `ClusterManager ocm-hub-cluster-manager`; then a refresh of those.
    def drift_checked(self) -> list[str]: ...
    def refresh_drift_checked(self, target: Local | None) -> None: ...
    def preview_destroy(self, target: Local | None) -> None: ...
    def destroy(self, target: Local | None) -> None: ...
    def pending_operations(self) -> list[str]: ...
    def resource_count(self) -> int: ...
    def cancel(self) -> None: ...
    def remove(self, *, force: bool) -> None: ...


class Pulumi(Protocol):
    backend: str

    def check_passphrase(self, stack: str) -> None: ...
    def select(self, stack: str) -> Stack | None: ...  # None: it does not exist
    def create_or_select(self, stack: str) -> Stack: ...


class Sandbox(Protocol):
    """The local clusters (hub and managed-1) and how a stack runs on them."""

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def healthy(self) -> bool: ...
    def pids(self) -> list[int]: ...
    def status(self) -> dict[str, str]: ...
    def is_local(self, stack: str) -> bool: ...
    def mark_local(self, stack: str, local: bool) -> None: ...
    def local_run(self, stack: str) -> Local: ...  # writes the rewritten stack file


class Console:
    """Progress lines (`==> `) and pulumi's output on stdout, errors on stderr, questions on the terminal.
    pulumi's two streams come from two reader threads: a lock keeps their lines whole."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def say(self, text: str) -> None:
        self.out(f"==> {text}")

    def out(self, line: str) -> None:
        with self._lock:
            print(line, flush=True)

    def err(self, line: str) -> None:
        with self._lock:
            print(line, file=sys.stderr, flush=True)

    def ask(self, question: str) -> bool:
        try:
            answer = input(f"{question} [yes/no] ")
        except EOFError:
            return False
        return answer.strip().lower() in {"y", "yes"}


class Interrupts:
    """Ctrl-C: the terminal sends SIGINT to the whole foreground group. pulumi (a child in the group)
    gets it and cancels as it does; this process only notes it and waits for pulumi to end. Only the
    steps that may be broken off (finding or building the CLI, starting the local clusters, which
    removes what it was creating; a question) get a KeyboardInterrupt; after every other step `check`
    ends the command."""

    def __init__(self) -> None:
        self.received = False
        self._breakable = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        self.received = True
        if self._breakable:
            self._breakable = False
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def breakable(self) -> Iterator[None]:
        self.check()
        self._breakable = True
        try:
            yield
        finally:
            self._breakable = False

    def check(self) -> None:
        if self.received:
            raise KeyboardInterrupt


@dataclass
class Deploy:
    """`make up|down|status STACK=<stack>` in the project at `root`."""

    root: Path
    stack: str
    confirm: Confirm
    pulumi: Callable[[], Pulumi]  # found (or built) on first use
    sandbox: Sandbox
    validate: Callable[[str], str | None]  # the problems of the stack's file, or None
    build_plan: Callable[[bool], str | None]  # what `up` (LOCAL=1 or not) will build first, None: nothing
    kube_context: Callable[[], str | None]  # the current context, None without one; raises if it does not answer
    token: str  # in the environment of everything this run's pulumi starts
    console: Console = field(default_factory=Console)
    interrupts: Interrupts = field(default_factory=Interrupts)
    ladder: Ladder = field(default_factory=Ladder)
    _command: str = field(default="up", init=False)
    _doing: str | None = field(default=None, init=False)  # the pulumi operation that changes things, while it runs

    def execute(self, command: Callable[[], None]) -> int:
        """Runs `command` (`up` or `down`) to its exit code: whatever happens, one line says why it
        stopped (never a traceback), and nothing the run's pulumi started is left running."""
        self.interrupts.install()
        try:
            command()
        except DeployError as stop:
            if stop.line:
                self.console.err(stop.line)
            return stop.code
        except KeyboardInterrupt:
            self.console.err(self.interrupted_line())
            return EXIT_INTERRUPTED
        except SystemExit as exit_:  # a tool build that failed says why in its message
            if isinstance(exit_.code, str):
                self.console.err(f"error: {exit_.code}")
                return EXIT_FAILED
            raise
        finally:
            procs.sweep(self.token)
        return 0

    # --- make up -----------------------------------------------------------------------------------

    def up(self, *, local: bool) -> None:
        self._command = "up"
        self._stack_file_valid()
        if plan := self.build_plan(local):  # said once, before the first build starts
            self.console.say(plan)
        with self.interrupts.breakable():
            pulumi = self.pulumi()
        with ThreadPoolExecutor(1, "select-stack") as pool:
            selecting = pool.submit(self._selected, pulumi)
            try:
                on_local = self._pick_cluster(local, selecting.result)
            except BaseException:
                if not self.interrupts.received:
                    selecting.result()  # the stack's own failure is said first: its step comes first
                raise
        stack = selecting.result()
        self.interrupts.check()
        target = self._local_target() if on_local else None
        if self.confirm is Confirm.NO_TERMINAL:
            self._check_drift(stack, target)
            self._run(stack, "preview", stack.preview, target)
            raise failed(f"no terminal to confirm on: previewed only; apply with 'make up STACK={self.stack} YES=1'")
        # An update stopped hard (a second Ctrl-C, a kill) leaves pending operations in the state: pulumi
        # warns about them on every later update and never clears them. A refresh does: it reads what they
        # did and drops unfinished creates, which the update makes again (server-side apply: creating an
        # object that exists updates it).
        if pending := stack.pending_operations():
            self.console.say(
                f"the last update of stack {self.stack} stopped while {', '.join(pending)}: refreshing the stack first"
            )
            self._run(stack, "refresh", stack.refresh_pending, target)
        else:
            self._check_drift(stack, target)
        if self.confirm is Confirm.ASK:
            self._run(stack, "preview", stack.preview, target)
            if not self._ask("Do you want to perform this update?"):
                raise failed("confirmation declined, not proceeding with the update")
        self._run(stack, "update", stack.up, target)
        self.console.say(f"done: 'make status STACK={self.stack}' shows the hub and its fleet")

    def _selected(self, pulumi: Pulumi) -> Stack:
        """The stack, made if new, with its passphrase checked: a wrong PULUMI_CONFIG_PASSPHRASE shows here.
        A salt made just now is this passphrase's (a new stack whose file held no salt): nothing to check."""
        stack = pulumi.create_or_select(self.stack)
        if not stack.salted_now:
            pulumi.check_passphrase(self.stack)
        return stack

    def _check_drift(self, stack: Stack, target: Local | None) -> None:
        """A plan compares with the state, not with the hub: objects other clients change too (OCM's e2e suite
        sets the ClusterManager's feature gates) are read first, so the plan shows what they changed and the
        update sets the stack's spec back. One read each, not a refresh of the whole fleet."""
        if checked := stack.drift_checked():
            self.console.say(
                f"reading {', '.join(checked)} from the hub: what other clients changed there shows in the plan"
            )
            self._run(stack, "refresh", stack.refresh_drift_checked, target)

    def _stack_file_valid(self) -> None:
        stack_file = self.root / f"Pulumi.{self.stack}.yaml"
        if not stack_file.is_file():
            names = sorted(
                p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in self.root.glob("Pulumi.*.yaml")
            )
            raise failed(f"there is no {stack_file.name}; stacks here: {' '.join(names)}")
        self.console.say(f"validating {stack_file.name}")
        problems = self.validate(self.stack)
        self.interrupts.check()
        if problems is not None:
            raise DeployError(EXIT_INVALID, problems.rstrip("\n"))

    def _pick_cluster(self, local: bool, selected: Callable[[], Stack]) -> bool:
        """Whether the run is on the local clusters: when asked (LOCAL=1) or with no kube context at all;
        a context that is configured but does not answer stops here, never silently replaced. It runs
        while the stack is selected (about half a second each); clusters that are not running yet start
        only after `selected()`, so a wrong passphrase stops before any cluster starts."""
        context = None if local else self.kube_context()
        self.interrupts.check()
        if context is not None:
            self.console.say(f"using kube context {context}")
            self.sandbox.mark_local(self.stack, False)
            return False
        running = self.sandbox.healthy()
        if not running:
            selected()
        doing = "using the running" if running else "starting the"
        self.console.say(
            f"{'LOCAL=1: ' if local else ''}{doing} local clusters (hub and managed-1, OCM running on them)"
        )
        with self.interrupts.breakable():
            self.sandbox.start()
        return True

    def _local_target(self) -> Local:
        """The stack file rewritten for the local clusters: after the stack is selected, whose `pulumi stack
        init` writes the salt into the stack file the rewrite reads."""
        self.sandbox.mark_local(self.stack, True)
        target = self.sandbox.local_run(self.stack)
        self.console.say(f"using the local hub: KUBECONFIG={target.kubeconfig}")
        return target

    # --- make down ---------------------------------------------------------------------------------

    def down(self) -> None:
        self._command = "down"
        if self.confirm is Confirm.NO_TERMINAL:
            raise failed(f"no terminal to confirm on: destroy with 'make down STACK={self.stack} YES=1'")
        with self.interrupts.breakable():
            pulumi = self.pulumi()
        stack = pulumi.select(self.stack)
        local = self.sandbox.is_local(self.stack)
        if stack is None:
            self.console.say(f"stack {self.stack} does not exist in {pulumi.backend}: nothing to destroy")
        elif local and not self.sandbox.healthy():
            self.console.say(
                f"the local clusters are gone, and with them everything stack {self.stack} created: forgetting its state"
            )
            stack.remove(force=True)
        else:
            self._destroy(stack, self.sandbox.local_run(self.stack) if local else None)
        self.interrupts.check()
        self.sandbox.mark_local(self.stack, False)
        self.console.say("stopping the local clusters")
        self.sandbox.stop()

    def _destroy(self, stack: Stack, target: Local | None) -> None:
        """Destroy what the stack holds, then the stack itself (its history; Pulumi.<stack>.yaml stays),
        so the next `make down` finds nothing to destroy. Protected resources keep the stack."""
        if stack.resource_count():
            if self.confirm is Confirm.ASK:
                self._run(stack, "preview", stack.preview_destroy, target)
                if not self._ask("Do you want to perform this destroy?"):
                    raise failed("confirmation declined, not proceeding with the destroy")
            self._run(stack, "destroy", stack.destroy, target)
        if left := stack.resource_count():
            self.console.say(f"stack {self.stack} keeps {left} protected resources: the stack stays")
            return
        stack.remove(force=False)
        self.console.say(f"stack {self.stack} holds nothing now: removed it (Pulumi.{self.stack}.yaml stays)")

    # --- both --------------------------------------------------------------------------------------

    def _ask(self, question: str) -> bool:
        with self.interrupts.breakable():
            return self.console.ask(question)

    def _run(self, stack: Stack, what: str, operation: Callable[[Local | None], None], target: Local | None) -> None:
        """One pulumi operation, with the guard watching the local clusters when it runs on them;
        nothing it started is left running after it. A failure ends the command with the line that
        says why and the way on."""
        self.interrupts.check()
        if what != "preview":
            self._doing = what
        guard = Guard(self._watch()) if target else None
        try:
            with guard.watching() if guard else contextlib.nullcontext():
                operation(target)
            self._doing = None  # finished: an interrupt from here on stopped nothing of it
        except PulumiError as failure:
            if failure.signal is not None:  # its lock on the stack stays: release it
                stack.cancel()
            raise self._why(what, failure, target is not None, guard is not None and guard.tripped) from None
        finally:
            procs.sweep(self.token)

    def _watch(self) -> Watch:
        return Watch(
            pids=self.sandbox.pids,
            healthy=self.sandbox.healthy,
            pulumi=lambda: procs.child_carrying(self.token),
            stop=lambda pid: stop_gently(pid, lambda spare: procs.sweep(self.token, spare), self.ladder),
            said=self.console.say,
        )

    def _why(self, what: str, failure: PulumiError, local: bool, tripped: bool) -> DeployError:
        if tripped or (local and not self.sandbox.healthy()):
            states = "; ".join(f"{name}: {state}" for name, state in self.sandbox.status().items())
            return failed(
                f"the local clusters stopped during the run ({states}); "
                f"run 'make down STACK={self.stack}' and then 'make up STACK={self.stack}' again"
            )
        if self.interrupts.received:
            return DeployError(EXIT_INTERRUPTED, self.interrupted_line())
        if failure.signal is not None:
            name = signal.Signals(failure.signal).name
            return failed(f"pulumi was ended by {name} during the {what} of stack {self.stack}; {self._way_on()}")
        return DeployError(EXIT_FAILED)  # pulumi said what failed

    def _way_on(self) -> str:
        if self._doing == "destroy":
            return f"what it finished is recorded: run 'make down STACK={self.stack}' again to finish"
        return (
            f"what it finished is recorded: run 'make up STACK={self.stack}' again to finish, "
            f"or 'make down STACK={self.stack}' to remove it"
        )

    def interrupted_line(self) -> str:
        """What Ctrl-C leaves, and how to go on."""
        if self._doing is not None:
            return f"interrupted: pulumi stopped the {self._doing} of stack {self.stack}; {self._way_on()}"
        if self._command == "down":
            return f"interrupted: nothing was destroyed; run 'make down STACK={self.stack}' again"
        clusters = ""
        if self.sandbox.is_local(self.stack):
            clusters = f", or 'make down STACK={self.stack}' to stop the local clusters"
        return f"interrupted: nothing was deployed; run 'make up STACK={self.stack}' again{clusters}"
