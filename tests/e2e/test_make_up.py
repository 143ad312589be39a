"""`make up`, `make status` and `make down` as a new user runs them: in a fresh copy of the project (the
files git tracks), with no kube context, so `make up` starts the copy's own local clusters, deploys the
dev stack with the built CLI and plugin, and `make status` shows the hub ready and managed-1 joined and
available. Before that, the mistakes a user makes end with one clear line and a non-zero exit, before
anything is deployed. The faults along the way end the same way, with nothing of the run left running:
Ctrl-C once the first update has started (then `make up` finishes it, and `make down` destroys the
stack and stops the clusters), and the hub's kube-apiserver killed while a second `make up` waits for
the hub (then `make down` twice, which forgets the stack the dead clusters held).

These tests run in file order on one copy, and start and stop clusters of their own (in the copy's
.e2e/), never the session's.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest
import yaml

import sandbox.clusters
from sandbox import tools

from .pulumi_cli import REPO_ROOT, copy_tracked

UP_TIMEOUT = 1200.0
PASSPHRASE = "make-up-e2e"
# A line of the update itself (the preview says "create"): the first Kubernetes object it made.
UPDATE_STARTED = re.compile(r"^ \+  kubernetes:\S+ \S+ created")
# The readiness wait of the update below: it polls the hub until readinessTimeout, whatever pulumi's Cancel.
READINESS_WAITING = re.compile(r"HubReadiness ocm-hub-readiness creating")
INTERRUPTED = (
    "interrupted: pulumi stopped the update of stack dev; what it finished is recorded: "
    "run 'make up STACK=dev' again to finish, or 'make down STACK=dev' to remove it"
)
CLUSTERS_STOPPED = "error: the local clusters stopped during the run ("
START_OVER = "run 'make down STACK=dev' and then 'make up STACK=dev' again"
STOPPED_WITHIN = 90.0  # pulumi itself would wait for the dead hub until readinessTimeout (5 min)
GONE_WITHIN = 10.0  # a process just killed (SIGKILL) is still listed until the kernel has ended it


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str


@dataclass(frozen=True)
class Clone:
    root: Path

    def make(self, *args: str, timeout: float = 120.0, **env: str) -> Run:
        """`make ARGS` in the clone, as from a shell with no terminal, no kube context and no Pulumi CLI."""
        proc = subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=self.root,
            env=self._env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout + proc.stderr)

    def start(self, *args: str, **env: str) -> Running:
        """`make ARGS` as `make` does, but running: in a session of its own, as a terminal's foreground
        process group, so a signal to the group reaches make, `python -m deploy` and pulumi as Ctrl-C does."""
        proc = subprocess.Popen(
            ["make", "--no-print-directory", *args],
            cwd=self.root,
            env=self._env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
        return Running(proc)

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        base = {k: v for k, v in _clean_env().items() if not k.startswith(("PULUMI_", "KUBE", "YES", "LOCAL", "CI"))}
        base.update({"KUBECONFIG": str(self.root / "no-such-kubeconfig"), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
        base["PATH"] = os.pathsep.join(p for p in base.get("PATH", "").split(os.pathsep) if "pulumi" not in p)
        return {**base, **extra}


class Running:
    """A started `make` whose output is read as it comes (a reader thread), so a test acts on a line the
    moment it appears; leaving the `with` block ends whatever still runs in its process group."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._done = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="make-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> None:
        """Until a line matches; fails with the output so far when make ends first or `timeout` passes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(pattern.search(line) for line in self.lines):
                remaining = deadline - time.monotonic()
                if self._done or remaining <= 0:
                    why = "make ended" if self._done else f"not within {timeout:.0f}s"
                    pytest.fail(f"no line matching {pattern.pattern!r} ({why}):\n{self.output[-6000:]}")
                self._changed.wait(remaining)

    def interrupt(self) -> None:
        """SIGINT to the whole process group, as a terminal's Ctrl-C."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout: float) -> Run:
        self.proc.wait(timeout)
        self._reader.join(timeout)
        return Run(self.proc.returncode, self.output)

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def clone() -> Iterator[Clone]:
    """The files git tracks, as a fresh clone has them; its clusters stopped and removed at the end."""
    if missing := tools.missing(tools.UP_TOOLS):
        pytest.fail(f"missing binaries {missing}: run `make e2e-tools`", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="ocm-hub-clone-"))
    copy_tracked(root)
    try:
        yield Clone(root)
    finally:
        subprocess.run(
            [str(REPO_ROOT / ".venv/bin/python"), "-m", "sandbox", "down"],
            cwd=root,
            env=_clean_env(),
            timeout=300,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _default_sigint() -> None:
    """Ctrl-C as a user's shell delivers it: this suite may run with SIGINT ignored (started in the
    background by a shell without job control), and an ignored SIGINT stays ignored across exec, where
    make and `python -m deploy` would never see the interrupt, only pulumi (Go) would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _clean_env() -> dict[str, str]:
    """This process's environment as a user's shell has it: without the session's choice of local clusters
    (the clone has its own) and without the make that may have started this suite (`make e2e`)."""
    dropped = {sandbox.clusters.STATE_DIR_ENV, "MAKELEVEL", "MAKEFLAGS", "MFLAGS"}
    return {key: value for key, value in os.environ.items() if key not in dropped}


def _clusters_down(clone: Clone) -> tuple[bool, str]:
    shown = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/python"), "-m", "sandbox", "status"],
        cwd=clone.root,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return all(line.endswith(": down") for line in shown.stdout.splitlines()), shown.stdout


def _processes(match: bytes, where: Path) -> dict[int, str]:
    """Live processes whose command line contains `match` and whose environment or command line names
    `where` (the clone: its state backend and kubeconfig are in the environment of everything `make up`
    starts), by pid, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile
            continue
        if match in cmdline and str(where).encode() in cmdline + environ:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def _none_left(match: bytes, where: Path) -> dict[int, str]:
    """What `_processes` finds once each process it found first has ended, or GONE_WITHIN passed: one
    killed a moment ago is still there until the kernel has ended it (its pidfd turns readable then)."""
    deadline = time.monotonic() + GONE_WITHIN
    for pid in _processes(match, where):
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(pidfd)
    return _processes(match, where)


def _kill_hub_apiserver(clone: Clone) -> None:
    """SIGKILL to the clone's hub kube-apiserver, found by the pid file kwokctl wrote and checked in /proc."""
    pid = int((clone.root / ".e2e/kwok/clusters/hub/pids/kube-apiserver.pid").read_text(encoding="utf-8"))
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"kube-apiserver" in cmdline, cmdline
    assert str(clone.root).encode() in cmdline, cmdline
    os.kill(pid, signal.SIGKILL)


def test_a_stack_with_no_file_names_the_stacks_there(clone: Clone) -> None:
    run = clone.make("up", "STACK=nope")
    assert run.returncode != 0
    assert "there is no Pulumi.nope.yaml; stacks here: dev prod staging" in run.output


def test_an_invalid_stack_file_is_reported_before_anything_runs(clone: Clone) -> None:
    (clone.root / "Pulumi.broken.yaml").write_text("config:\n  ocm-hub:operator:\n    replicas: 0\n")
    run = clone.make("up", "STACK=broken")
    assert run.returncode != 0
    assert "ocm-hub:operator.replicas" in run.output, run.output
    assert not (clone.root / ".e2e").exists(), "no cluster was started"
    assert not (clone.root / ".pulumi-state").exists(), "no stack was created"


def test_an_unreachable_context_is_an_error_with_the_way_out(clone: Clone, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "prod-hub", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "prod-hub",
            }
        )
    )
    run = clone.make("up", "STACK=dev", "YES=1", KUBECONFIG=str(kubeconfig), timeout=600)
    assert run.returncode != 0
    assert "kube context 'prod-hub' (https://127.0.0.1:9) does not answer" in run.output, run.output
    assert "make up LOCAL=1" in run.output
    assert not (clone.root / ".e2e").exists(), "no cluster was started in its place"


