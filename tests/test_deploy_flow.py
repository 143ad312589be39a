"""`make up` and `make down` step by step, with a fake Pulumi and fake local clusters: what runs in which
order, on which cluster, and the line and exit code each ending gives (the README's Quick start)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deploy import procs
from deploy.flow import Confirm, DeployError, Local, PulumiError, failed
from ocmhub_testing.deploy_fakes import FakePulumi, FakeStack, deploy, project

PROJECT_ROOT = Path(__file__).resolve().parents[1]
INTERRUPTED = (
    "interrupted: pulumi stopped the update of stack dev; what it finished is recorded: "
    "run 'make up STACK=dev' again to finish, or 'make down STACK=dev' to remove it"
)
START_OVER = "run 'make down STACK=dev' and then 'make up STACK=dev' again"


def stopped(action: Callable[[], None]) -> DeployError:
    with pytest.raises(DeployError) as caught:
        action()
    return caught.value


def test_a_stack_with_no_file_names_the_stacks_there(tmp_path: Path) -> None:
    command, _, _, log = deploy(project(tmp_path))
    command.stack = "nope"
    stop = stopped(lambda: command.up(local=False))
    assert (stop.code, stop.line) == (1, "error: there is no Pulumi.nope.yaml; stacks here: dev prod staging")
    assert log == [], "nothing else ran"


def test_an_invalid_stack_file_exits_2_with_its_problems_before_pulumi_is_even_looked_for(tmp_path: Path) -> None:
    command, _, _, log = deploy(project(tmp_path), problems="error: ocm-hub:operator.replicas: must be >= 1\n")
    stop = stopped(lambda: command.up(local=False))
    assert (stop.code, stop.line) == (2, "error: ocm-hub:operator.replicas: must be >= 1")
    assert log == []


def test_no_kube_context_runs_on_the_local_clusters_with_their_stack_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command, _, sandbox, log = deploy(project(tmp_path))
    command.up(local=False)
    assert set(log[:2]) == {"select dev --create", "context"}, "the context is looked up while the stack is selected"
    assert log[2:] == ["start clusters", "up on local"]
    assert sandbox.is_local("dev")
    out = capsys.readouterr().out
    assert "==> starting the local clusters (hub and managed-1, OCM running on them)\n" in out
    assert f"==> using the local hub: KUBECONFIG={tmp_path / 'hub.kubeconfig'}\n" in out
    assert out.endswith("==> done: 'make status STACK=dev' shows the hub and its fleet\n")


def test_what_a_run_builds_is_said_once_after_the_check_and_before_pulumi_is_looked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command, _, _, log = deploy(project(tmp_path), builds=True)
    command.up(local=True)
    out = capsys.readouterr().out
    assert out.count("==> first building 3 tools (local)\n") == 1
    assert out.index("==> validating Pulumi.dev.yaml") < out.index("==> first building") < out.index("==> LOCAL=1")
    assert log[0] == "select dev --create"


def test_local_1_skips_the_kube_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command, _, _, log = deploy(project(tmp_path), context="prod-hub")
    command.up(local=True)
    assert "context" not in log
    assert "==> LOCAL=1: starting the local clusters" in capsys.readouterr().out


def test_a_kube_context_that_answers_is_used_and_the_local_clusters_are_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command, pulumi, sandbox, log = deploy(project(tmp_path), context="prod-hub")
    sandbox.local.add("dev")  # an earlier run on the local clusters
    pulumi.stacks["dev"] = FakeStack("dev", log)
    command.up(local=False)
    assert sorted(log[:3]) == ["context", "passphrase", "select dev --create"]
    assert log.index("select dev --create") < log.index("passphrase")
    assert log[3:] == ["up on context"]
    assert not sandbox.is_local("dev")
    assert "==> using kube context prod-hub\n" in capsys.readouterr().out


def test_a_stack_made_now_with_a_salt_made_now_has_its_passphrase_unchecked(tmp_path: Path) -> None:
    """The salt is this run's passphrase's: the check (a pulumi command, about 0.8 s) could not fail."""
    command, pulumi, _, log = deploy(project(tmp_path))
    pulumi.passphrase_error = "error: incorrect passphrase"
    command.up(local=False)
    assert "passphrase" not in log


def test_a_wrong_passphrase_stops_before_any_cluster_starts(tmp_path: Path) -> None:
    command, pulumi, _, log = deploy(project(tmp_path))
    pulumi.stacks["dev"] = FakeStack("dev", log)  # made before, with another passphrase
    pulumi.passphrase_error = "error: incorrect passphrase"
    stop = stopped(lambda: command.up(local=False))
    assert (stop.code, stop.line) == (1, "error: incorrect passphrase")
    assert "start clusters" not in log


def test_running_clusters_are_looked_at_while_the_stack_is_selected_and_its_error_is_said(tmp_path: Path) -> None:
    """Both take about half a second: the check of clusters that already run does not wait for the stack."""
    command, pulumi, sandbox, log = deploy(project(tmp_path))
    sandbox.running = True
    pulumi.stacks["dev"] = FakeStack("dev", log)
    checking = threading.Event()
    real_healthy = sandbox.healthy

    def healthy() -> bool:
        checking.set()
        return real_healthy()

    def check_passphrase(stack: str) -> None:
        assert checking.wait(5), "the clusters were not looked at while the stack was selected"
        raise DeployError(1, "error: incorrect passphrase")

    sandbox.healthy = healthy  # type: ignore[method-assign]
    pulumi.check_passphrase = check_passphrase  # type: ignore[method-assign]
    stop = stopped(lambda: command.up(local=True))
    assert (stop.code, stop.line) == (1, "error: incorrect passphrase"), "the stack's step is said first"
    assert "up on local" not in log


def test_the_stack_file_is_rewritten_for_the_running_clusters_only_once_the_stack_is_selected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pulumi stack init` writes the salt into the stack file, which the rewrite for the clusters reads."""
    command, pulumi, sandbox, log = deploy(project(tmp_path))
    sandbox.running = True
    create_or_select, local_run = pulumi.create_or_select, sandbox.local_run

    def slow_selection(stack: str) -> FakeStack:
        time.sleep(0.3)
        return create_or_select(stack)

    def rewrite(stack: str) -> Local:
        log.append("rewrite stack file")
        return local_run(stack)

    pulumi.create_or_select = slow_selection  # type: ignore[method-assign]
    sandbox.local_run = rewrite  # type: ignore[method-assign]
    command.up(local=True)
    assert "==> LOCAL=1: using the running local clusters (hub and managed-1" in capsys.readouterr().out
    assert log.index("start clusters") < log.index("select dev --create"), "the running clusters did not wait"
    assert log.index("select dev --create") < log.index("rewrite stack file") < log.index("up on local")


