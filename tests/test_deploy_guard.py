"""The guard and the signal ladder of `make up`, on fake processes: small Python children that stand in
for pulumi (ignoring SIGINT once, always, or waiting for a plugin) and for the local clusters."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import procs
from deploy.guard import Guard, Ladder, Watch, stop_gently

# A stand-in for pulumi. argv: how many SIGINTs it survives (-1: all), whether it starts a plugin that
# carries the token (then it ends once the plugin has), whether the plugin starts a session of its own.
FAKE_PULUMI = r"""
import os, signal, subprocess, sys, time
survives, plugin, detached = int(sys.argv[1]), sys.argv[2] == "plugin", sys.argv[3] == "detached"
received = 0
def on_sigint(signum, frame):
    global received
    received += 1
    print(f"SIGINT {received}", flush=True)
    if survives >= 0 and received > survives:
        sys.exit(255)
signal.signal(signal.SIGINT, on_sigint)
child = None
if plugin:
    child = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(600)"],
                             start_new_session=detached)
    print(f"plugin {child.pid}", flush=True)
print("ready", flush=True)
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    if child is not None and child.poll() is not None:
        sys.exit(255)
    time.sleep(0.05)
"""
QUICK = Ladder(cancel=3.0, terminate=3.0, plugins=3.0)


class Fake:
    """A started fake pulumi carrying `token`, its plugin's pid if it has one."""

    def __init__(self, token: str, survives: int, *, plugin: bool = False, detached: bool = False) -> None:
        env = {**os.environ, procs.TOKEN_ENV: token}
        args = [str(survives), "plugin" if plugin else "-", "detached" if detached else "-"]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FAKE_PULUMI, *args], env=env, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.plugin: int | None = None
        for line in self.proc.stdout:
            if line.startswith("plugin "):
                self.plugin = int(line.split()[1])
            if line.strip() == "ready":
                return
        pytest.fail("the fake pulumi did not start")

    def end(self) -> None:
        for pid in filter(None, [self.plugin]):
            if procs.alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def token() -> str:
    return f"test-{os.getpid()}-{time.monotonic_ns()}"


@pytest.fixture
def fakes() -> Iterator[list[Fake]]:
    started: list[Fake] = []
    yield started
    for fake in started:
        fake.end()


def start(fakes: list[Fake], token: str, survives: int, **kwargs: bool) -> Fake:
    fake = Fake(token, survives, **kwargs)
    fakes.append(fake)
    return fake


def ladder(fake: Fake, token: str) -> str:
    return stop_gently(fake.proc.pid, lambda spare: procs.sweep(token, spare), QUICK)


def test_pulumi_that_cancels_on_the_first_sigint_gets_nothing_harder(fakes: list[Fake], token: str) -> None:
    fake = start(fakes, token, survives=0)
    assert ladder(fake, token) == "cancel"
    assert fake.proc.wait(5) == 255


def test_pulumi_that_cancels_slowly_is_terminated_by_the_second_sigint(fakes: list[Fake], token: str) -> None:
    fake = start(fakes, token, survives=1)
    assert ladder(fake, token) == "terminate"
    assert fake.proc.wait(5) == 255


def test_pulumi_waiting_for_a_plugin_ends_once_its_plugins_are_killed(fakes: list[Fake], token: str) -> None:
    fake = start(fakes, token, survives=-1, plugin=True)
    assert fake.plugin is not None
    assert ladder(fake, token) == "plugins"
    assert fake.proc.wait(5) == 255
    assert procs.wait_gone(fake.plugin, 5), "the plugin was killed"


def test_pulumi_deaf_to_everything_is_killed_last(fakes: list[Fake], token: str) -> None:
    fake = start(fakes, token, survives=-1)
    started = time.monotonic()
    assert ladder(fake, token) == "kill"
    assert fake.proc.wait(5) == -signal.SIGKILL
    assert time.monotonic() - started >= QUICK.cancel + QUICK.terminate + QUICK.plugins - 0.5


def test_a_pulumi_already_gone_is_left_alone(fakes: list[Fake], token: str) -> None:
    fake = start(fakes, token, survives=0)
    fake.proc.kill()
    fake.proc.wait(5)
    assert ladder(fake, token) == "gone"


def test_the_sweep_kills_what_carries_the_token_even_in_a_session_of_its_own(fakes: list[Fake], token: str) -> None:
    fake = start(fakes, token, survives=-1, plugin=True, detached=True)
    other = start(fakes, f"{token}-other", survives=-1)
    assert fake.plugin is not None
    assert sorted(procs.carrying(token)) == sorted([fake.proc.pid, fake.plugin])
    killed = procs.sweep(token, spare=fake.proc.pid)
    assert killed == [fake.plugin]
    assert procs.wait_gone(fake.plugin, 5)
    assert procs.alive(fake.proc.pid), "the spared one still runs"
    assert procs.alive(other.proc.pid), "another run's token is not this run's"


