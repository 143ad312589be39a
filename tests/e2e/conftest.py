"""End-to-end fixtures: live hub and managed clusters, started once per session.

Clusters come from sandbox/clusters.py, the one owner of local clusters: healthy ones (from
`make cluster-up`) are reused and left running, the ones started here are stopped at the end even
when tests fail. OCM_HUB_TEST_KUBECONFIG points the hub at an existing cluster instead.

`make e2e` runs the suite in parallel lanes (pytest-xdist, scheduled by LANES below): the scenarios own
OCM's cluster-wide singletons (the ClusterManager, managed-1's klusterlet), so each lane is a group of
tests that runs in one worker, and each worker has clusters of its own (.e2e/lanes/<worker>/).
The suite is bound by waits (API servers, OCM's controllers, the engine), not by the 2 cores.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# Before sandbox.clusters reads it: a parallel worker's clusters are its own.
if (_worker := os.environ.get("PYTEST_XDIST_WORKER")) and "OCM_HUB_E2E_DIR" not in os.environ:
    os.environ["OCM_HUB_E2E_DIR"] = str(REPO_ROOT / ".e2e" / "lanes" / _worker)

import sandbox.clusters  # noqa: E402
from providers.kube import Kube  # noqa: E402

SHARED_DIR = REPO_ROOT.parent / "shared"
EXTERNAL_HUB_ENV = "OCM_HUB_TEST_KUBECONFIG"
E2E_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Cluster:
    name: str
    kubeconfig: Path
    client: Kube
    local: bool  # started by sandbox/clusters.py: pinned version, loopback-only, pids known


# Lanes, by node id prefix (the longest wins), balanced on measured durations. Tests in one lane run in
# one worker, one after another, on its clusters.
LANES = {
    "tests/e2e/test_hub_stack.py::TestDevStack": "dev-stack",
    "tests/e2e/test_hub_stack.py::test_up_fails_within_the_readiness_bound_naming_the_unmet_condition": "dev-stack",
    "tests/e2e/test_local_cluster.py": "dev-stack",
    "tests/e2e/test_registration_live.py": "dev-stack",
    "tests/test_policy.py": "dev-stack",
    "tests/e2e/test_composition.py": "composition",
    "tests/e2e/test_addons_live.py": "addons",
    "tests/e2e/test_ocm_live.py": "ocm-live",
    "tests/e2e/test_hosted_mode.py": "ocm-live",
    "tests/e2e/test_hub_stack.py": "ocm-live",
    "tests/e2e/test_pulumi_engine.py": "ocm-live",
    "tests/e2e/test_vela_live.py": "vela",
    "tests/e2e/test_vela_faults.py": "vela-faults",  # clusters started without KubeVela
    "tests/e2e/test_make_up.py": "fresh-clone",  # clusters of the clone's own
    "tests/e2e/test_sdks.py": "composition",  # no cluster
}


def lane(nodeid: str) -> str | None:
    matches = [prefix for prefix in LANES if nodeid == prefix or nodeid.startswith((f"{prefix}::", f"{prefix}["))]
    return LANES[max(matches, key=len)] if matches else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark everything under tests/e2e, so `-m "not e2e"` keeps fast runs free of clusters; every e2e
    test needs a lane."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("e2e") and lane(item.nodeid) is None:
            raise pytest.UsageError(f"{item.nodeid} is in no e2e lane: add it to LANES in {__file__}")


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Each lane to one worker, whole (xdist's loadgroup cannot do it here: it marks groups by
    rewriting node ids, which pytest 9 no longer lets it do, so every test became a group of its own)."""
    from xdist.scheduler import LoadScopeScheduling

    class LaneScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type information
        def _split_scope(self, nodeid: str) -> str:
            return lane(nodeid) or nodeid

    return LaneScheduling(config, log)


@pytest.fixture(scope="session")
def clusters() -> Iterator[dict[str, Cluster]]:
    external_hub = os.environ.get(EXTERNAL_HUB_ENV)
    local_names = [name for name in sandbox.clusters.CLUSTERS if not (external_hub and name == "hub")]
    reused = {name for name in local_names if sandbox.clusters.is_healthy(name)}
    try:
        try:
            kubeconfigs = sandbox.clusters.start(local_names)
        except sandbox.clusters.ClusterError as err:
            pytest.fail(str(err), pytrace=False)
        found = {name: Cluster(name, path, Kube.from_file(str(path)), local=True) for name, path in kubeconfigs.items()}
        if external_hub:
            path = Path(external_hub).expanduser()
            found["hub"] = Cluster("hub", path, Kube.from_file(str(path)), local=False)
        yield found
    finally:
        sandbox.clusters.stop([name for name in local_names if name not in reused])


@pytest.fixture(scope="session")
def hub(clusters: dict[str, Cluster]) -> Cluster:
    return clusters["hub"]


@pytest.fixture(scope="session")
def managed(clusters: dict[str, Cluster]) -> Cluster:
    return clusters["managed-1"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.fail(f"{SHARED_DIR} is missing: the e2e tests need ../shared beside the project")
    return SHARED_DIR
