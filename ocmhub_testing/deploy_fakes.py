"""Fakes for deploy.flow's interfaces: a Pulumi whose stacks record what they were asked to do, local
clusters that are only flags, and a fake pulumi process for the runs that need real signals.

Run as a script (`python -m ocmhub_testing.deploy_fakes MODE STACK_DIR`), it is `make up` with these fakes whose
update runs the fake pulumi process: the Ctrl-C and guard tests signal it from outside.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploy import procs
from deploy.flow import Confirm, Deploy, DeployError, Local, PulumiError
from deploy.guard import Ladder

# A stand-in for pulumi under the Automation API: on SIGINT it cancels as pulumi does (its line, then
# exit 255); it starts a plugin carrying the run's token in a session of its own, which ignores SIGINT
# and, as pulumi's plugins, writes to pulumi, not to pulumi's output.
FAKE_PULUMI = r"""
import os, signal, subprocess, sys, time
def cancel(signum, frame):
    print("^C received; cancelling. If you would like to terminate immediately, press ^C again.", flush=True)
    sys.exit(255)
signal.signal(signal.SIGINT, cancel if sys.argv[1] == "cancels" else signal.SIG_IGN)
plugin = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(600)"],
                          start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"Updating (dev) plugin {plugin.pid}", flush=True)
time.sleep(120)
"""


@dataclass
class FakeStack:
    name: str
    log: list[str]
    pending: list[str] = field(default_factory=list)
    resources: int = 0
    salted_now: bool = False
    # What an operation does besides being logged, by name: raise PulumiError, note an interrupt, ...
    actions: dict[str, Callable[[Local | None], None]] = field(default_factory=dict)

    def _do(self, name: str, target: Local | None) -> None:
        self.log.append(f"{name} on {'local' if target else 'context'}")
        if action := self.actions.get(name):
            action(target)

    def preview(self, target: Local | None) -> None:
        self._do("preview", target)

    def up(self, target: Local | None) -> None:
        self._do("up", target)
        self.resources, self.pending = 10, []

    def refresh_pending(self, target: Local | None) -> None:
        self._do("refresh", target)
        self.pending = []

    def drift_checked(self) -> list[str]:
        return ["ClusterManager ocm-hub-cluster-manager"] if self.resources else []

    def refresh_drift_checked(self, target: Local | None) -> None:
        self._do("refresh-drift-checked", target)

    def preview_destroy(self, target: Local | None) -> None:
        self._do("preview-destroy", target)

    def destroy(self, target: Local | None) -> None:
        self._do("destroy", target)
        self.resources = 0

    def pending_operations(self) -> list[str]:
        return self.pending

    def resource_count(self) -> int:
        return self.resources

    def cancel(self) -> None:
        self.log.append("cancel")

    def remove(self, *, force: bool) -> None:
        self.log.append(f"remove{' --force' if force else ''}")
        if self.resources and not force:
            raise AssertionError("pulumi refuses to remove a stack with resources")


@dataclass
class FakePulumi:
    log: list[str]
    stacks: dict[str, FakeStack] = field(default_factory=dict)
    backend: str = "file:///state"
    passphrase_error: str | None = None

    def check_passphrase(self, stack: str) -> None:
        self.log.append("passphrase")
        if self.passphrase_error:
            raise DeployError(1, self.passphrase_error)

    def select(self, stack: str) -> FakeStack | None:
        self.log.append(f"select {stack}")
        return self.stacks.get(stack)

    def create_or_select(self, stack: str) -> FakeStack:
        """A stack made here has a salt made here, from this run's passphrase."""
        self.log.append(f"select {stack} --create")
        if stack in self.stacks:
            self.stacks[stack].salted_now = False
        else:
            self.stacks[stack] = FakeStack(stack, self.log, salted_now=True)
        return self.stacks[stack]


@dataclass
class FakeSandbox:
    log: list[str]
    root: Path
    running: bool = False
    local: set[str] = field(default_factory=set)
    watched: list[int] = field(default_factory=list)
    on_start: Callable[[], None] | None = None

    def start(self) -> None:
        self.log.append("start clusters")
        if self.on_start:
            self.on_start()
        self.running = True

    def stop(self) -> None:
        self.log.append("stop clusters")
        self.running = False

    def healthy(self) -> bool:
        return self.running and all(procs.alive(pid) for pid in self.watched)

    def pids(self) -> list[int]:
        return self.watched

    def status(self) -> dict[str, str]:
        hub = "running at https://127.0.0.1:1" if self.healthy() else "unhealthy (not running: kube-apiserver)"
        return {"hub": hub, "managed-1": "running at https://127.0.0.1:2", "ocm-kubelet": "running"}

    def is_local(self, stack: str) -> bool:
        return stack in self.local

    def mark_local(self, stack: str, local: bool) -> None:
        (self.local.add if local else self.local.discard)(stack)

    def local_run(self, stack: str) -> Local:
        return Local(self.root / f"local-Pulumi.{stack}.yaml", self.root / "hub.kubeconfig")


def project(root: Path) -> Path:
    """A project directory with the three stack files."""
    for name in ("dev", "prod", "staging"):
        (root / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    return root


def deploy(
    root: Path,
    *,
    confirm: Confirm = Confirm.YES,
    context: str | None = None,
    problems: str | None = None,
    token: str = "fake-token",
    builds: bool = False,
) -> tuple[Deploy, FakePulumi, FakeSandbox, list[str]]:
    """`make up|down STACK=dev` in `root` with fakes; the log every fake writes to, in order."""
    log: list[str] = []
    pulumi = FakePulumi(log)
    sandbox = FakeSandbox(log, root)

    def kube_context() -> str | None:
        log.append("context")
        return context

    command = Deploy(
        root=root,
        stack="dev",
        confirm=confirm,
        pulumi=lambda: pulumi,
        sandbox=sandbox,
        validate=lambda _stack: problems,
        build_plan=lambda local: f"first building 3 tools ({'local' if local else 'context'})" if builds else None,
        kube_context=kube_context,
        token=token,
    )
    return command, pulumi, sandbox, log


def _fake_pulumi_runs(mode: str, token: str) -> Callable[[Local | None], None]:
    """An operation that runs the fake pulumi as the Automation API runs pulumi: a child with the run's
    token in its environment, its output shown line by line, `PulumiError` when it does not succeed."""

    def run(_target: Local | None) -> None:
        env = {**os.environ, procs.TOKEN_ENV: token}
        with subprocess.Popen(
            [sys.executable, "-c", FAKE_PULUMI, mode], env=env, stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                print(line.rstrip(), flush=True)
        if proc.returncode:
            raise PulumiError(-proc.returncode if proc.returncode < 0 else None)

    return run


def main() -> int:
    """`make up STACK=dev YES=1` on the local clusters, whose update runs the fake pulumi; with `guard`,
    the clusters are a sleeping process (its pid printed) that the test kills."""
    mode, root = sys.argv[1], Path(sys.argv[2])
    token = f"fake-{os.getpid()}"
    command, pulumi, sandbox, _ = deploy(project(root), token=token)
    if mode == "guard":
        cluster = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print(f"cluster {cluster.pid}", flush=True)
        sandbox.watched = [cluster.pid]
        command.ladder = Ladder(cancel=1.0, terminate=1.0, plugins=1.0)
    pulumi.stacks["dev"] = FakeStack(
        "dev", [], actions={"up": _fake_pulumi_runs("cancels" if mode == "ctrl-c" else "deaf", token)}
    )
    return command.execute(lambda: command.up(local=True))


if __name__ == "__main__":
    sys.exit(main())
