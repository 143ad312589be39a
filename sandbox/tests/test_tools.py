"""The tool builds without building: each version is read from its wrapper's go.mod, and binaries are
cached by version."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import clusters, tools

REPO_ROOT = Path(__file__).resolve().parents[2]
GO_MOD = """\
module ocm-hub.local/hack/tools/demo

go 1.24.0

require example.com/single v1.2.3

require (
\texample.com/blocked v0.4.0-rc.1 // indirect
\texample.com/blocked/sub v9.9.9
)
"""


def _tool(module: str) -> tools.Tool:
    return tools.Tool("demo", "demo", module, f"{module}/cmd/demo", lambda _version: [])


@pytest.fixture
def wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tools, "TOOLS_DIR", tmp_path)
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "go.mod").write_text(GO_MOD)
    return tmp_path / "demo"


@pytest.mark.parametrize(
    ("module", "version"),
    [
        ("example.com/single", "v1.2.3"),
        ("example.com/blocked", "v0.4.0-rc.1"),
        ("example.com/blocked/sub", "v9.9.9"),
    ],
)
def test_the_version_is_the_one_the_wrapper_requires(wrapper: Path, module: str, version: str) -> None:
    assert _tool(module).version() == version


def test_a_module_the_wrapper_does_not_require_is_an_error_naming_the_file(wrapper: Path) -> None:
    with pytest.raises(SystemExit, match=re.escape(f"example.com/other is not required in {wrapper / 'go.mod'}")):
        _tool("example.com/other").version()
    with pytest.raises(SystemExit, match=re.escape("example.com/block is not required")):
        _tool("example.com/block").version()  # a prefix of a required module is not that module


def test_a_binary_is_cached_by_its_version(wrapper: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OCM_HUB_CACHE", str(tmp_path / "cache"))
    assert _tool("example.com/single").path() == tmp_path / "cache" / "e2e" / "bin" / "demo-v1.2.3" / "demo"


def test_every_tool_is_pinned_by_its_wrapper() -> None:
    for tool in tools.TOOLS:
        assert re.fullmatch(r"v\d+\.\d+\.\d+\S*", tool.version()), tool.name
        assert tool.path().parent.name == f"{tool.name}-{tool.version()}"
    assert set(tools.UP_TOOLS) | set(tools.OCM_TOOLS) <= set(tools.TOOL_NAMES)


def test_an_unknown_tool_name_is_refused() -> None:
    with pytest.raises(SystemExit, match=r"unknown tool\(s\) \['nope'\]"):
        tools.missing(["nope"])


def test_print_paths_names_the_cached_binaries(tmp_path: Path) -> None:
    env = {**os.environ, "OCM_HUB_CACHE": str(tmp_path)}
    printed = subprocess.run(
        [sys.executable, "-m", "sandbox.tools", "--print-paths", "--only", *tools.UP_TOOLS],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    expected = {
        name: str(tmp_path / "e2e" / "bin" / path.parent.name / name)
        for name, path in tools.paths(tools.UP_TOOLS).items()
    }
    assert json.loads(printed.stdout) == expected


def test_the_pulumi_environment_runs_the_built_cli_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCM_HUB_CACHE", str(tmp_path))
    env = tools.pulumi_env(Path("/venv/bin/python"))
    assert env["PATH"].split(os.pathsep)[0] == str(tools.pulumi_root() / "bin")
    assert env["PULUMI_HOME"] == str(tools.pulumi_home())
    assert env["PULUMI_PYTHON_CMD"] == "/venv/bin/python"
    assert tools.pulumi_home().is_relative_to(tmp_path)
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"


def test_make_e2e_tools_builds_what_the_suite_runs_and_not_make_conformances_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, ...]] = []

    def ensure(names: tuple[str, ...]) -> dict[str, Path]:
        asked.append(tuple(names))
        return {}

    monkeypatch.setattr(tools, "ensure", ensure)
    assert tools.main([]) == 0
    assert asked == [tools.E2E_TOOLS]
    needed = {*clusters.start_tools(), *tools.UP_TOOLS, tools.YAML_HOST, tools.SDKGEN}
    assert needed <= set(tools.E2E_TOOLS)
    assert not set(tools.E2E_TOOLS) & set(tools.CONFORMANCE_TOOLS)


def test_every_tool_has_its_measured_build_time_and_the_estimate_reads_as_minutes() -> None:
    assert set(tools.BUILD_SECONDS) == set(tools.TOOL_NAMES)
    assert tools.estimate(["kube-scheduler"]) == "under a minute"
    assert tools.estimate([tools.KUBERNETES_PLUGIN, "pulumi"]) == "about 9 min"


# `pulumi plugin install --file F` and `plugin rm` as the CLI does them, each call logged.
FAKE_PLUGIN_CLI = r"""#!{python}
import os, shutil, sys
args = sys.argv[1:]
open(os.environ["FAKE_LOG"], "a").write(" ".join(args[:2]) + "\n")
target = os.path.join(os.environ["PULUMI_HOME"], "plugins", "resource-kubernetes-v" + args[4])
if args[:2] == ["plugin", "rm"]:
    shutil.rmtree(target)
else:
    os.makedirs(target)
    shutil.copy(args[args.index("--file") + 1], os.path.join(target, "pulumi-resource-kubernetes"))
    if os.environ.get("FAKE_TRUNCATES"):
        open(os.path.join(target, "pulumi-resource-kubernetes"), "wb").write(b"plugin")
"""


def test_the_plugin_is_installed_again_only_when_it_or_the_build_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCM_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls"))
    cli = tools.pulumi_root() / "bin" / "pulumi"
    cli.parent.mkdir(parents=True)
    cli.write_text(FAKE_PLUGIN_CLI.format(python=sys.executable))
    cli.chmod(0o755)
    built = tmp_path / "build" / tools.KUBERNETES_PLUGIN
    built.parent.mkdir()
    built.write_bytes(b"plugin one")

    class Built:
        def path(self) -> Path:
            return built

    select = tools.select
    monkeypatch.setattr(
        tools,
        "select",
        lambda names: [Built() if name == tools.KUBERNETES_PLUGIN else select([name])[0] for name in names],
    )
    monkeypatch.setattr(tools, "install_pulumi_root", tools.pulumi_root)
    reads: list[Path] = []
    same_bytes = tools._same_bytes

    def read(a: Path, b: Path) -> bool:
        reads.append(a)
        return same_bytes(a, b)

    monkeypatch.setattr(tools, "_same_bytes", read)

    def calls() -> list[str]:
        path = tmp_path / "calls"
        return path.read_text().splitlines() if path.exists() else []

    installed = tools.install_kubernetes_plugin()
    assert installed == tools.kubernetes_plugin_path()
    assert (calls(), installed.read_bytes()) == (["plugin install"], b"plugin one")
    reads.clear()
    assert tools.install_kubernetes_plugin() == installed
    assert (calls(), reads) == (["plugin install"], []), "unchanged: neither installed again nor read"
    installed.unlink()
    installed.write_bytes(b"broken")
    tools.install_kubernetes_plugin()
    assert calls()[1:] == ["plugin rm", "plugin install"]
    assert installed.read_bytes() == b"plugin one"
    built.unlink()
    built.write_bytes(b"plugin two")
    tools.install_kubernetes_plugin()
    assert (calls()[3:], installed.read_bytes()) == (["plugin rm", "plugin install"], b"plugin two")
    monkeypatch.setenv("FAKE_TRUNCATES", "1")
    installed.unlink()
    with pytest.raises(SystemExit, match="different from the build"):
        tools.install_kubernetes_plugin()
