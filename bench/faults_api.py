"""Injected API faults against the registration provider as the engine runs it: the SDK's provider
server over gRPC (ocmhub_testing/dynamic_server.py), a fake hub and fake managed clusters (ocmhub_testing/fakekube), and
the fake klusterlet agent.

Each (operation, fault) scenario has its own cluster name and its own managed-cluster fake, and every
fault matches a path only that scenario's requests use, so the scenarios share one provider process
and one hub yet cannot disturb one another, and run side by side: the provider's client timeout is
exercised for real (an answer later than `Kube.timeout`), which costs half a minute per scenario.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ocmhub_testing.dynamic_server import DynamicServer, ProviderError, dynamic_server
from ocmhub_testing.fake_agent import KLUSTERLET, MANAGED_CLUSTER, FakeAgent, secret_value
from ocmhub_testing.fakekube import DEFAULT_NAMESPACES, FakeKube, Fault
from ocmhub_testing.pki import Pki
from ocmhub_testing.registrations import add_vela_cluster, registration_inputs
from providers import klusterlet as kl
from providers.cluster_status import AVAILABLE, JOINED, condition
from providers.kube import Kube

Op = Literal["create", "update", "delete"]
Side = Literal["hub", "managed"]
OPS: tuple[Op, ...] = ("create", "update", "delete")
HUB_TOKEN = "ocm-hub-faults-hub-admin-token-7c1d9e"
NEW_LABELS = {"env": "prod", "tier": "gold"}
JOIN_TIMEOUT = 60
PARALLEL = 4  # the SDK's provider server answers four RPCs at once
CLIENT_TIMEOUT = Kube(api=None).timeout
SETTLE_SECONDS = 5.0


@dataclass(frozen=True)
class Kind:
    slug: str
    label: str
    options: Mapping[str, Any]

    @property
    def delay(self) -> float:
        return float(self.options.get("delay", 0))


KINDS = (
    Kind("429", "429 + Retry-After", {"status": 429, "retry_after": 1}),
    Kind("500", "500, twice", {"status": 500, "times": 2}),
    Kind("503", "503 after the write", {"status": 503, "after_write": True}),
    Kind("drop", "connection drop", {"drop": True}),
    Kind("slow", "slow answer (2s)", {"delay": 2.0}),
    Kind("timeout", f"client timeout ({CLIENT_TIMEOUT + 1:g}s)", {"delay": CLIENT_TIMEOUT + 1}),
    Kind("409", "409 conflict", {"status": 409}),
)

MANAGED_CLUSTER_PATH = "/managedclusters/{cluster}$"
TOKEN_PATH = f"/serviceaccounts/{kl.bootstrap_account('{cluster}')}/token$"
SECRET_PATH = "/secrets/{cluster}$"
KLUSTERLET_PATH = "/klusterlets/klusterlet$"
AGENT_NAMESPACE_PATH = f"/namespaces/{kl.DEFAULT_AGENT_NAMESPACE}$"
# What the API answers to a second DELETE of a Namespace it is still emptying (kube-apiserver's
# namespace storage): the classic 409 of a delete re-run after a half-done one.
TERMINATING = (
    f'Operation cannot be fulfilled on namespaces "{kl.DEFAULT_AGENT_NAMESPACE}": The system is ensuring all '
    "content is removed from this namespace.  Upon completion, this namespace will automatically be purged by "
    "the system."
)

# (operation, kind) -> the request it fails: a write that carries the operation's change where one exists.
TARGETS: dict[tuple[Op, str], tuple[Side, str, str]] = {
    ("create", "429"): ("hub", "PATCH", MANAGED_CLUSTER_PATH),
    ("create", "500"): ("hub", "POST", TOKEN_PATH),
    ("create", "503"): ("managed", "PATCH", KLUSTERLET_PATH),
    ("create", "drop"): ("hub", "POST", TOKEN_PATH),
    ("create", "slow"): ("hub", "GET", SECRET_PATH),
    ("create", "timeout"): ("hub", "PATCH", MANAGED_CLUSTER_PATH),
    ("create", "409"): ("hub", "PATCH", MANAGED_CLUSTER_PATH),
    ("update", "429"): ("hub", "PATCH", MANAGED_CLUSTER_PATH),
    ("update", "500"): ("managed", "PATCH", KLUSTERLET_PATH),
    ("update", "503"): ("hub", "PATCH", MANAGED_CLUSTER_PATH),
    ("update", "drop"): ("managed", "PATCH", KLUSTERLET_PATH),
    ("update", "slow"): ("hub", "PATCH", MANAGED_CLUSTER_PATH),
    ("update", "timeout"): ("hub", "PATCH", MANAGED_CLUSTER_PATH),
    ("update", "409"): ("managed", "PATCH", KLUSTERLET_PATH),
    ("delete", "429"): ("hub", "DELETE", MANAGED_CLUSTER_PATH),
    ("delete", "500"): ("managed", "DELETE", KLUSTERLET_PATH),
    ("delete", "503"): ("hub", "DELETE", MANAGED_CLUSTER_PATH),
    ("delete", "drop"): ("managed", "DELETE", KLUSTERLET_PATH),
    ("delete", "slow"): ("hub", "DELETE", MANAGED_CLUSTER_PATH),
    ("delete", "timeout"): ("managed", "DELETE", KLUSTERLET_PATH),
    ("delete", "409"): ("managed", "DELETE", AGENT_NAMESPACE_PATH),
}
MESSAGES: dict[tuple[Op, str], str] = {("delete", "409"): TERMINATING}


@dataclass(frozen=True)
class Scenario:
    op: Op
    kind: Kind
    side: Side
    method: str
    path: str
    credential: str

    @property
    def cluster(self) -> str:
        return f"{self.op}-{self.kind.slug}"

    @property
    def pattern(self) -> str:
        return self.path.format(cluster=self.cluster)

    @property
    def request(self) -> str:
        return f"{self.side} {self.method} {self.pattern.rstrip('$')}"

    @property
    def options(self) -> dict[str, Any]:
        message = MESSAGES.get((self.op, self.kind.slug))
        return {**self.kind.options, **({"message": message} if message else {})}


def scenarios() -> list[Scenario]:
    """Every kind for every operation; credential types alternate so both kinds of vela secret are used."""
    return [
        Scenario(op, kind, *TARGETS[(op, kind.slug)], ("X509Certificate", "ServiceAccountToken")[(i + j) % 2])
        for i, op in enumerate(OPS)
        for j, kind in enumerate(KINDS)
    ]


@dataclass(frozen=True)
class FaultResult:
    op: str
    kind: str
    request: str
    fired: int
    """Requests the fault answered (0: it never fired, so the scenario proves nothing)."""
    problems: tuple[str, ...]
    seconds: float
    outputs: str
    error: str

    @property
    def survived(self) -> bool:
        return not self.problems


# -- the end state each operation must leave, whatever faults it met ---------------------------


def _joined(hub: FakeKube, cluster: str) -> list[str]:
    live = hub.get_object(*MANAGED_CLUSTER, cluster)
    if live is None:
        return ["no ManagedCluster on the hub"]
    states = {kind: condition(live, kind)["status"] for kind in (JOINED, AVAILABLE)}
    return [f"ManagedCluster {kind} is {status}" for kind, status in states.items() if status != "True"]


def _klusterlet(managed: FakeKube, cluster: str) -> list[str]:
    live = managed.get_object(*KLUSTERLET, kl.klusterlet_name(cluster, "Default"))
    if live is None or live["spec"].get("clusterName") != cluster:
        return ["no klusterlet for the cluster on the managed cluster"]
    return []


def created(hub: FakeKube, managed: FakeKube, cluster: str, outputs: Mapping[str, Any]) -> list[str]:
    """Joined and Available on the hub, klusterlet on the managed cluster, outputs saying so."""
    problems = _joined(hub, cluster) + _klusterlet(managed, cluster)
    if ((outputs.get("status") or {}).get("joined") or {}).get("status") != "True":
        problems.append("the outputs do not say joined")
    return problems


def updated(hub: FakeKube, managed: FakeKube, cluster: str, outputs: Mapping[str, Any]) -> list[str]:
    """The new labels on the live ManagedCluster and in the outputs; still joined."""
    live = hub.get_object(*MANAGED_CLUSTER, cluster) or {}
    labels = (live.get("metadata") or {}).get("labels") or {}
    problems = [
        f"label {key}={value} is not on the ManagedCluster"
        for key, value in NEW_LABELS.items()
        if labels.get(key) != value
    ]
    if (outputs.get("spec") or {}).get("labels") != NEW_LABELS:
        problems.append("the outputs do not show the new labels")
    return problems + _joined(hub, cluster) + _klusterlet(managed, cluster)


def deleted(hub: FakeKube, managed: FakeKube, cluster: str, outputs: Mapping[str, Any]) -> list[str]:
    """Both sides gone: ManagedCluster and bootstrap identity on the hub, klusterlet on the managed cluster."""
    left = {
        "ManagedCluster on the hub": hub.get_object(*MANAGED_CLUSTER, cluster),
        "bootstrap ServiceAccount on the hub": hub.get_object(
            "v1", "ServiceAccount", kl.bootstrap_account(cluster), kl.OPERATOR_NAMESPACE
        ),
        "klusterlet on the managed cluster": managed.get_object(*KLUSTERLET, kl.klusterlet_name(cluster, "Default")),
    }
    return [f"{what} is still there" for what, live in left.items() if live is not None]


END_STATES: dict[str, Callable[[FakeKube, FakeKube, str, Mapping[str, Any]], list[str]]] = {
    "create": created,
    "update": updated,
    "delete": deleted,
}


# -- running ------------------------------------------------------------------------------------


def _settle(kube: FakeKube, fault: Fault, seconds: float) -> bool:
    """Wait until the request log shows every request the fault caught answered, so a late write
    (after a client timeout) has landed before the end state is judged. False if one never was."""
    deadline = time.monotonic() + seconds

    def answered() -> int:
        return sum(1 for r in kube.requests if r.fault and r.method == fault.method and fault.path.search(r.path))

    while answered() < fault.hits:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class Harness:
    hub: FakeKube
    server: DynamicServer
    pki: Pki
    tokens: dict[str, str] = field(default_factory=dict)
    """Bootstrap tokens the hub issued, by name, for the leak scan."""

    def _keep_token(self, managed: FakeKube, cluster: str) -> None:
        secret = managed.get_object("v1", "Secret", kl.BOOTSTRAP_SECRET, kl.DEFAULT_AGENT_NAMESPACE)
        if secret is not None:
            kubeconfig = yaml.safe_load(secret_value(secret, "kubeconfig"))
            self.tokens[f"bootstrap token of {cluster}"] = str(kubeconfig["users"][0]["user"]["token"])

    def _operate(self, scenario: Scenario, managed: FakeKube, olds: dict[str, Any]) -> dict[str, Any]:
        if scenario.op == "create":
            _, outputs = self.server.create(registration_inputs(scenario.cluster, timeout=JOIN_TIMEOUT))
            self._keep_token(managed, scenario.cluster)
            return outputs
        if scenario.op == "update":
            news = registration_inputs(scenario.cluster, timeout=JOIN_TIMEOUT, labels=NEW_LABELS)
            return self.server.update(scenario.cluster, olds, news)
        self.server.delete(scenario.cluster, olds)
        return {}

    def run(self, scenario: Scenario) -> FaultResult:
        """Set up (update and delete need a registered cluster, made without faults), arm the fault,
        run the operation, wait for the faulted request to be answered, then judge the end state."""
        with (
            FakeKube(tls=(self.pki.server_cert, self.pki.server_key)) as managed,
            FakeAgent(self.hub, [managed]) as agent,
        ):
            add_vela_cluster(self.hub, managed, self.pki, scenario.cluster, scenario.credential)
            olds: dict[str, Any] = {}
            if scenario.op != "create":
                try:
                    _, olds = self.server.create(registration_inputs(scenario.cluster, timeout=JOIN_TIMEOUT))
                except ProviderError as err:
                    problem = f"setup (create, no fault) failed: {err}"
                    return FaultResult(
                        scenario.op, scenario.kind.label, scenario.request, 0, (problem,), 0.0, "", str(err)
                    )
                self._keep_token(managed, scenario.cluster)
            target = self.hub if scenario.side == "hub" else managed
            fault = target.inject(scenario.method, scenario.pattern, **scenario.options)
            started = time.monotonic()
            problems: list[str] = []
            outputs: dict[str, Any] = {}
            error = ""
            try:
                outputs = self._operate(scenario, managed, olds)
            except ProviderError as err:
                error = str(err)
                problems.append(f"{scenario.op} failed: {error}")
            seconds = round(time.monotonic() - started, 2)
            if not fault.hits:
                problems.insert(0, f"the fault never fired: {scenario.op} made no {scenario.request}")
            elif not _settle(target, fault, scenario.kind.delay + SETTLE_SECONDS):
                problems.append(f"the request log never showed the faulted {scenario.request} answered")
            problems += END_STATES[scenario.op](self.hub, managed, scenario.cluster, outputs)
            problems += [f"fake managed cluster: {e}" for e in managed.internal_errors]
        problems += [f"fake agent: {e}" for e in agent.errors]
        return FaultResult(
            scenario.op,
            scenario.kind.label,
            scenario.request,
            fault.hits,
            tuple(problems),
            seconds,
            repr(outputs),
            error,
        )


@dataclass(frozen=True)
class ApiRun:
    results: list[FaultResult]
    """In `scenarios()` order."""
    log: str
    """The provider's stderr, what the engine keeps in its logs."""
    tokens: dict[str, str]
    """Tokens in use, by name: the hub admin's and every bootstrap token the hub issued."""
    fake_errors: list[str]
    """Bugs in the fake hub itself; any makes the run untrustworthy."""


@contextmanager
def harness(pki: Pki, workdir: Path) -> Iterator[Harness]:
    """One hub (vela's and the operator's namespaces, a token of its own) and one provider process
    configured for it, as the engine configures the provider from the stack."""
    namespaces = [*DEFAULT_NAMESPACES, "vela-system", kl.OPERATOR_NAMESPACE]
    with FakeKube(namespaces=namespaces, token=HUB_TOKEN) as hub, dynamic_server(workdir / "provider.log") as server:
        server.configure({"kubernetes:kubeconfig": yaml.safe_dump(hub.kubeconfig())})
        yield Harness(hub, server, pki)


def run_all(pki: Pki, workdir: Path) -> ApiRun:
    """Every scenario on one provider process and one hub, the slowest started first."""
    planned = scenarios()
    order = sorted(range(len(planned)), key=lambda i: -planned[i].kind.delay)
    with harness(pki, workdir) as rig, ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        done = dict(zip(order, pool.map(lambda i: rig.run(planned[i]), order), strict=True))
        return ApiRun(
            [done[i] for i in range(len(planned))],
            rig.server.log(),
            {"hub admin token": HUB_TOKEN, **rig.tokens},
            rig.hub.internal_errors,
        )