def test_an_unreachable_context_stops_before_any_cluster_starts(tmp_path: Path) -> None:
    command, _, _, log = deploy(project(tmp_path))

    def unreachable() -> str | None:
        raise failed("kube context 'prod-hub' (https://127.0.0.1:9) does not answer: refused")

    command.kube_context = unreachable
    stop = stopped(lambda: command.up(local=False))
    assert stop.code == 1
    assert "does not answer" in str(stop.line)
    assert "start clusters" not in log


def test_without_a_terminal_or_yes_it_previews_and_stops(tmp_path: Path) -> None:
    command, _, _, log = deploy(project(tmp_path), confirm=Confirm.NO_TERMINAL)
    stop = stopped(lambda: command.up(local=False))
    assert (stop.code, stop.line) == (
        1,
        "error: no terminal to confirm on: previewed only; apply with 'make up STACK=dev YES=1'",
    )
    assert log[-1] == "preview on local"
    assert "up on local" not in log


def test_on_a_terminal_it_previews_asks_and_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    command, _, _, log = deploy(project(tmp_path), confirm=Confirm.ASK)
    asked: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "yes"

    monkeypatch.setattr("builtins.input", answer)
    command.up(local=False)
    assert log[-2:] == ["preview on local", "up on local"]
    assert asked == ["Do you want to perform this update? [yes/no] "]


def test_on_a_terminal_no_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    command, _, _, log = deploy(project(tmp_path), confirm=Confirm.ASK)
    monkeypatch.setattr("builtins.input", lambda _prompt: "no")
    stop = stopped(lambda: command.up(local=False))
    assert (stop.code, stop.line) == (1, "error: confirmation declined, not proceeding with the update")
    assert "up on local" not in log


