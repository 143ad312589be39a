"""`make up`, `make status` and `make down` as a new user runs them: in a fresh copy of the project (the
files git tracks), with no kube context, so `make up` starts the copy's own local clusters, deploys the
dev stack with the built CLI and plugin, and `make status` shows the hub ready and managed-1 joined and
available; then `make down` twice. Before that, the mistakes a user makes end with one clear line and
a non-zero exit, before anything is deployed.

These tests start and stop clusters of their own (in the copy's .e2e/), never the session's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import build_tools
import localcluster
import pytest
import yaml

from .pulumi_cli import REPO_ROOT

UP_TIMEOUT = 1200.0
PASSPHRASE = "make-up-e2e"


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str


@dataclass(frozen=True)
class Clone:
    root: Path

    def make(self, *args: str, timeout: float = 120.0, **env: str) -> Run:
        """`make ARGS` in the clone, as from a shell with no terminal, no kube context and no Pulumi CLI."""
        base = {k: v for k, v in _clean_env().items() if not k.startswith(("PULUMI_", "KUBE", "YES", "LOCAL", "CI"))}
        base.update({"KUBECONFIG": str(self.root / "no-such-kubeconfig"), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
        base["PATH"] = os.pathsep.join(p for p in base.get("PATH", "").split(os.pathsep) if "pulumi" not in p)
        proc = subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=self.root,
            env={**base, **env},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(proc.returncode, proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def clone() -> Iterator[Clone]:
    """The files git tracks, as a fresh clone has them; its clusters stopped and removed at the end."""
    if missing := build_tools.missing(build_tools.UP_TOOLS):
        pytest.fail(f"missing binaries {missing}: run `make e2e-tools`", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="ocm-hub-clone-"))
    listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    for name in listed.stdout.splitlines():
        source = REPO_ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")
    installed = (REPO_ROOT / ".venv" / ".installed").stat().st_mtime_ns  # the linked virtualenv is built
    for name in ("requirements.txt", "requirements-dev.txt"):  # from these very files: make must not redo it
        os.utime(root / name, ns=(installed, installed))
    try:
        yield Clone(root)
    finally:
        subprocess.run(
            [str(REPO_ROOT / ".venv/bin/python"), "hack/localcluster.py", "down"],
            cwd=root,
            env=_clean_env(),
            timeout=300,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def _clean_env() -> dict[str, str]:
    """This process's environment without the session's choice of local clusters: the clone has its own."""
    return {key: value for key, value in os.environ.items() if key != localcluster.STATE_DIR_ENV}


def _clusters_down(clone: Clone) -> tuple[bool, str]:
    shown = subprocess.run(
        [str(REPO_ROOT / ".venv/bin/python"), "hack/localcluster.py", "status"],
        cwd=clone.root,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return all(line.endswith(": down") for line in shown.stdout.splitlines()), shown.stdout


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
    env = {**os.environ, **build_tools.pulumi_env(REPO_ROOT / ".venv/bin/python")}
    env.update({"PULUMI_BACKEND_URL": (clone.root / ".pulumi-state").as_uri(), "PULUMI_CONFIG_PASSPHRASE": "right"})
    (clone.root / ".pulumi-state").mkdir(exist_ok=True)
    pulumi = build_tools.install_pulumi_root() / "bin" / "pulumi"
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
        [str(build_tools.paths(["kubectl"])["kubectl"]), "get", "clustermanagers", "-o", "name"],
        env={**os.environ, "KUBECONFIG": str(clone.root / ".e2e/hub.kubeconfig")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "cluster-manager" not in cluster_managers.stdout, "nothing was deployed"


def test_make_up_status_and_down_on_a_fresh_clone(clone: Clone) -> None:
    up = clone.make("up", "STACK=dev", "YES=1", timeout=UP_TIMEOUT)
    assert up.returncode == 0, up.output[-6000:]
    assert "starting the local clusters" in up.output

    status = clone.make("status", "STACK=dev", "JSON=1")
    assert status.returncode == 0, status.output
    report = json.loads(status.output)
    assert (report["source"], report["hubReady"]) == ("live", True), report
    managed = report["clusters"]["managed-1"]
    assert (managed["joined"]["status"], managed["available"]["status"]) == ("True", "True"), managed

    for _ in range(2):
        down = clone.make("down", "STACK=dev", "YES=1", timeout=UP_TIMEOUT)
        assert down.returncode == 0, down.output[-6000:]
    stopped, shown = _clusters_down(clone)
    assert stopped, shown
