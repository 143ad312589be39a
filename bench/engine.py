"""The registration under the real engine: the Pulumi CLI and Python language host sandbox/tools.py built,
against the fake API servers of ocmhub_testing/fakekube, with the fake agent taking JOIN_SECONDS to join.

- `pulumi up` of a registration program for 1, 10 and 100 clusters (each run a new stack): wall time, the most
  joins in progress at once (seen by the fake agent) and API calls per cluster (the fakes' request logs);
- `pulumi preview` of 1,000 registrations already in state (so the engine calls Check and Diff on each),
  beside a bare program of the same resource count in the same run, and the API calls the preview made.

The state of 1,000 registrations is one real registration's state, copied under 1,000 names and imported:
joining 1,000 clusters against the fakes would only measure the fakes.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml

from bench import fleet
from ocmhub_testing.fake_agent import FakeAgent
from ocmhub_testing.fakekube import DEFAULT_NAMESPACES, FakeKube
from ocmhub_testing.pki import Pki, vela_secret
from sandbox import tools

PROJECT_DIR = Path(__file__).resolve().parent.parent

JOIN_SECONDS = 20.0
UP_SIZES = (1, 10, 100)
PREVIEW_CLUSTERS = 1000
PREVIEW_RUNS = 3
PARALLEL = 100  # the engine's --parallel and the stack's registration.maxConcurrentJoins
STACK = "bench"
TYPE = "pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration"

REGISTRATION_PROGRAM = """\
import pulumi

from config import from_pulumi, load
from providers.discovery import fetch_vela_secrets, plan
from providers.managed_cluster import ManagedClusterRegistration

cfg = load(from_pulumi())
hub = {"kubeconfig": pulumi.Config("kubernetes").get("kubeconfig"), "context": None}
secrets = fetch_vela_secrets(cfg.registration, hub) if cfg.registration.discover else None
for item in plan(cfg, secrets):
    ManagedClusterRegistration(f"ocm-hub-cluster-{item.registration.cluster}", item.registration)
"""

# The floor: as many dynamic resources, with a provider that does nothing, serialized once as ours is. Given
# `spec` (a registration's), each resource carries it as ours do: the floor for resources of that size.
BARE_PROGRAM = """\
import json

import pulumi
import pulumi.dynamic.dynamic as dynamic_module
from pulumi.dynamic import CreateResult, ResourceProvider


class Noop(ResourceProvider):
    def create(self, props):
        return CreateResult(props["clusterName"], props)


class Registration(pulumi.dynamic.Resource, module="ocm-hub", name="ManagedClusterRegistration"):
    pass


config = pulumi.Config()
spec = json.loads(config.get("spec") or "null")
serialized = dynamic_module.serialize_provider(Noop())
dynamic_module.serialize_provider = lambda _provider: serialized
for i in range(config.require_int("clusters")):
    name = f"c{i:04d}"
    props = {"clusterName": name}
    if spec:
        props.update(spec={**spec, "clusterName": name, "secretName": name}, status=None)
    Registration(Noop(), f"ocm-hub-cluster-{name}", props)