def test_ctrl_c_at_the_question_after_a_refresh_deployed_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command, pulumi, _, log = deploy(project(tmp_path), confirm=Confirm.ASK)
    pulumi.stacks["dev"] = FakeStack("dev", log, pending=["creating ocm-hub-readiness"])

    def ctrl_c(_prompt: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr("builtins.input", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        command.up(local=False)
    assert log[-2:] == ["refresh on local", "preview on local"]
    assert command.interrupted_line() == (
        "interrupted: nothing was deployed; run 'make up STACK=dev' again, "
        "or 'make down STACK=dev' to stop the local clusters"
    )


def test_pending_operations_of_a_stopped_update_are_refreshed_away_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command, pulumi, _, log = deploy(project(tmp_path))
    pulumi.stacks["dev"] = FakeStack("dev", log, pending=["creating ocm-hub-readiness"])
    command.up(local=False)
    assert log[-2:] == ["refresh on local", "up on local"]
    assert (
        "==> the last update of stack dev stopped while creating ocm-hub-readiness: refreshing the stack first\n"
        in capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("confirm", "then"),
    [
        (Confirm.YES, ["up on local"]),
        (Confirm.ASK, ["preview on local", "up on local"]),
        (Confirm.NO_TERMINAL, ["preview on local"]),
    ],
)
def test_a_stack_with_resources_reads_what_others_change_before_it_plans(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    confirm: Confirm,
    then: list[str],
) -> None:
    command, pulumi, _, log = deploy(project(tmp_path), confirm=confirm)
    pulumi.stacks["dev"] = FakeStack("dev", log, resources=10)
    monkeypatch.setattr("builtins.input", lambda _prompt: "yes")
    with contextlib.suppress(DeployError):  # the preview-only run ends saying so
        command.up(local=False)
    assert log[log.index("refresh-drift-checked on local") + 1 :] == then
    assert (
        "==> reading ClusterManager ocm-hub-cluster-manager from the hub: what other clients changed there shows in "
        "the plan\n" in capsys.readouterr().out
    )


def test_a_new_stack_or_one_refreshed_whole_reads_nothing_more(tmp_path: Path) -> None:
    command, pulumi, _, log = deploy(project(tmp_path))
    command.up(local=False)
    pulumi.stacks["dev"].pending = ["creating ocm-hub-readiness"]
    command.up(local=False)
    assert "refresh-drift-checked on local" not in log
    assert log.count("refresh on local") == 1


def test_ctrl_c_during_the_update_says_what_is_recorded_and_how_to_go_on(tmp_path: Path) -> None:
    command, pulumi, _, _ = deploy(project(tmp_path))

    def cancelled(_target: Local | None) -> None:
        command.interrupts.received = True  # pulumi got the SIGINT too: it cancelled and failed
        raise PulumiError()

    pulumi.stacks["dev"] = FakeStack("dev", [], actions={"up": cancelled})
    stop = stopped(lambda: command.up(local=False))
    assert (stop.code, stop.line) == (130, INTERRUPTED)


def test_ctrl_c_during_the_preview_deployed_nothing(tmp_path: Path) -> None:
    command, pulumi, _, _ = deploy(project(tmp_path), confirm=Confirm.NO_TERMINAL)

    def cancelled(_target: Local | None) -> None:
        command.interrupts.received = True
        raise PulumiError()

    pulumi.stacks["dev"] = FakeStack("dev", [], actions={"preview": cancelled})
    stop = stopped(lambda: command.up(local=False))
    assert (stop.code, stop.line) == (
        130,
        "interrupted: nothing was deployed; run 'make up STACK=dev' again, "
        "or 'make down STACK=dev' to stop the local clusters",
    )


def test_ctrl_c_while_the_local_clusters_start_deployed_nothing(tmp_path: Path) -> None:
    command, _, sandbox, log = deploy(project(tmp_path))

    def interrupted() -> None:
        command.interrupts._on_sigint(signal.SIGINT, None)  # as the handler, while the start may be broken off

    sandbox.on_start = interrupted
    with pytest.raises(KeyboardInterrupt):
        command.up(local=False)
    assert command.interrupted_line() == "interrupted: nothing was deployed; run 'make up STACK=dev' again"
    assert log[-1] == "start clusters"


def test_ctrl_c_while_the_cli_is_built_breaks_the_build_off(tmp_path: Path) -> None:
    command, _, _, log = deploy(project(tmp_path))

    def building() -> FakePulumi:
        command.interrupts._on_sigint(signal.SIGINT, None)  # as the handler, while the build runs
        pytest.fail("the build went on after Ctrl-C")

    command.pulumi = building
    with pytest.raises(KeyboardInterrupt):
        command.up(local=False)
    assert log == []
    assert command.interrupted_line() == "interrupted: nothing was deployed; run 'make up STACK=dev' again"


def test_ctrl_c_between_steps_ends_before_the_next(tmp_path: Path) -> None:
    command, pulumi, _, log = deploy(project(tmp_path))
    pulumi.passphrase_error = None

    def noted() -> str | None:
        command.interrupts._on_sigint(signal.SIGINT, None)  # not breakable here: only noted
        return None

    command.kube_context = noted
    with pytest.raises(KeyboardInterrupt):
        command.up(local=False)
    assert "start clusters" not in log


def test_local_clusters_that_died_during_the_run_say_so_with_their_states(tmp_path: Path) -> None:
    command, pulumi, sandbox, _ = deploy(project(tmp_path))

    def clusters_died(_target: Local | None) -> None:
        sandbox.running = False
        raise PulumiError()

    pulumi.stacks["dev"] = FakeStack("dev", [], actions={"up": clusters_died})
    stop = stopped(lambda: command.up(local=False))
    assert stop.code == 1
    assert stop.line == (
        "error: the local clusters stopped during the run (hub: unhealthy (not running: kube-apiserver); "
        f"managed-1: running at https://127.0.0.1:2; ocm-kubelet: running); {START_OVER}"
    )


def test_pulumi_ended_by_a_signal_has_its_lock_released_and_its_own_line(tmp_path: Path) -> None:
    command, pulumi, _, _ = deploy(project(tmp_path), context="prod-hub")
    log: list[str] = []

    def killed(_target: Local | None) -> None:
        raise PulumiError(signal.SIGKILL)

    pulumi.stacks["dev"] = FakeStack("dev", log, actions={"up": killed})
    stop = stopped(lambda: command.up(local=False))
    assert log[-1] == "cancel"
    assert stop.line == (
        "error: pulumi was ended by SIGKILL during the update of stack dev; what it finished is recorded: "
        "run 'make up STACK=dev' again to finish, or 'make down STACK=dev' to remove it"
    )


def test_a_failed_update_leaves_the_words_to_pulumi(tmp_path: Path) -> None:
    command, pulumi, _, log = deploy(project(tmp_path), context="prod-hub")

    def fails(_target: Local | None) -> None:
        raise PulumiError()

    pulumi.stacks["dev"] = FakeStack("dev", log, actions={"up": fails})
    stop = stopped(lambda: command.up(local=False))
    assert (stop.code, stop.line) == (1, None)
    assert "cancel" not in log


# --- make down ----------------------------------------------------------------------------------------


def test_down_destroys_on_the_local_clusters_then_removes_the_stack_and_stops_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command, _, sandbox, log = deploy(project(tmp_path))
    command.up(local=False)
    log.clear()
    command.down()
    assert log == ["select dev", "destroy on local", "remove", "stop clusters"]
    assert not sandbox.is_local("dev")
    out = capsys.readouterr().out
    assert (
        "==> stack dev holds nothing now: removed it (Pulumi.dev.yaml stays)\n==> stopping the local clusters\n" in out
    )


def test_a_second_down_finds_nothing_to_destroy_and_runs_no_destroy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command, pulumi, _, log = deploy(project(tmp_path))
    command.up(local=False)
    command.down()
    del pulumi.stacks["dev"]  # removed by the first
    log.clear()
    capsys.readouterr()
    command.down()
    assert log == ["select dev", "stop clusters"]
    assert capsys.readouterr().out == (
        "==> stack dev does not exist in file:///state: nothing to destroy\n==> stopping the local clusters\n"
    )


def test_a_stack_with_nothing_deployed_is_removed_without_a_destroy(tmp_path: Path) -> None:
    command, pulumi, _, log = deploy(project(tmp_path), context="prod-hub")
    pulumi.stacks["dev"] = FakeStack("dev", log)
    command.down()
    assert log == ["select dev", "remove", "stop clusters"]


def test_down_after_the_local_clusters_died_forgets_the_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command, _, sandbox, log = deploy(project(tmp_path))
    command.up(local=False)
    sandbox.running = False
    log.clear()
    command.down()
    assert log == ["select dev", "remove --force", "stop clusters"]
    assert (
        "==> the local clusters are gone, and with them everything stack dev created: forgetting its state\n"
        in capsys.readouterr().out
    )


def test_protected_resources_keep_the_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    command, pulumi, _, log = deploy(project(tmp_path), context="prod-hub")

    class Protected(FakeStack):
        def destroy(self, target: Local | None) -> None:
            super().destroy(target)
            self.resources = 3  # protected: pulumi destroy leaves them

    pulumi.stacks["dev"] = Protected("dev", log, resources=10)
    command.down()
    assert "remove" not in log
    assert "==> stack dev keeps 3 protected resources: the stack stays\n" in capsys.readouterr().out


def test_down_without_a_terminal_or_yes_changes_nothing(tmp_path: Path) -> None:
    command, _, _, log = deploy(project(tmp_path), confirm=Confirm.NO_TERMINAL)
    stop = stopped(command.down)
    assert (stop.code, stop.line) == (1, "error: no terminal to confirm on: destroy with 'make down STACK=dev YES=1'")
    assert log == []


def test_ctrl_c_during_the_destroy_says_how_to_finish(tmp_path: Path) -> None:
    command, pulumi, _, log = deploy(project(tmp_path), context="prod-hub")

    def cancelled(_target: Local | None) -> None:
        command.interrupts.received = True
        raise PulumiError()

    pulumi.stacks["dev"] = FakeStack("dev", log, resources=10, actions={"destroy": cancelled})
    stop = stopped(command.down)
    assert (stop.code, stop.line) == (
        130,
        "interrupted: pulumi stopped the destroy of stack dev; what it finished is recorded: "
        "run 'make down STACK=dev' again to finish",
    )
    assert "stop clusters" not in log


# --- with real signals, in a process of its own ---------------------------------------------------------


def _run_fake_make_up(mode: str, tmp_path: Path) -> subprocess.Popen[str]:
    """`make up` with the fakes (ocmhub_testing/deploy_fakes.py), in a session of its own as a terminal's foreground
    group, SIGINT at its default as a user's shell leaves it."""
    return subprocess.Popen(
        [sys.executable, "-m", "ocmhub_testing.deploy_fakes", mode, str(tmp_path)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _read_until(proc: subprocess.Popen[str], prefix: str) -> tuple[list[str], str]:
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return lines, line
    pytest.fail(f"no line starting with {prefix!r}:\n{''.join(lines)}")


def test_ctrl_c_to_the_whole_group_ends_with_the_one_line_and_130_and_no_plugin_left(tmp_path: Path) -> None:
    proc = _run_fake_make_up("ctrl-c", tmp_path)
    try:
        lines, updating = _read_until(proc, "Updating (dev)")
        plugin = int(updating.split()[-1])
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.stdout is not None
        output = "".join(lines) + proc.stdout.read()
        assert proc.wait(30) == 130, output
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "^C received; cancelling" in output
    assert output.rstrip().splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in output, output
    assert "KeyboardInterrupt" not in output, output
    assert procs.wait_gone(plugin, 10), "the plugin pulumi started (its own session, SIGINT ignored) was swept"


def test_a_cluster_process_that_dies_stops_pulumi_and_ends_with_the_line_that_starts_over(tmp_path: Path) -> None:
    proc = _run_fake_make_up("guard", tmp_path)
    try:
        lines, cluster_line = _read_until(proc, "cluster ")
        more, updating = _read_until(proc, "Updating (dev)")
        plugin = int(updating.split()[-1])
        os.kill(int(cluster_line.split()[1]), signal.SIGKILL)
        killed = time.monotonic()
        assert proc.stdout is not None
        output = "".join(lines + more) + proc.stdout.read()
        assert proc.wait(30) == 1, output
        took = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    last = output.rstrip().splitlines()[-1]
    assert last.startswith("error: the local clusters stopped during the run (hub: unhealthy"), output
    assert last.endswith(START_OVER)
    assert "==> the local clusters stopped during the run: stopping pulumi" in output
    assert took < 10, f"a deaf pulumi is killed after the ladder's 3 x 1 s, not {took:.0f} s"
    assert "Traceback" not in output, output
    assert procs.wait_gone(plugin, 10)
