"""`make review`: the change report between a base commit and the working tree.

Each scenario runs `python -m review` in a throwaway git repository holding a copy of the project:
the base is committed there, the change is made in its working tree, and /work's checkout is never
touched.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import ConfigError, from_file, load
from review import preview, snapshot
from review.diff import Obj, compare, prune
from tests.conftest import PROJECT_DIR, STACKS

WORKFLOW = PROJECT_DIR / ".github" / "workflows" / "pull-request.yml"
GIT = ["git", "-c", "user.name=review-test", "-c", "user.email=review@test", "-c", "commit.gpgsign=false"]
# What the copy needs to render; tests/ and hack/ stay behind.
LEFT_OUT = ("tests/", "hack/", ".github/")


class Repo:
    """A git repository with the project committed as the base; changes go into its working tree."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        return subprocess.run([*GIT, *args], cwd=self.root, capture_output=True, text=True, check=True).stdout

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def edit_stack(self, stack: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Change `Pulumi.<stack>.yaml`'s config mapping (keys as in the file, e.g. `ocm-hub:addons`)."""
        path = self.root / f"Pulumi.{stack}.yaml"
        document = yaml.safe_load(path.read_text())
        change(document["config"])
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def review(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "review", "--base", "HEAD", *args],
            cwd=self.root,
            env=env if env is not None else _clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def _clean_env() -> dict[str, str]:
    """No backend: the report must say the preview was skipped, not try it."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    root = tmp_path / "repo"
    for name in listed.stdout.splitlines():
        if not name.startswith(LEFT_OUT) and (PROJECT_DIR / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / name, root / name)
    created = Repo(root)
    created.git("init", "-q", "-b", "main")
    created.commit("base")
    return created


def _section(report: str, title: str) -> str:
    """The text of one `### title` section."""
    start = report.index(f"### {title}")
    end = report.find("\n### ", start + 1)
    return report[start : end if end != -1 else len(report)]


def _gateway(enabled: bool) -> Callable[[dict[str, Any]], None]:
    def change(config: dict[str, Any]) -> None:
        config["ocm-hub:addons"]["clusterGateway"]["enabled"] = enabled

    return change


# --- reports ---------------------------------------------------------------------------------------


def test_enabling_an_addon_in_staging(repo: Repo) -> None:
    repo.edit_stack("staging", _gateway(False))
    repo.commit("staging without the gateway")
    repo.edit_stack("staging", _gateway(True))
    first, second = repo.review(), repo.review()
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout  # stable: byte for byte
    report = first.stdout
    assert "| `staging` | 1 | 0 | 0 | 0 | 0 |" in report
    assert "| `dev` | 0 | 0 | 0 | 0 | 0 |" in report
    added = _section(report, "Stack `staging`")
    assert "**Added**\n\n- Release `open-cluster-management-addon/cluster-gateway-addon-manager`" in added
    assert "chart: cluster-gateway-addon-manager" in added
    assert "**Removed**" not in added
    assert "**Changed**" not in added
    assert "Nothing is deleted or replaced" in _section(report, "Needs attention")
    assert "### Stack `prod`: no changes" in report
    assert "- **staging**: skipped: " in _section(report, "`pulumi preview")  # no backend in this environment


def test_a_changed_object_shows_its_changed_fields_only(repo: Repo) -> None:
    repo.edit_stack("prod", lambda config: config["ocm-hub:operator"].update(replicas=4))
    result = repo.review("--stack", "prod", "--no-preview")
    assert result.returncode == 0, result.stderr
    changed = _section(result.stdout, "Stack `prod`")
    assert "- Deployment `open-cluster-management/cluster-manager`" in changed
    diff = [
        "```diff",
        "--- HEAD",
        "+++ working tree",
        "@@ -1,2 +1,2 @@",
        " spec:",
        "-  replicas: 3",
        "+  replicas: 4",
        "```",
    ]
    assert "\n".join(f"  {line}" for line in diff) in changed
    assert "| `prod` | 0 | 0 | 1 | 0 | 0 |" in result.stdout
    assert "`dev`" not in result.stdout  # --stack: that stack only


def test_disabling_the_addons_calls_out_the_deletions_first(repo: Repo) -> None:
    repo.edit_stack("staging", lambda config: config.pop("ocm-hub:addons"))
    result = repo.review("--stack", "staging", "--no-preview")
    assert result.returncode == 0, result.stderr
    report = result.stdout
    attention = _section(report, "Needs attention")
    assert report.index("### Needs attention") < report.index("### Stack `staging`")
    assert "- **staging** · Namespace `open-cluster-management-addon` · **delete**: deleting a namespace" in attention
    for chart in ("cluster-gateway-addon-manager", "cluster-proxy", "managed-serviceaccount"):
        assert f"Release `open-cluster-management-addon/{chart}` · **delete**: uninstalls {chart}" in attention
    assert "| `staging` | 0 | 4 | 0 | 4 | 0 |" in report


def test_allowing_teardown_reports_lost_protection_and_guardrails(repo: Repo) -> None:
    repo.edit_stack("prod", lambda config: config.update({"ocm-hub:allowTeardown": True}))
    result = repo.review("--stack", "prod", "--no-preview")
    assert result.returncode == 0, result.stderr
    attention = _section(result.stdout, "Needs attention")
    assert (
        "CustomResourceDefinition `clustermanagers.operator.open-cluster-management.io` · **protection removed**"
        in (attention)
    )
    assert "ClusterManager `cluster-manager` · **protection removed**: no longer retained on delete" in attention
    assert "no longer runs with --skip-remove-crds" in attention
    guardrails = _section(result.stdout, "Guardrails")
    assert guardrails.count("`fleet-teardown-protection` (mandatory) (new)") == 3


def test_registration_changes_that_unjoin_a_cluster(repo: Repo) -> None:
    clusters = [{"name": "edge-a"}, {"name": "edge-b"}]
    repo.edit_stack("prod", lambda config: config.update({"ocm-hub:registration": {"clusters": clusters}}))
    repo.commit("two clusters")
    repo.edit_stack(
        "prod",
        lambda config: config.update({"ocm-hub:registration": {"clusters": [{"name": "edge-a", "mode": "Hosted"}]}}),
    )
    result = repo.review("--stack", "prod", "--no-preview")
    assert result.returncode == 0, result.stderr
    attention = _section(result.stdout, "Needs attention")
    assert "ManagedClusterRegistration `edge-b` · **delete**: unjoins cluster edge-b" in attention
    assert "ManagedClusterRegistration `edge-a` · **replace**: changing mode unjoins cluster edge-a" in attention


def test_an_ocm_upgrade_is_named_and_replaces_nothing(repo: Repo) -> None:
    clusters = {"clusters": [{"name": "edge-a"}]}
    repo.edit_stack(
        "prod", lambda config: config.update({"ocm-hub:ocmVersion": "v1.2.1", "ocm-hub:registration": clusters})
    )
    repo.commit("prod at v1.2.1")
    repo.edit_stack("prod", lambda config: config.update({"ocm-hub:ocmVersion": "v1.3.1"}))
    result = repo.review("--stack", "prod", "--no-preview")
    assert result.returncode == 0, result.stderr
    attention = _section(result.stdout, "Needs attention")
    assert "- **prod** · OCM release v1.2.1 → v1.3.1 · **upgrade**:" in attention
    assert "Nothing is deleted or replaced on the cluster" in attention
    changed = _section(result.stdout, "Stack `prod`")
    assert "- CustomResourceDefinition `clustermanagers.operator.open-cluster-management.io`" in changed
    assert "  -  ocmVersion: v1.2.1\n" in changed  # the registration follows the hub's release
    assert "  +  ocmVersion: v1.3.1\n" in changed


def test_a_new_and_a_removed_stack_file(repo: Repo) -> None:
    shutil.copy(repo.root / "Pulumi.dev.yaml", repo.root / "Pulumi.qa.yaml")
    (repo.root / "Pulumi.dev.yaml").unlink()
    new = repo.review("--stack", "qa", "--no-preview")
    assert new.returncode == 0, new.stderr
    assert "| `qa` (new stack file) | 11 | 0 | 0 | 0 | 3 |" in new.stdout  # qa has no policy/config/qa.json yet
    removed = repo.review("--stack", "dev", "--no-preview")
    assert removed.returncode == 0, removed.stderr
    assert "| `dev` (stack file removed) | 0 | 0 | 0 | 1 | 0 |" in removed.stdout
    assert "`Pulumi.dev.yaml` removed: nothing on the cluster changes by itself" in removed.stdout
    assert "### Stack `dev`: stack file removed" in removed.stdout


def test_a_render_error_exits_2_with_the_render_message(repo: Repo) -> None:
    repo.edit_stack("staging", lambda config: config["ocm-hub:operator"].update(replicas=0))
    result = repo.review("--no-preview")
    assert result.returncode == 2
    assert result.stdout == ""
    with pytest.raises(ConfigError) as caught:
        load(from_file(repo.root / "Pulumi.staging.yaml"))
    assert result.stderr == f"error: stack staging at the working tree: {caught.value}\n"


def test_a_stack_file_whose_top_level_is_a_list_exits_2_naming_it(repo: Repo) -> None:
    (repo.root / "Pulumi.staging.yaml").write_text("- config: {}\n")
    result = repo.review("--no-preview")
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{repo.root / 'Pulumi.staging.yaml'}: a stack file is a mapping" in result.stderr


def test_an_unknown_base_exits_2(repo: Repo) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "review", "--base", "no-such-branch", "--no-preview"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "'no-such-branch' is not a commit" in result.stderr


def test_the_checkout_is_left_as_it_was(repo: Repo) -> None:
    repo.edit_stack("prod", lambda config: config["ocm-hub:operator"].update(replicas=5))
    status = repo.git("status", "--porcelain")
    assert repo.review("--stack", "prod", "--no-preview").returncode == 0
    assert repo.git("status", "--porcelain") == status
    assert repo.git("worktree", "list", "--porcelain").count("worktree ") == 1


# --- secrets -----------------------------------------------------------------------------------------

CIPHERTEXT = "v1:SENTINELciphertextAAAAxyz=="
PROGRAM_SECRET = "hunter2-program-secret"


def test_secrets_never_reach_the_report(repo: Repo) -> None:
    """Secret stack config, and secret values the program puts into resources, never appear."""
    repo.edit_stack("prod", lambda config: config.update({"kubernetes:kubeconfig": {"secure": CIPHERTEXT}}))
    repo.commit("the hub kubeconfig is secret config")
    with (repo.root / "__main__.py").open("a") as program:
        program.write(
            "\nfrom pulumi_kubernetes.core.v1 import ConfigMap, Secret\n"
            f'Secret("extra-secret", metadata={{"name": "extra", "namespace": "default"}}, '
            f'string_data={{"password": "{PROGRAM_SECRET}"}})\n'
            f'ConfigMap("extra-config", metadata={{"name": "extra", "namespace": "default"}}, '
            f'data={{"token": pulumi.Output.secret("{PROGRAM_SECRET}")}})\n'
        )
    repo.edit_stack("prod", lambda config: config["ocm-hub:operator"].update(replicas=4))
    result = repo.review("--stack", "prod", "--no-preview")
    assert result.returncode == 0, result.stderr
    assert "ConfigMap `default/extra`" in result.stdout
    assert "Secret `default/extra`" in result.stdout
    assert PROGRAM_SECRET not in result.stdout
    assert "SENTINEL" not in result.stdout
    assert "data: '[secret]'" in result.stdout
    assert "stringData: '[secret]'" in result.stdout
    guardrails = _section(result.stdout, "Guardrails")
    assert "`no-plaintext-credentials` (mandatory) (new) · `extra-config`: data.token holds a credential" in guardrails

    repo.edit_stack("prod", lambda config: config.update({"ocm-hub:imagePullSecrets": {"secure": CIPHERTEXT}}))
    broken = repo.review("--stack", "prod", "--no-preview")
    assert broken.returncode == 2
    assert "SENTINEL" not in broken.stderr
    assert "ocm-hub:imagePullSecrets" in broken.stderr
    assert "[secret]" in broken.stderr


def test_secret_values_are_masked_before_leaving_the_render() -> None:
    from pulumi.runtime import rpc

    wrapped = {rpc._special_sig_key: rpc._special_secret_sig, "value": PROGRAM_SECRET}
    assert snapshot._masked({"data": {"token": wrapped}, "n": 3.0}) == {"data": {"token": "[secret]"}, "n": 3}
    secret_map = {rpc._special_sig_key: rpc._special_secret_sig, "value": {"token": PROGRAM_SECRET, "n": [1]}}
    assert snapshot._masked({"data": secret_map}) == {"data": {"token": "[secret]", "n": ["[secret]"]}}


# --- pulumi preview --------------------------------------------------------------------------------


def _fake_pulumi(tmp_path: Path) -> Path:
    """A `pulumi` that records its arguments and prints a diff with a serialized provider line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" > "{tmp_path}/args"\n'
        "echo '  ~ kubernetes:apps/v1:Deployment: (update)'\n"
        "echo '      ~ spec: { replicas: 3 => 4 }'\n"
        "echo '      + __provider: \"gASVb2xkLXBpY2tsZWQtcHJvdmlkZXI=\"'\n"
        "echo '      password: [secret]'\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_preview_runs_only_with_a_cli_a_backend_and_a_cluster(tmp_path: Path) -> None:
    bin_dir = _fake_pulumi(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    home = str(tmp_path / "home")
    full = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": home, "PULUMI_BACKEND_URL": "file:///nowhere"}
    assert preview.skip_reason(PROJECT_DIR, "prod", {**full, "PATH": "/nonexistent"}) == "the Pulumi CLI is not on PATH"
    no_backend = {k: v for k, v in full.items() if k != "PULUMI_BACKEND_URL"}
    assert "no backend is configured" in str(preview.skip_reason(PROJECT_DIR, "prod", no_backend))
    assert "no cluster is configured" in str(preview.skip_reason(PROJECT_DIR, "prod", full))
    ran = preview.run(PROJECT_DIR, "prod", {**full, "KUBECONFIG": str(kubeconfig)})
    assert ran.ran
    assert ran.ok
    args = (tmp_path / "args").read_text().split()
    assert args[:6] == ["preview", "--diff", "--stack", "prod", "--non-interactive", "--color"]
    assert args[args.index("--policy-pack") + 1] == str(PROJECT_DIR / "policy")
    assert args[args.index("--policy-pack-config") + 1] == str(PROJECT_DIR / "policy" / "config" / "prod.json")
    assert "--show-secrets" not in args
    assert "__provider" not in ran.text
    assert "replicas: 3 => 4" in ran.text


def test_preview_output_lands_in_the_report(repo: Repo, tmp_path: Path) -> None:
    bin_dir = _fake_pulumi(tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    env = {
        **_clean_env(),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_BACKEND_URL": "file:///nowhere",
        "KUBECONFIG": str(kubeconfig),
    }
    result = repo.review("--stack", "dev", env=env)
    assert result.returncode == 0, result.stderr
    previews = _section(result.stdout, "`pulumi preview")
    assert "- **dev**: passed" in previews
    assert "      ~ spec: { replicas: 3 => 4 }" in previews
    assert "__provider" not in previews


# --- the diff itself ---------------------------------------------------------------------------------


def _obj(kind: str, name: str, urn: str, doc: dict[str, Any] | None = None, **facts: Any) -> Obj:
    body = doc if doc is not None else {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
    return Obj(
        identity=("v1", kind, "", name),
        doc=body,
        urn=urn,
        type=f"kubernetes:core/v1:{kind}",
        name=urn.rsplit("::", 1)[-1],
        retain_on_delete=facts.get("retain", False),
        deleted_with="",
        aliases=tuple(facts.get("aliases", ())),
        inputs=body,
    )


def test_a_rename_without_alias_is_a_replacement() -> None:
    old = _obj("Namespace", "hub", "urn:pulumi:s::p::kubernetes:core/v1:Namespace::ns")
    renamed = _obj("Namespace", "hub", "urn:pulumi:s::p::kubernetes:core/v1:Namespace::hub-namespace")
    (danger,) = compare("s", [old], [renamed], ("a", "b")).dangers
    assert danger.action == "replace"
    assert "renamed (`ns` → `hub-namespace`) without an alias" in danger.why
    aliased = _obj("Namespace", "hub", renamed.urn, aliases=["ns"])
    assert compare("s", [old], [aliased], ("a", "b")).dangers == []
    retained = _obj("Namespace", "hub", old.urn, retain=True)
    still_retained = _obj("Namespace", "hub", renamed.urn, retain=True)
    assert compare("s", [retained], [still_retained], ("a", "b")).dangers == []  # the old delete is skipped


def test_a_new_name_for_the_same_resource_is_a_replacement() -> None:
    urn = "urn:pulumi:s::p::kubernetes:core/v1:Namespace::ns"
    diff = compare("s", [_obj("Namespace", "hub", urn)], [_obj("Namespace", "hub-2", urn)], ("a", "b"))
    assert [o.label for o in diff.added] == ["Namespace `hub-2`"]
    assert [o.label for o in diff.removed] == ["Namespace `hub`"]
    (danger,) = diff.dangers
    assert (danger.label, danger.action) == ("Namespace `hub`", "replace")
    assert "now declares Namespace `hub-2`" in danger.why


def test_a_registration_whose_settings_alone_changed_is_no_change() -> None:
    """As the preview: raising joinTimeout updates no registration, so the review lists none."""

    def registration(**spec: Any) -> Obj:
        doc = {"kind": "ManagedClusterRegistration", "metadata": {"name": "edge"}, "spec": {"labels": {}, **spec}}
        return _obj("ManagedClusterRegistration", "edge", "urn:pulumi:s::p::reg::ocm-hub-cluster-edge", doc)

    before = registration(timeoutSeconds=300, waitForAddons=False, addonTimeoutSeconds=600, maxConcurrentJoins=32)
    settings = registration(timeoutSeconds=360, waitForAddons=True, addonTimeoutSeconds=900, maxConcurrentJoins=64)
    assert compare("s", [before], [settings], ("a", "b")).empty
    labelled = registration(timeoutSeconds=360, labels={"tier": "gold"})
    assert [change.after.label for change in compare("s", [before], [labelled], ("a", "b")).changed] == [
        "ManagedClusterRegistration `edge`"
    ]


def test_a_selector_change_replaces_the_workload() -> None:
    def deployment(app: str) -> dict[str, Any]:
        return {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": app}}}}

    urn = "urn:pulumi:s::p::kubernetes:apps/v1:Deployment::d"
    before, after = _obj("Deployment", "d", urn, deployment("a")), _obj("Deployment", "d", urn, deployment("b"))
    (danger,) = compare("s", [before], [after], ("a", "b")).dangers
    assert danger.action == "replace"
    assert "spec.selector is immutable" in danger.why


def test_named_list_items_are_matched_by_name() -> None:
    before = {"containers": [{"name": "a", "image": "x:1", "args": ["--v"]}, {"name": "b", "image": "y:1"}]}
    after = {"containers": [{"name": "a", "image": "x:2", "args": ["--v"]}, {"name": "b", "image": "y:1"}]}
    assert prune(before, after) == (
        {"containers": [{"name": "a", "image": "x:1"}]},
        {"containers": [{"name": "a", "image": "x:2"}]},
    )


# --- the workflow ----------------------------------------------------------------------------------


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def test_workflow_runs_the_suite_the_review_and_the_guarded_preview() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as true
    jobs = workflow["jobs"]
    commands = [step.get("run", "") for step in _steps(jobs["test"])]
    assert "make test" in commands
    assert "make lint-workflows" in commands
    review = "\n".join(step.get("run", "") for step in _steps(jobs["review"]))
    assert 'make --silent review BASE="$BASE" > review.md' in review
    assert "GITHUB_STEP_SUMMARY" in review
    (checkout,) = [s for s in _steps(jobs["review"]) if s.get("uses", "").startswith("actions/checkout")]
    assert checkout["with"]["fetch-depth"] == 0  # the base branch must be there for its worktree
    (pulumi,) = [s for s in _steps(jobs["preview"]) if s.get("uses", "").startswith("pulumi/actions")]
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["diff"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["policyPackConfigs"] == "policy/config/${{ matrix.stack }}.json"
    assert jobs["preview"]["if"] == "needs.stacks.outputs.backend == 'true'"


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_the_workflow_previews_has_a_policy_config(stack: str) -> None:
    assert (PROJECT_DIR / "policy" / "config" / f"{stack}.json").is_file()
