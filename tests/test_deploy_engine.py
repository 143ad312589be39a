"""deploy.engine on Pulumi's Automation API, with a fake `pulumi` executable that records what it was
asked and with which environment: where the CLI is found, what reaches pulumi, and how its failures
come back."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
from pulumi import automation as auto
from pulumi.automation.errors import create_command_error

from deploy import engine
from deploy.flow import Console, DeployError, Local, PulumiError
from deploy.procs import TOKEN_ENV

# A `pulumi` that logs each call (argv, and the environment it cares about) to $FAKE_LOG, keeps its
# stacks as files in $FAKE_STATE, and behaves as its $FAKE_* variables say.
FAKE_CLI = r"""#!{python}
import json, os, signal, sys
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
env = {{k: v for k, v in os.environ.items() if k.startswith(("PULUMI_", "KUBECONFIG", "{token}"))}}
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"args": args, "env": env}}) + "\n")
state = os.environ["FAKE_STATE"]
stack = args[args.index("--stack") + 1] if "--stack" in args else None
if args == ["version"]:
    print("v3.276.0")
elif args[:2] == ["stack", "select"]:
    if not os.path.exists(os.path.join(state, stack)):
        sys.exit("error: no stack named '%s' found" % stack)
elif args[:2] == ["stack", "init"]:
    open(os.path.join(state, args[2]), "w").close()
    # As pulumi does with a passphrase: the stack file saved again, re-serialized, with its salt.
    import yaml
    path = "Pulumi.%s.yaml" % args[2]
    settings = yaml.safe_load(open(path)) or {{}}
    settings["encryptionsalt"] = "v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVy"
    open(path, "w").write(yaml.safe_dump(settings))
elif args[:2] == ["config", "set"]:
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE") != os.environ.get("FAKE_PASSPHRASE", ""):
        sys.exit("error: incorrect passphrase")
elif args[:2] == ["stack", "export"]:
    print(os.environ.get("FAKE_DEPLOYMENT", '{{"version": 3, "deployment": {{}}}}'))
elif args[0] in ("up", "preview", "destroy", "refresh"):
    print("Destroying (dev):" if args[0] == "destroy" else "Updating (dev):")
    if os.environ.get("FAKE_KILLED") == args[0]:
        os.kill(os.getpid(), signal.SIGKILL)
    if args[0] == "destroy":
        print("The resources in the stack have been deleted, but the history and configuration associated with the stack are still maintained.")
        print("If you want to remove the stack completely, run `pulumi stack rm dev`.")
    if os.environ.get("FAKE_FAILS") == args[0]:
        print("error: update failed", file=sys.stderr)
        sys.exit(255)
elif args[:2] == ["stack", "output"]:
    print("{{}}")
elif args[:2] == ["stack", "history"]:
    print('[{{"kind": "update", "startTime": "2026-01-01T00:00:00.000Z", "message": "", "environment": {{}}, "config": {{}}, "result": "succeeded", "endTime": "2026-01-01T00:00:01.000Z", "resourceChanges": {{}}, "version": 1}}]')
"""


STACK_FILE = """# The dev stack: one replica.
config:
  ocm-hub:allowTeardown: true  # a dev hub may go
