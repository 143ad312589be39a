"""KubeVela on the local clusters as a KubeVela user has it: installed on the hub by the real
`vela install`, clusters joined by the real `vela cluster join`.

    python -m sandbox.vela list|status|install|join NAME   (the `vela` CLI on the local hub, for a shell)

`vela install --file <chart>` installs release `kubevela` (vela-core and the cluster-gateway its chart
ships) into vela-system from `charts/vela-core` of the very module vela-core is built from
(github.com/oam-dev/kubevela at the version hack/tools/kubevela pins, verified against its go.sum when
Go unpacks it), so the chart and the processes behind its images are one release. The CLI is stamped
with that version (sandbox/tools.py), so it sets `image.tag` to it, as it does for users. The local
runtime sets one value more, LOCAL_VALUES (the hook Jobs' certgen image runs a stand-in, whose go.mod in
hack/tools/kube-webhook-certgen says why). The local kubelet (sandbox/kubelet.py) runs the pods; kube-apiserver reaches the gateway
behind APIService v1alpha1.cluster.core.oam.dev through it, which every `vela cluster` command needs.

`vela cluster join <kubeconfig> --name NAME --labels ...` then writes the cluster's Secret in
vela-system and creates vela-system on the cluster through the gateway, as for any user. The CLI runs
with a HOME of its own (it writes $HOME/.vela on every start) and the hub's kubeconfig only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from config.names import CREDENTIAL_TYPE_LABEL, VELA_NAMESPACE
from providers.discovery import GATEWAY_APISERVICE, gateway_condition
from providers.kube import Kube, KubeError
from sandbox import tools
from sandbox.chart_repo import ModuleChart

RELEASE = "kubevela"  # `vela install`'s Helm release
# vela-core's readiness probe waits 30 s by default, made for pulling and starting an image; the local
# kubelet starts the built binary at once, and every local hub (each e2e lane's) would wait it out.
LOCAL_VALUES = {"readinessProbe.initialDelaySeconds": "1"}
CHART = ModuleChart("vela-core", "charts/vela-core")
# The chart's Deployments for release `kubevela`: vela-core and its gateway.
DEPLOYMENTS = ("kubevela-vela-core", "kubevela-cluster-gateway")
# `vela install` waits for its Helm release itself (hooks, Deployments ready); the bound here only keeps a stuck install from hanging the caller.
INSTALL_TIMEOUT = 600.0
JOIN_TIMEOUT = 120.0
CLI_TIMEOUT = 60.0
READY_TIMEOUT = 120.0
LOG_TAIL_LINES = 30


class VelaError(RuntimeError):
    """A vela command failed or KubeVela did not become ready; the message says what and shows the output."""


@dataclass(frozen=True)
class ListedCluster:
    """One cluster as `vela cluster list` prints it."""

    name: str
    alias: str
    credential_type: str
    endpoint: str
    accepted: str
    labels: dict[str, str]


@dataclass(frozen=True)
class Vela:
    """The vela CLI built here, against one hub (its kubeconfig), with a HOME of its own."""

    hub_kubeconfig: Path
    home: Path
    log: Callable[[str], None] = lambda message: print(f"[vela] {message}", file=sys.stderr, flush=True)

    def run(self, *args: str, timeout: float = CLI_TIMEOUT, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`vela ARGS` as a user runs it (assuming yes to its questions); VelaError on failure or timeout."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = {"HOME": str(self.home), "KUBECONFIG": str(self.hub_kubeconfig), "PATH": os.environ.get("PATH", "")}
        argv = [str(tools.paths(["vela"])["vela"]), *args, "--yes"]
        try:
            proc = subprocess.run(
                argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as err:
            output = _text(err.stdout) + _text(err.stderr)
            raise VelaError(f"`vela {' '.join(args)}` did not finish within {timeout:.0f}s\n{_tail(output)}") from None
        if check and proc.returncode != 0:
            raise VelaError(
                f"`vela {' '.join(args)}` failed (exit {proc.returncode})\n{_tail(proc.stdout + proc.stderr)}"
            )
        return proc

    def kube(self) -> Kube:
        return Kube.from_file(str(self.hub_kubeconfig))

    def install(self) -> None:
        """`vela install --file <the module's chart>`, unless release `kubevela` is deployed already (a
        second install is a Helm upgrade, which would drop an APIService the cluster-gateway addon
        manager took over: the chart renders none then); then wait until KubeVela serves."""
        if self.installed():
            self.log(f"release {RELEASE} is deployed in {VELA_NAMESPACE}: not installing again")
        else:
            chart = CHART.directory()
            self.log(f"vela install --file {chart} ({CHART.source()}, go.sum {CHART.go_sum()})")
            started = time.monotonic()
            values = [f"--set={key}={value}" for key, value in LOCAL_VALUES.items()]
            self.run("install", "--file", str(chart), *values, timeout=INSTALL_TIMEOUT)
            self.log(f"KubeVela installed in {time.monotonic() - started:.0f}s")
        self.wait_ready()

    def installed(self) -> bool:
        """Whether Helm release `kubevela` is deployed in vela-system (its latest revision's state)."""
        selector = f"owner=helm,name={RELEASE}"
        try:
            releases = self.kube().list("v1", "Secret", VELA_NAMESPACE, selector)
        except KubeError as err:
            if err.status == 404:
                return False
            raise
        latest = max(releases, key=lambda s: int(s["metadata"]["labels"].get("version", "0")), default=None)
        return latest is not None and latest["metadata"]["labels"].get("status") == "deployed"

    def problems(self) -> list[str]:
        """What keeps KubeVela from serving: Deployments not ready, the gateway's APIService not Available."""
        kube = self.kube()
        found = []
        for name in DEPLOYMENTS:
            deployment = kube.get("apps/v1", "Deployment", name, VELA_NAMESPACE)
            status = (deployment or {}).get("status") or {}
            if deployment is None:
                found.append(f"Deployment {VELA_NAMESPACE}/{name} does not exist")
            elif status.get("readyReplicas", 0) < deployment["spec"].get("replicas", 1):
                found.append(f"Deployment {VELA_NAMESPACE}/{name}: {status.get('readyReplicas', 0)} ready")
        available = gateway_condition(kube)
        if available is None:
            found.append(f"APIService {GATEWAY_APISERVICE} does not exist")
        elif available.get("status") != "True":
            found.append(
                f"APIService {GATEWAY_APISERVICE} not Available: {available.get('message') or available.get('reason')}"
            )
        return found

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while problems := self.problems():
            if time.monotonic() >= deadline:
                raise VelaError(f"KubeVela not ready within {timeout:.0f}s: " + "; ".join(problems))
            time.sleep(1.0)

    def joined(self, name: str) -> bool:
        """Whether vela holds cluster `name` (its Secret in vela-system)."""
        secret = self.kube().get("v1", "Secret", name, VELA_NAMESPACE)
        return secret is not None and CREDENTIAL_TYPE_LABEL in (secret["metadata"].get("labels") or {})

    def join(self, name: str, kubeconfig: Path, labels: Mapping[str, str]) -> None:
        """`vela cluster join <kubeconfig> --name NAME --labels k=v,...`."""
        args = ["cluster", "join", str(kubeconfig), "--name", name]
        if labels:
            args += ["--labels", ",".join(f"{key}={value}" for key, value in labels.items())]
        started = time.monotonic()
        self.run(*args, timeout=JOIN_TIMEOUT)
        self.log(f"vela cluster join {name} in {time.monotonic() - started:.0f}s")

    def clusters(self) -> dict[str, ListedCluster]:
        """`vela cluster list`, by cluster name."""
        return parse_cluster_list(self.run("cluster", "list").stdout)


def parse_cluster_list(output: str) -> dict[str, ListedCluster]:
    """The table `vela cluster list` prints (uitable: cells padded and separated by tabs, one label per
    line, a cluster's further lines with their first cells blank); "No cluster found." is none."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or lines[0].strip() == "No cluster found.":
        return {}
    header = [cell.strip() for cell in lines[0].split("\t")]
    if header != ["CLUSTER", "ALIAS", "TYPE", "ENDPOINT", "ACCEPTED", "LABELS"]:
        raise VelaError(f"`vela cluster list` printed no table header: {lines[0]!r}")
    found: dict[str, ListedCluster] = {}
    current: ListedCluster | None = None
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.split("\t")]
        if len(cells) != len(header):
            raise VelaError(f"`vela cluster list` printed a row of {len(cells)} cells: {line!r}")
        if cells[0]:
            current = ListedCluster(cells[0], cells[1], cells[2], cells[3], cells[4], {})
            found[current.name] = current
        if current is not None and "=" in cells[5]:
            key, _, value = cells[5].partition("=")
            current.labels[key] = value
    return found


def _text(output: str | bytes | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def _tail(output: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def main(argv: Sequence[str] | None = None) -> int:
    from sandbox import clusters

    parser = argparse.ArgumentParser(prog="python -m sandbox.vela", description=__doc__)
    parser.add_argument("command", choices=("list", "status", "install", "join"))
    parser.add_argument("name", nargs="?")
    args = parser.parse_args(argv)
    vela = clusters.vela_cli()
    try:
        if args.command == "install":
            vela.install()
        elif args.command == "join":
            if not args.name:
                parser.error("join needs the name of a local cluster")
            vela.join(args.name, clusters.kubeconfig_path(args.name), {})
        elif args.command == "status":
            problems = vela.problems()
            print("; ".join(problems) if problems else "KubeVela serving")
            return 1 if problems else 0
        else:
            print(vela.run("cluster", "list").stdout, end="")
    except VelaError as err:
        print(f"[vela] {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