def test_the_child_carrying_the_token_is_the_pulumi_to_stop(fakes: list[Fake], token: str) -> None:
    fake = start(fakes, token, survives=-1, plugin=True)
    assert procs.child_carrying(token) == fake.proc.pid, "not its plugin, a grandchild"
    assert procs.child_carrying(f"{token}-none") is None


def test_a_zombie_is_not_alive(fakes: list[Fake], token: str) -> None:
    fake = start(fakes, token, survives=0)
    os.kill(fake.proc.pid, signal.SIGKILL)
    assert procs.wait_gone(fake.proc.pid, 5)
    assert Path(f"/proc/{fake.proc.pid}").exists(), "not reaped yet: a zombie"
    assert not procs.alive(fake.proc.pid)


class Recorder:
    """What the guard did: the pids it stopped (`stopped_one` set on the first) and what it said."""

    def __init__(self) -> None:
        self.stopped: list[int] = []
        self.said: list[str] = []
        self.stopped_one = threading.Event()

    def stop(self, pid: int) -> None:
        self.stopped.append(pid)
        self.stopped_one.set()


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_the_guard_stops_pulumi_when_a_cluster_process_dies_and_the_clusters_are_unhealthy() -> None:
    cluster, pulumi, seen = sleeper(), sleeper(), Recorder()
    looked = threading.Event()

    def pids() -> list[int]:
        looked.set()
        return [cluster.pid]

    try:
        watch = Watch(
            pids=pids, healthy=lambda: False, pulumi=lambda: pulumi.pid, stop=seen.stop, said=seen.said.append
        )
        guard = Guard(watch, poll=0.1)
        with guard.watching():
            assert looked.wait(5)
            assert not seen.stopped_one.wait(0.5), "a running cluster: nothing happens"
            cluster.kill()
            cluster.wait(5)
            assert seen.stopped_one.wait(5)
        assert guard.tripped
        assert seen.stopped == [pulumi.pid]
        assert seen.said == ["the local clusters stopped during the run: stopping pulumi"]
    finally:
        for proc in (cluster, pulumi):
            proc.kill()
            proc.wait(5)


def test_the_guard_watches_the_new_processes_of_clusters_restarted_meanwhile() -> None:
    first, second, seen = sleeper(), sleeper(), Recorder()
    generations = iter([[first.pid], [second.pid]])
    looks: list[int] = []
    watching_second = threading.Event()

    def pids() -> list[int]:
        current = next(generations)
        if current == [second.pid]:
            watching_second.set()
        return current

    def healthy() -> bool:
        looks.append(1)
        return True  # restarted meanwhile

    try:
        watch = Watch(pids=pids, healthy=healthy, pulumi=lambda: None, stop=seen.stop, said=seen.said.append)
        guard = Guard(watch, poll=0.1)
        with guard.watching():
            first.kill()
            first.wait(5)
            assert watching_second.wait(5)
            assert not seen.stopped_one.wait(0.5), "`second` runs: no second look at the clusters' health"
        assert len(looks) == 1
        assert not guard.tripped
        assert seen.said == []
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait(5)


def test_a_guard_that_tripped_before_pulumi_started_stops_it_once_it_appears() -> None:
    cluster, pulumi, seen = sleeper(), sleeper(), Recorder()
    appeared: list[int] = []
    said = threading.Event()
    cluster.kill()
    cluster.wait(5)

    def say(text: str) -> None:
        seen.said.append(text)
        said.set()

    try:
        watch = Watch(
            pids=lambda: [cluster.pid],
            healthy=lambda: False,
            pulumi=lambda: appeared[0] if appeared else None,
            stop=seen.stop,
            said=say,
        )
        guard = Guard(watch, poll=0.1)
        with guard.watching():
            assert said.wait(5)
            assert not seen.stopped_one.wait(0.3), "no pulumi yet"
            appeared.append(pulumi.pid)
            assert seen.stopped_one.wait(5)
        assert seen.stopped == [pulumi.pid]
    finally:
        pulumi.kill()
        pulumi.wait(5)


def test_a_guard_that_cannot_look_says_so_once_instead_of_a_thread_traceback() -> None:
    seen = Recorder()

    def pids() -> list[int]:
        raise OSError("no pid file")

    watch = Watch(pids=pids, healthy=lambda: True, pulumi=lambda: None, stop=seen.stop, said=seen.said.append)
    guard = Guard(watch, poll=0.1)
    with guard.watching():
        pass
    assert seen.said == ["cannot watch the local clusters (no pid file): pulumi runs unwatched"]
    assert not guard.tripped