"""


class Fake:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path / "project"
        self.root.mkdir()
        (self.root / "Pulumi.yaml").write_text("name: ocm-hub\nruntime: python\n")
        (self.root / "Pulumi.dev.yaml").write_text(STACK_FILE)
        self.bin = tmp_path / "install" / "bin"
        self.bin.mkdir(parents=True)
        cli = self.bin / "pulumi"
        cli.write_text(FAKE_CLI.format(python=sys.executable, token=TOKEN_ENV))
        cli.chmod(0o755)
        self.log = tmp_path / "calls.jsonl"
        state = tmp_path / "state"
        state.mkdir()
        for key in [k for k in os.environ if k.startswith("PULUMI_")]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("FAKE_LOG", str(self.log))
        monkeypatch.setenv("FAKE_STATE", str(state))

    def engine(self, **env: str) -> engine.Engine:
        command = auto.PulumiCommand(root=str(self.bin.parent))
        return engine.Engine(self.root, command, env, "the-token", Console())

    def call(self, first: str) -> tuple[list[str], dict[str, str]]:
        """The arguments and environment of the last call whose first argument is `first`."""
        calls = [json.loads(line) for line in self.log.read_text().splitlines()]
        last = [call for call in calls if call["args"][0] == first][-1]
        return last["args"], last["env"]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fake:
    return Fake(tmp_path, monkeypatch)


def test_the_sdk_still_words_a_failed_command_as_command_result_reads_it() -> None:
    result = auto.CommandResult(stdout="Updating (dev):\nmore", stderr="error: incorrect passphrase\nsecond", code=-9)
    assert engine.command_result(create_command_error(result)) == (-9, "error: incorrect passphrase\nsecond")


def test_pulumi_runs_with_the_local_backend_an_empty_passphrase_and_the_run_token(fake: Fake) -> None:
    deploy_engine = fake.engine(PULUMI_HOME="/built/home")
    assert not (fake.root / ".pulumi-state").exists(), "made with the first stack, not with the engine"
    assert deploy_engine.create_or_select("dev") is not None
    assert deploy_engine.backend == (fake.root / ".pulumi-state").as_uri()
    assert (fake.root / ".pulumi-state").is_dir()
    args, env = fake.call("stack")
    assert args[:3] == ["stack", "init", "dev"]
    assert env == {
        "PULUMI_BACKEND_URL": deploy_engine.backend,
        "PULUMI_CONFIG_PASSPHRASE": "",
        "PULUMI_HOME": "/built/home",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_AUTOMATION_API": "true",
        TOKEN_ENV: "the-token",
    }


def test_the_users_backend_and_passphrase_are_kept(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_BACKEND_URL", "file:///elsewhere")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "right")
    deploy_engine = fake.engine()
    deploy_engine.create_or_select("dev")
    _, env = fake.call("stack")
    assert (env["PULUMI_BACKEND_URL"], env["PULUMI_CONFIG_PASSPHRASE"]) == ("file:///elsewhere", "right")
    assert not (fake.root / ".pulumi-state").exists()


def test_a_stack_that_does_not_exist_is_none_unless_created(fake: Fake) -> None:
    deploy_engine = fake.engine()
    assert deploy_engine.select("dev") is None
    assert deploy_engine.create_or_select("dev") is not None
    assert deploy_engine.select("dev") is not None


def test_a_wrong_passphrase_is_pulumis_own_line_and_the_stack_file_is_untouched(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PASSPHRASE", "right")
    deploy_engine = fake.engine()
    with pytest.raises(DeployError) as caught:
        deploy_engine.check_passphrase("dev")
    assert (caught.value.code, caught.value.line) == (1, "error: incorrect passphrase")
    args, _ = fake.call("config")
    assert args[args.index("--config-file") + 1] != str(fake.root / "Pulumi.dev.yaml"), "a scratch copy"
    assert "--secret" in args
    assert (fake.root / "Pulumi.dev.yaml").read_text() == STACK_FILE


def test_on_the_local_clusters_pulumi_gets_their_stack_file_and_kubeconfig(fake: Fake, tmp_path: Path) -> None:
    stack = fake.engine().create_or_select("dev")
    assert stack is not None
    stack.up(Local(tmp_path / "local.yaml", tmp_path / "hub.kubeconfig"))
    args, env = fake.call("up")
    assert args[args.index("--config-file") + 1] == str(tmp_path / "local.yaml")
    assert env["KUBECONFIG"] == str(tmp_path / "hub.kubeconfig")
    stack.up(None)
    args, env = fake.call("up")
    assert "--config-file" not in args
    assert "KUBECONFIG" not in env


def test_pulumis_output_is_shown_but_its_stack_rm_hint(fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    stack = fake.engine().create_or_select("dev")
    assert stack is not None
    stack.destroy(None)
    assert capsys.readouterr().out == "Destroying (dev):\n"


def test_a_failed_operation_is_failed_and_a_killed_one_names_its_signal(
    fake: Fake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = fake.engine().create_or_select("dev")
    assert stack is not None
    monkeypatch.setenv("FAKE_FAILS", "up")
    with pytest.raises(PulumiError) as caught:
        stack.up(None)
    assert caught.value.signal is None
    assert "error: update failed" in capsys.readouterr().err
    monkeypatch.setenv("FAKE_KILLED", "refresh")
    with pytest.raises(PulumiError) as caught:
        stack.refresh_pending(None)
    assert caught.value.signal == signal.SIGKILL
    assert "--clear-pending-creates" in fake.call("refresh")[0]


def test_pending_operations_and_resources_come_from_the_exported_state(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.engine().create_or_select("dev")
    urn = "urn:pulumi:dev::ocm-hub::ocm-hub:index:OcmHub$ocm-hub:index:HubReadiness::ocm-hub-readiness"
    deployment = {
        "resources": [{"urn": "a"}, {"urn": "b"}],
        "pending_operations": [{"type": "creating", "resource": {"urn": urn}}],
    }
    monkeypatch.setenv("FAKE_DEPLOYMENT", json.dumps({"version": 3, "deployment": deployment}))
    stack = fake.engine().create_or_select("dev")
    assert (stack.pending_operations(), stack.resource_count()) == (["creating ocm-hub-readiness"], 2)


def test_a_stack_made_now_is_not_exported_and_one_that_exists_once_until_an_operation_runs(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    def exports() -> int:
        calls = [json.loads(line)["args"] for line in fake.log.read_text().splitlines()]
        return sum(args[:2] == ["stack", "export"] for args in calls)

    made = fake.engine().create_or_select("dev")
    assert (made.pending_operations(), made.drift_checked(), made.resource_count()) == ([], [], 0)
    assert exports() == 0, "pulumi stack init just made it: it holds nothing"
    monkeypatch.setenv("FAKE_DEPLOYMENT", json.dumps({"version": 3, "deployment": {"resources": [{"urn": "a"}]}}))
    made.up(None)
    assert (made.resource_count(), exports()) == (1, 1), "the update changed the state: exported again"
    selected = fake.engine().create_or_select("dev")
    assert (selected.pending_operations(), selected.drift_checked(), selected.resource_count()) == ([], [], 1)
    assert exports() == 2, "one export answers all three"
    selected.destroy(None)
    selected.resource_count()
    assert exports() == 3


def test_the_drift_checked_object_is_the_cluster_manager_and_only_it_is_refreshed(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fake.engine().create_or_select("dev").drift_checked() == []
    prefix = "urn:pulumi:dev::ocm-hub::ocm-hub:index:OcmHub$"
    cm = f"{prefix}kubernetes:operator.open-cluster-management.io/v1:ClusterManager::ocm-hub-cluster-manager"
    deployment = {
        "resources": [
            {
                "urn": f"{prefix}kubernetes:apps/v1:Deployment::ocm-hub-operator",
                "type": "kubernetes:apps/v1:Deployment",
            },
            {"urn": cm, "type": "kubernetes:operator.open-cluster-management.io/v1:ClusterManager"},
        ]
    }
    monkeypatch.setenv("FAKE_DEPLOYMENT", json.dumps({"version": 3, "deployment": deployment}))
    stack = fake.engine().create_or_select("dev")
    assert stack.drift_checked() == ["ClusterManager ocm-hub-cluster-manager"]
    stack.refresh_drift_checked(None)
    args, _ = fake.call("refresh")
    assert [args[i + 1] for i, arg in enumerate(args) if arg == "--target"] == [cm]
    assert "--clear-pending-creates" not in args


def test_a_new_stack_keeps_the_stack_file_as_written_but_for_the_salt_pulumi_adds(fake: Fake) -> None:
    assert fake.engine().create_or_select("dev").salted_now, "the salt was made by this run"
    assert (
        fake.root / "Pulumi.dev.yaml"
    ).read_text() == STACK_FILE + "encryptionsalt: v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVy\n"
    assert not fake.engine().create_or_select("dev").salted_now, "the salt was in the file"
    assert (fake.root / "Pulumi.dev.yaml").read_text().count("encryptionsalt") == 1


def test_removing_a_stack_keeps_its_stack_file(fake: Fake) -> None:
    stack = fake.engine().create_or_select("dev")
    assert stack is not None
    stack.remove(force=True)
    assert fake.call("stack")[0] == ["stack", "rm", "--yes", "--force", "--preserve-config", "dev"]


class FakeTools:
    def __init__(self, root: Path, *, built: bool) -> None:
        self.root, self.is_built, self.ensured = root, built, 0

    def built(self) -> bool:
        return self.is_built

    def complete(self) -> bool:
        return self.is_built

    def ensure(self) -> Path:
        self.ensured += 1
        return self.root

    def env(self) -> dict[str, str]:
        return {"PULUMI_HOME": "/built/home"}


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No pulumi on PATH, no ~/.pulumi, no Go; the official installer out of reach."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def unreachable() -> auto.PulumiCommand:
        raise OSError("get.pulumi.com: unreachable")

    monkeypatch.setattr(auto.PulumiCommand, "install", staticmethod(unreachable))
    return empty


def test_a_pulumi_on_path_comes_first(fake: Fake, nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake.bin}{os.pathsep}{nowhere}")
    tools = FakeTools(fake.bin.parent, built=True)
    command, env = engine.find_cli(tools, Console())
    assert (command.command, env, tools.ensured) == ("pulumi", {}, 0)


def test_then_the_one_in_the_home_directory(fake: Fake, nowhere: Path, tmp_path: Path) -> None:
    (tmp_path / "home" / ".pulumi").mkdir(parents=True)
    (tmp_path / "home" / ".pulumi" / "bin").symlink_to(fake.bin)
    command, env = engine.find_cli(FakeTools(fake.bin.parent, built=True), Console())
    assert (command.command, env) == (str(tmp_path / "home" / ".pulumi" / "bin" / "pulumi"), {})


def test_then_the_one_built_here_before(fake: Fake, nowhere: Path) -> None:
    tools = FakeTools(fake.bin.parent, built=True)
    command, env = engine.find_cli(tools, Console())
    assert (command.command, env, tools.ensured) == (str(fake.bin / "pulumi"), tools.env(), 1)


def test_with_no_installer_it_is_built_from_go_modules_saying_so(
    fake: Fake, nowhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (nowhere / "go").symlink_to("/bin/true")
    tools = FakeTools(fake.bin.parent, built=False)
    command, _ = engine.find_cli(tools, Console())
    assert (command.command, tools.ensured) == (str(fake.bin / "pulumi"), 1)
    assert capsys.readouterr().out == (
        "==> no Pulumi CLI and its installer cannot be reached: building one from pinned Go modules\n"
    )


def test_with_no_go_either_it_says_how_to_install_pulumi(fake: Fake, nowhere: Path) -> None:
    tools = FakeTools(fake.bin.parent, built=False)
    with pytest.raises(DeployError) as caught:
        engine.find_cli(tools, Console())
    assert caught.value.line == (
        "error: no Pulumi CLI, its installer cannot be reached, and no Go to build one: "
        "install Pulumi (https://www.pulumi.com/docs/install/)"
    )
    assert tools.ensured == 0


def test_a_cli_is_at_hand_only_when_finding_it_builds_and_downloads_nothing(
    fake: Fake, nowhere: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy.wiring looks for such a CLI while the stack file is checked; any other is looked for after."""
    assert not engine.at_hand(FakeTools(fake.bin.parent, built=False))
    assert engine.at_hand(FakeTools(fake.bin.parent, built=True))
    (tmp_path / "home" / ".pulumi").mkdir(parents=True)
    (tmp_path / "home" / ".pulumi" / "bin").symlink_to(fake.bin)
    assert engine.at_hand(FakeTools(fake.bin.parent, built=False))
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("PATH", f"{fake.bin}{os.pathsep}{nowhere}")
    assert engine.at_hand(FakeTools(fake.bin.parent, built=False))
