"""The vela CLI as sandbox/vela.py runs it: what it hands the binary, how it reads `vela cluster list`,
and what a failure says. No cluster: the binary is a stand-in script that reports what it was given."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from sandbox import tools, vela

# `vela cluster list` of v1.9.13 on the local hub, managed-1 joined with --labels region=local,environment=dev
# (recorded from the real CLI: uitable pads each cell and separates cells by tabs).
LISTED = (
    "CLUSTER  \tALIAS\tTYPE           \tENDPOINT               \tACCEPTED\tLABELS         \n"
    "local    \t     \tInternal       \t-                      \ttrue    \t               \n"
    "managed-1\t     \tX509Certificate\thttps://127.0.0.1:36117\ttrue    \tenvironment=dev\n"
    "         \t     \t               \t                       \t        \tregion=local   \n"
)
REPORTER = """\
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "env": dict(os.environ)}))
with open(os.path.join(os.environ["HOME"], "calls.jsonl"), "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
if "fail" in sys.argv:
    print("Error: the gateway said no", file=sys.stderr)
    sys.exit(3)
if "hang" in sys.argv:
    import time
    time.sleep(60)
"""


def test_cluster_list_gives_each_cluster_with_all_its_labels() -> None:
    listed = vela.parse_cluster_list(LISTED)
    assert list(listed) == ["local", "managed-1"]
    managed = listed["managed-1"]
    assert (managed.credential_type, managed.endpoint, managed.accepted) == (
        "X509Certificate",
        "https://127.0.0.1:36117",
        "true",
    )
    assert managed.labels == {"environment": "dev", "region": "local"}
    assert listed["local"].labels == {}


def test_cluster_list_without_clusters_is_empty() -> None:
    assert vela.parse_cluster_list("No cluster found.\n") == {}


def test_cluster_list_that_is_no_table_is_an_error() -> None:
    with pytest.raises(vela.VelaError, match="no table header"):
        vela.parse_cluster_list("Error: something else\n")
    with pytest.raises(vela.VelaError, match="row of 2 cells"):
        vela.parse_cluster_list(LISTED.splitlines()[0] + "\nmanaged-1\tX\n")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> vela.Vela:
    script = tmp_path / "vela"
    script.write_text(f"#!{sys.executable}\n{REPORTER}")
    script.chmod(0o755)
    monkeypatch.setattr(tools, "paths", lambda names: {"vela": script})
    monkeypatch.setenv("KUBECONFIG", "/somebody/elses/kubeconfig")
    return vela.Vela(tmp_path / "hub.kubeconfig", tmp_path / "home", log=lambda _message: None)


def test_the_cli_gets_the_hub_a_home_of_its_own_and_yes_to_its_questions(cli: vela.Vela) -> None:
    ran = json.loads(cli.run("cluster", "list").stdout)
    assert ran["argv"] == ["cluster", "list", "--yes"]
    assert ran["env"]["KUBECONFIG"] == str(cli.hub_kubeconfig)
    assert ran["env"]["HOME"] == str(cli.home)
    assert cli.home.is_dir()
    assert set(ran["env"]) <= {"KUBECONFIG", "HOME", "PATH", "LC_CTYPE"}


def test_a_failing_command_says_which_with_its_exit_status_and_output(cli: vela.Vela) -> None:
    with pytest.raises(vela.VelaError) as raised:
        cli.run("cluster", "join", "fail")
    assert "`vela cluster join fail` failed (exit 3)" in str(raised.value)
    assert "Error: the gateway said no" in str(raised.value)


def test_a_command_that_hangs_is_stopped_at_its_bound(cli: vela.Vela) -> None:
    with pytest.raises(vela.VelaError, match=r"`vela hang` did not finish within 1s"):
        cli.run("hang", timeout=1.0)


def test_join_passes_name_and_labels_as_the_user_types_them(cli: vela.Vela, tmp_path: Path) -> None:
    cli.join("managed-2", tmp_path / "managed-2.kubeconfig", {"region": "local", "environment": "dev"})
    calls = [json.loads(line) for line in (cli.home / "calls.jsonl").read_text().splitlines()]
    kubeconfig = str(tmp_path / "managed-2.kubeconfig")
    joined = ["cluster", "join", kubeconfig, "--name", "managed-2", "--labels", "region=local,environment=dev", "--yes"]
    assert calls == [joined]