def test_a_wrong_passphrase_stops_before_any_cluster_starts(clone: Clone) -> None:
    """The stack was made with another passphrase (its salt is in the stack file)."""
    env = {**os.environ, **tools.pulumi_env(REPO_ROOT / ".venv/bin/python")}
    env.update({"PULUMI_BACKEND_URL": (clone.root / ".pulumi-state").as_uri(), "PULUMI_CONFIG_PASSPHRASE": "right"})
    (clone.root / ".pulumi-state").mkdir(exist_ok=True)
    pulumi = tools.install_pulumi_root() / "bin" / "pulumi"
    subprocess.run([str(pulumi), "stack", "init", "staging", "--non-interactive"], cwd=clone.root, env=env, check=True)
    run = clone.make("up", "STACK=staging", "YES=1", "PULUMI_CONFIG_PASSPHRASE=wrong", timeout=600)
    assert run.returncode != 0
    assert "incorrect passphrase" in run.output, run.output
    assert not (clone.root / ".e2e").exists(), "no cluster was started"


def test_without_a_terminal_or_yes_make_up_previews_and_stops(clone: Clone) -> None:
    run = clone.make("up", "STACK=dev", timeout=UP_TIMEOUT)
    assert run.returncode != 0
    assert "no terminal to confirm on: previewed only; apply with 'make up STACK=dev YES=1'" in run.output
    assert "Previewing update (dev)" in run.output, run.output[-3000:]
    cluster_managers = subprocess.run(
        [str(tools.paths(["kubectl"])["kubectl"]), "get", "clustermanagers", "-o", "name"],
        env={**os.environ, "KUBECONFIG": str(clone.root / ".e2e/hub.kubeconfig")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "cluster-manager" not in cluster_managers.stdout, "nothing was deployed"


def test_ctrl_c_during_the_first_update_cancels_it_and_says_how_to_go_on(clone: Clone) -> None:
    with clone.start("up", "STACK=dev", "YES=1") as running:
        running.wait_for(UPDATE_STARTED, timeout=UP_TIMEOUT)
        running.interrupt()
        interrupted = running.finish(timeout=UP_TIMEOUT)
    assert interrupted.returncode != 0
    assert "^C received; cancelling" in interrupted.output, interrupted.output[-6000:]
    assert INTERRUPTED in interrupted.output, interrupted.output[-6000:]
    assert "Traceback" not in interrupted.output, interrupted.output
    assert "KeyboardInterrupt" not in interrupted.output, interrupted.output
    assert not _none_left(b"pulumi", clone.root), "pulumi, its language host, program and plugins ended"


def test_make_up_then_finishes_and_status_shows_the_fleet(clone: Clone) -> None:
    up = clone.make("up", "STACK=dev", "YES=1", timeout=UP_TIMEOUT)
    assert up.returncode == 0, up.output[-6000:]
    assert "using the running local clusters" in up.output, "the interrupted make up left them running"
    assert "pending operations" not in up.output, "the cancelled update left none"

    status = clone.make("status", "STACK=dev", "JSON=1")
    assert status.returncode == 0, status.output
    report = json.loads(status.output)
    assert (report["source"], report["hubReady"]) == ("live", True), report
    managed = report["clusters"]["managed-1"]
    assert (managed["joined"]["status"], managed["available"]["status"]) == ("True", "True"), managed


def test_make_down_destroys_the_stack_and_stops_the_clusters(clone: Clone) -> None:
    down = clone.make("down", "STACK=dev", "YES=1", timeout=UP_TIMEOUT)
    assert down.returncode == 0, down.output[-6000:]
    assert "Destroying (dev)" in down.output, down.output[-6000:]
    assert "forgetting its state" not in down.output
    stopped, shown = _clusters_down(clone)
    assert stopped, shown


def test_a_hub_that_dies_while_make_up_waits_for_it_stops_make_up_promptly(clone: Clone) -> None:
    """The readiness wait polls the hub until readinessTimeout: without the guard of `make up`, pulumi
    would wait for the dead hub for 5 minutes."""
    with clone.start("up", "STACK=dev", "YES=1") as running:
        running.wait_for(READINESS_WAITING, timeout=UP_TIMEOUT)
        _kill_hub_apiserver(clone)
        killed = time.monotonic()
        stopped = running.finish(timeout=UP_TIMEOUT)
        took = time.monotonic() - killed
    assert stopped.returncode != 0
    *_, last, made = stopped.output.rstrip().splitlines()  # the run's last line, then make's "*** [...] Error 1"
    assert made.startswith("make: *** "), made
    assert last.startswith(CLUSTERS_STOPPED), stopped.output[-6000:]
    assert last.endswith(START_OVER), last
    assert "hub: unhealthy (not running: kube-apiserver" in last, last
    assert took < STOPPED_WITHIN, f"make up ended {took:.0f}s after the hub died"
    assert "Traceback" not in stopped.output, stopped.output
    assert not _none_left(b"pulumi", clone.root), "pulumi, its language host, program and plugins ended"


def test_make_down_twice_then_nothing_of_the_clone_runs(clone: Clone) -> None:
    for attempt in range(2):
        down = clone.make("down", "STACK=dev", "YES=1", timeout=UP_TIMEOUT)
        assert down.returncode == 0, down.output[-6000:]
        if attempt == 0:
            assert "the local clusters are gone" in down.output, down.output[-6000:]
    stopped, shown = _clusters_down(clone)
    assert stopped, shown
    left = _none_left(str(clone.root).encode(), clone.root)
    assert not left, left
