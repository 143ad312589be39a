"""The e2e suite's pulumi runner on a timeout: pulumi's plugins run in sessions of their own, out of
reach of its process group, and must not outlive the test (one did for an hour after a timed-out destroy)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deploy import procs
from tests.e2e import pulumi_cli

# A `pulumi` that starts a plugin in a session of its own (as the engine does), then hangs.
FAKE_PULUMI = """#!{python}
import os, subprocess, sys, time
plugin = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # it writes to pulumi, not its output
open(os.environ["FAKE_PLUGIN_PID"], "w").write(str(plugin.pid))
time.sleep(600)
"""


def test_a_timed_out_command_leaves_no_plugin_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "pulumi"
    (root / "bin").mkdir(parents=True)
    cli = root / "bin" / "pulumi"
    cli.write_text(FAKE_PULUMI.format(python=sys.executable))
    cli.chmod(0o755)
    monkeypatch.setattr("sandbox.tools.pulumi_root", lambda: root)
    pid_file = tmp_path / "plugin.pid"
    project = pulumi_cli.Project(tmp_path, tmp_path / "state", {"FAKE_PLUGIN_PID": str(pid_file)})
    with pytest.raises(pulumi_cli.PulumiCommandError, match="timed out"):
        project.run("up", timeout=3)
    plugin = int(pid_file.read_text())
    assert procs.wait_gone(plugin, 10)


def test_a_copied_stack_file_is_a_new_stacks_without_the_salt_a_local_make_up_appended() -> None:
    """The copies run with their own passphrase and backend: the work tree's salt would fail `stack init`."""
    written = "# the dev stack\nconfig:\n  ocm-hub:allowTeardown: true  # dev only\n"
    assert pulumi_cli.as_new_stack(written + "encryptionsalt: v1:abc=:v1:def:ghi\n") == written
    assert pulumi_cli.as_new_stack(written) == written