"""


def available() -> bool:
    return not tools.missing(tools.PULUMI_TOOLS)


class Stack:
    """One project and stack of the built CLI, on a file backend in `root`, offline."""

    def __init__(self, root: Path, program: str) -> None:
        self.directory, state = root / "program", root / "state"
        self.directory.mkdir(parents=True)
        state.mkdir()
        (self.directory / "Pulumi.yaml").write_text("name: ocm-hub-bench\nruntime: python\n")
        (self.directory / "__main__.py").write_text(program)
        tools.install_pulumi_root()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")},
            **tools.pulumi_env(),
            "PULUMI_BACKEND_URL": state.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "bench",
            "PYTHONPATH": str(PROJECT_DIR),
        }
        self.run("stack", "init", STACK)

    def run(self, *args: str, stdin: str | None = None) -> tuple[float, str]:
        """Seconds the command took and its stdout; its output in the error when it fails."""
        started = time.perf_counter()
        done = subprocess.run(
            [str(tools.pulumi_root() / "bin" / "pulumi"), "--non-interactive", *args],
            cwd=self.directory,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"pulumi {' '.join(args)}: exit {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        return time.perf_counter() - started, done.stdout

    def configure(self, values: dict[str, Any]) -> None:
        """Written into Pulumi.<stack>.yaml as a user does (keeping the passphrase salt `stack init` wrote)."""
        path = self.directory / f"Pulumi.{STACK}.yaml"
        document = yaml.safe_load(path.read_text()) or {}
        document.setdefault("config", {}).update(values)
        path.write_text(yaml.safe_dump(document))

    def copy_state(self, name_of: str, count: int, rename: Any) -> None:
        """Export, copy the resource named `name_of` under `count` names (rename(resource, i)), import."""
        _, exported = self.run("stack", "export")
        deployment = json.loads(exported)
        resources = deployment["deployment"]["resources"]
        (original,) = [r for r in resources if r["urn"].endswith(f"::{name_of}")]
        resources.remove(original)
        for i in range(count):
            resources.append(rename(copy.deepcopy(original), i))
        self.run("stack", "import", "--file", "/dev/stdin", stdin=json.dumps(deployment))


def _fakes(stack: ExitStack, pki: Pki, clusters: int) -> tuple[FakeKube, list[FakeKube]]:
    namespaces = [*DEFAULT_NAMESPACES, "vela-system", "open-cluster-management"]
    hub = stack.enter_context(FakeKube(namespaces=namespaces, idle_timeout=1800, max_lifetime=3600))
    managed = [
        stack.enter_context(FakeKube(tls=(pki.server_cert, pki.server_key), idle_timeout=1800, max_lifetime=3600))
        for _ in range(clusters)
    ]
    for i, cluster in enumerate(managed):
        hub.put_object(vela_secret(f"c{i:04d}", cluster.url, pki))
    return hub, managed


def _calls(servers: list[FakeKube]) -> int:
    return sum(len(server.requests) for server in servers)


def up(workdir: Path, pki: Pki, clusters: int) -> dict[str, Any]:
    """`pulumi up` registering `clusters` discovered vela clusters on a new stack."""
    with ExitStack() as stack:
        hub, managed = _fakes(stack, pki, clusters)
        cli = Stack(workdir / f"up-{clusters}", REGISTRATION_PROGRAM)
        cli.configure(
            {
                "kubernetes:kubeconfig": str(hub.write_kubeconfig(workdir / f"hub-{clusters}.kubeconfig")),
                "ocm-hub:registration": {"discover": True, "maxConcurrentJoins": PARALLEL, "joinTimeout": 600},
            }
        )
        agent = stack.enter_context(FakeAgent(hub, managed, join_seconds=JOIN_SECONDS, interval=0.1))
        wall, _ = cli.run("up", "--yes", "--skip-preview", "--parallel", str(PARALLEL))
        joined = len(agent.joined_at)
        return {
            "clusters": clusters,
            "wall_s": round(wall, 1),
            "joined": joined,
            "peak_joins_at_once": agent.peak_joining(),
            "api_calls_per_cluster": round(_calls([hub, *managed]) / clusters, 1),
            "hub_calls_per_cluster": round(_calls([hub]) / clusters, 1),
        }


def _renamed_registration(resource: dict[str, Any], i: int) -> dict[str, Any]:
    name = f"c{i:04d}"
    resource["urn"] = resource["urn"].rsplit("::", 1)[0] + f"::ocm-hub-cluster-{name}"
    resource["id"] = name
    for props in (resource["inputs"], resource["outputs"]):
        props["spec"].update(clusterName=name, secretName=name)
    return resource


def _renamed_bare(resource: dict[str, Any], i: int) -> dict[str, Any]:
    name = f"c{i:04d}"
    resource["urn"] = resource["urn"].rsplit("::", 1)[0] + f"::ocm-hub-cluster-{name}"
    resource["id"] = name
    for props in (resource["inputs"], resource["outputs"]):
        props["clusterName"] = name
        if "spec" in props:
            props["spec"].update(clusterName=name, secretName=name)
    return resource


def _bare(workdir: Path, label: str, spec: dict[str, Any] | None) -> Stack:
    """The bare program with PREVIEW_CLUSTERS resources in state."""
    bare = Stack(workdir / label, BARE_PROGRAM)
    bare.configure({"ocm-hub-bench:clusters": "1", "ocm-hub-bench:spec": json.dumps(spec)})
    bare.run("up", "--yes", "--skip-preview")
    bare.copy_state("ocm-hub-cluster-c0000", PREVIEW_CLUSTERS, _renamed_bare)
    bare.configure({"ocm-hub-bench:clusters": str(PREVIEW_CLUSTERS)})
    return bare


def previews(workdir: Path, pki: Pki) -> dict[str, Any]:
    """`pulumi preview` of PREVIEW_CLUSTERS registrations in state, of the bare program, and of the bare program
    with our resources' inputs, in turn, PREVIEW_RUNS times; medians."""
    with ExitStack() as stack:
        hub, managed = _fakes(stack, pki, 1)
        real = Stack(workdir / "preview-real", REGISTRATION_PROGRAM)
        real.configure(
            {
                "kubernetes:kubeconfig": str(hub.write_kubeconfig(workdir / "hub-preview.kubeconfig")),
                "ocm-hub:registration": {"clusters": [{"name": "c0000"}]},
            }
        )
        with FakeAgent(hub, managed):
            real.run("up", "--yes", "--skip-preview")
        _, exported = real.run("stack", "export")
        (one,) = [r for r in json.loads(exported)["deployment"]["resources"] if r["type"] == TYPE]
        real.copy_state("ocm-hub-cluster-c0000", PREVIEW_CLUSTERS, _renamed_registration)
        names = [{"name": f"c{i:04d}"} for i in range(PREVIEW_CLUSTERS)]
        real.configure({"ocm-hub:registration": {"clusters": names}})
        programs = {"real": real, "bare": _bare(workdir, "preview-bare", None)}
        programs["bare_same_inputs"] = _bare(workdir, "preview-bare-inputs", one["inputs"]["spec"])

        seconds: dict[str, list[float]] = {label: [] for label in programs}
        calls = 0
        for _ in range(PREVIEW_RUNS):
            for label, program in programs.items():
                hub.clear_requests()
                seconds[label].append(program.run("preview", "--expect-no-changes", "--parallel", str(PARALLEL))[0])
                calls += len(hub.requests) if label == "real" else 0
        wall = {label: statistics.median(values) for label, values in seconds.items()}
        return {
            "clusters": PREVIEW_CLUSTERS,
            "wall_s": round(wall["real"], 2),
            "bare_wall_s": round(wall["bare"], 2),
            "ratio": round(wall["real"] / wall["bare"], 2),
            "bare_same_inputs_wall_s": round(wall["bare_same_inputs"], 2),
            "ratio_same_inputs": round(wall["real"] / wall["bare_same_inputs"], 2),
            "api_calls": calls,
            "runs": PREVIEW_RUNS,
        }


def run(workdir: Path) -> dict[str, Any]:
    pki = fleet.pki(workdir / "pki")
    ups = [up(workdir, pki, n) for n in UP_SIZES]
    return {
        "cli": tools.pulumi_root().name,
        "join_seconds": JOIN_SECONDS,
        "parallel": PARALLEL,
        "up": ups,
        "up_ratio_100_to_1": round(ups[-1]["wall_s"] / ups[0]["wall_s"], 2),
        "preview": previews(workdir, pki),
    }


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(run(Path(directory)), indent=2))
