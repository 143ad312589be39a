"""Shared fixtures: the project's stacks, upstream data from ../shared, and program runs under mocks."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import RawConfig, from_file
from config.versions import KEEP, Change, set_path
from ocmhub_testing.dynamic_server import DynamicServer, dynamic_server
from ocmhub_testing.fakekube import DEFAULT_NAMESPACES, FakeKube
from ocmhub_testing.pki import Pki, make_pki
from render import recording

PROJECT_DIR = recording.PROJECT_DIR
SHARED_DIR = PROJECT_DIR.parent / "shared"
STACKS = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in PROJECT_DIR.glob("Pulumi.*.yaml"))


def stack_file(stack: str) -> Path:
    return PROJECT_DIR / f"Pulumi.{stack}.yaml"


def run_stack(stack: str) -> recording.Recording:
    return recording.run_main(from_file(stack_file(stack)), stack=stack)


def run_values(values: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> recording.Recording:
    return recording.run_main(RawConfig(values, secret_keys))


def upstream_docs(relative: str) -> list[dict[str, Any]]:
    """YAML documents from ../shared (the upstream oracle), empty documents dropped."""
    path = SHARED_DIR / relative
    if not path.exists():
        pytest.fail(f"upstream oracle {path} is missing: these tests need ../shared beside the project")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def changes_something(change: Change[Any], upstream: Mapping[str, Any], contexts: Iterable[Any]) -> bool:
    """Whether `change` makes `upstream` differ for at least one context: a Change that never does is stale."""
    for context in contexts:
        value = change.value(context)
        if value is KEEP:
            continue
        changed = copy.deepcopy(dict(upstream))
        set_path(changed, change.path, value)
        if changed != upstream:
            return True
    return False


@pytest.fixture(scope="session")
def dev_recording() -> recording.Recording:
    return run_stack("dev")


@pytest.fixture
def run() -> Callable[[dict[str, Any]], recording.Recording]:
    return run_values


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def hub() -> Iterator[FakeKube]:
    """A fake hub as ocm-hub leaves it: vela's namespace and the operator namespace exist."""
    with FakeKube(namespaces=[*DEFAULT_NAMESPACES, "vela-system", "open-cluster-management"]) as kube:
        yield kube


@pytest.fixture
def managed(pki: Pki) -> Iterator[FakeKube]:
    """A fake managed cluster serving TLS, as vela's cluster endpoints do."""
    with FakeKube(tls=(pki.server_cert, pki.server_key)) as kube:
        yield kube


@pytest.fixture
def server(hub: FakeKube, tmp_path: Path) -> Iterator[DynamicServer]:
    """The registration provider in the SDK's own server, configured for the fake hub."""
    with dynamic_server(tmp_path / "provider.log") as provider:
        provider.configure({"kubernetes:kubeconfig": yaml.safe_dump(hub.kubeconfig())})
        yield provider
