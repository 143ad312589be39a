"""Stage 2, the engine itself: the Pulumi CLI and Python language host built from Go modules run a
Python program with the project's pinned SDK, the way `make up` runs ocm-hub.

A small program of the test's own, with no provider plugin, so this holds whatever plugins the
machine has: it proves the CLI, the language host and its exec script, the SDK in .venv, the local
file backend and the passphrase secrets provider work together, and that the install is offline;
and the pulumi-kubernetes plugin installed for the engine is the pinned build.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from textwrap import dedent
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2_grpc

from sandbox import tools

from .pulumi_cli import VENV_PYTHON, Project, base_env, missing_binaries

STACK = "smoke"
SECRET = "e2e-secret-value-7d41"  # must never appear in clear in the state
PROGRAM = dedent(
    """\
    import sys
    from importlib.metadata import version

    import pulumi


    class Box(pulumi.ComponentResource):
        def __init__(self, name: str) -> None:
            super().__init__("e2e:index:Box", name, None, None)
            self.register_outputs({})


    config = pulumi.Config()
    Box("box")
    pulumi.export("greeting", "hello " + config.require("who"))
    pulumi.export("token", config.require_secret("token"))
    pulumi.export("sdkVersion", version("pulumi"))
    pulumi.export("python", sys.executable)
    """
)


@pytest.fixture(scope="module")
def smoke() -> Iterator[Project]:
    """A stack of the small program; destroyed and its directories removed even when a test fails."""
    if missing := missing_binaries():
        pytest.fail(f"missing Pulumi binaries {missing}: run `make e2e-tools`", pytrace=False)
    tools.install_pulumi_root()
    root = Path(tempfile.mkdtemp(prefix="ocm-hub-e2e-smoke-"))
    try:
        (root / "program").mkdir()
        (root / "program" / "Pulumi.yaml").write_text("name: e2e-smoke\nruntime: python\n", encoding="utf-8")
        (root / "program" / "__main__.py").write_text(PROGRAM, encoding="utf-8")
        (root / "state").mkdir()
        project = Project(root / "program", root / "state")
        project.run("stack", "init", STACK, timeout=60)
        try:
            project.run("config", "set", "who", "world", timeout=60)
            project.run("config", "set", "--secret", "token", SECRET, timeout=60)
            yield project
        finally:
            project.run("destroy", "--yes", "--skip-preview", timeout=120, check=False)
            project.run("stack", "rm", "--yes", "--force", STACK, timeout=60, check=False)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_cli_is_the_pinned_build() -> None:
    cli = tools.pulumi_root() / "bin" / "pulumi"
    assert cli.is_file(), "run `make e2e-tools`"
    pinned = next(tool for tool in tools.TOOLS if tool.name == "pulumi").version()
    out = subprocess.run([cli, "version"], env=base_env(), capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == pinned, "the CLI reports the release stamped at build time"
    for script in ("pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python"):
        assert (cli.parent / script).is_file(), f"{script} is installed beside the CLI"


def test_install_is_isolated_and_offline() -> None:
    env = base_env()
    assert env["PULUMI_HOME"] == str(tools.pulumi_home())
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PATH"].split(":")[0] == str(tools.pulumi_root() / "bin")


def test_up_runs_the_program_with_the_pinned_sdk(smoke: Project) -> None:
    up = smoke.run("up", "--yes", "--skip-preview")
    assert "from $PATH" not in up.stdout + up.stderr, "the language host beside the CLI is used, no other"
    outputs = smoke.run("stack", "output", "--json", "--show-secrets").json()
    assert outputs["greeting"] == "hello world"
    assert outputs["token"] == SECRET
    assert outputs["sdkVersion"] == version("pulumi"), "the program ran on the SDK pinned in requirements.txt"
    assert Path(outputs["python"]).parent == VENV_PYTHON.parent
    assert Path(sys.executable).parent == VENV_PYTHON.parent


def test_second_up_and_refresh_change_nothing(smoke: Project) -> None:
    smoke.run("up", "--yes", "--skip-preview")
    smoke.run("up", "--yes", "--expect-no-changes")
    smoke.run("refresh", "--yes", "--expect-no-changes")
    preview = smoke.run("preview", "--json").json()
    assert set(preview["changeSummary"]) == {"same"}


def test_state_holds_the_secret_only_encrypted(smoke: Project) -> None:
    smoke.run("up", "--yes", "--skip-preview")
    exported = smoke.run("stack", "export").stdout
    state = json.loads(exported)
    assert state["deployment"]["secrets_providers"]["type"] == "passphrase"
    assert SECRET not in exported
    config = (smoke.directory / f"Pulumi.{STACK}.yaml").read_text(encoding="utf-8")
    assert SECRET not in config
    assert "secure:" in config


def test_kubernetes_plugin_is_the_pinned_build() -> None:
    """The plugin the engine loads for the SDK's version is the build of the pinned source, and says so."""
    if missing := tools.missing([tools.KUBERNETES_PLUGIN, *tools.PULUMI_TOOLS]):
        pytest.fail(f"missing binaries {missing}: run `make e2e-tools`", pytrace=False)
    installed = tools.install_kubernetes_plugin()
    assert installed == tools.kubernetes_plugin_path()
    assert installed.parent.name == f"resource-kubernetes-v{version('pulumi-kubernetes')}"
    built = tools.select([tools.KUBERNETES_PLUGIN])[0]
    assert installed.read_bytes() == built.path().read_bytes()
    assert _plugin_info(installed).version == built.version().removeprefix("v")


def test_a_broken_plugin_install_is_repaired_from_the_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`make up` and `make e2e` install the plugin again when the installed file is not the build.

    In a PULUMI_HOME of its own: the other lanes' engines load the shared install meanwhile."""
    if missing := tools.missing([tools.KUBERNETES_PLUGIN, *tools.PULUMI_TOOLS]):
        pytest.fail(f"missing binaries {missing}: run `make e2e-tools`", pytrace=False)
    home = tmp_path / "pulumi-home"
    monkeypatch.setattr(tools, "pulumi_home", lambda: home)
    try:
        installed = tools.install_kubernetes_plugin()
        assert home in installed.parents
        installed.unlink()  # never write through a link into the build
        installed.write_bytes(b"#!/bin/sh\nexit 1\n")
        assert tools.install_kubernetes_plugin() == installed
        assert installed.read_bytes() == tools.select([tools.KUBERNETES_PLUGIN])[0].path().read_bytes()
    finally:
        shutil.rmtree(home, ignore_errors=True)  # a copy of the 400 MB plugin


def _plugin_info(binary: Path) -> Any:
    """GetPluginInfo from the plugin itself: started as the engine starts it, its port read from stdout."""
    proc = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().strip())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            return stub.GetPluginInfo(empty_pb2.Empty(), timeout=30)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
