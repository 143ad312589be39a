"""Registrations progress at once up to `maxConcurrentJoins`, beyond the SDK server's 4 threads: many Create
calls at once to the real `python -m pulumi.dynamic` server, against fake clusters whose agents take a fixed
time to join, and the peak number of joins in progress measured on the fakes' side."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from ocmhub_testing.dynamic_server import DynamicServer
from ocmhub_testing.fake_agent import FakeAgent
from ocmhub_testing.fakekube import FakeKube
from ocmhub_testing.pki import Pki
from ocmhub_testing.registrations import add_vela_cluster, registration_inputs
from providers import kube
from providers.kube import TokenBucket

SDK_THREADS = 4


@pytest.fixture
def fleet(hub: FakeKube, pki: Pki) -> Iterator[list[FakeKube]]:
    """24 managed clusters (one klusterlet each), with their vela Secrets on the hub."""
    with ExitStack() as stack:
        clusters = [stack.enter_context(FakeKube(tls=(pki.server_cert, pki.server_key))) for _ in range(24)]
        for i, managed in enumerate(clusters):
            add_vela_cluster(hub, managed, pki, f"c{i:02d}")
        yield clusters


def _join_all(server: DynamicServer, hub: FakeKube, fleet: list[FakeKube], bound: int, seconds: float) -> int:
    with FakeAgent(hub, fleet, join_seconds=seconds) as agent:
        names = [f"c{i:02d}" for i in range(len(fleet))]
        with ThreadPoolExecutor(len(names)) as pool:
            outs = list(
                pool.map(lambda n: server.create(registration_inputs(n, maxConcurrentJoins=bound), 90)[1], names)
            )
    assert [o["status"]["joined"]["status"] for o in outs] == ["True"] * len(names)
    return agent.peak_joining()


def test_joins_progress_beyond_the_sdk_servers_four_threads(
    server: DynamicServer, hub: FakeKube, fleet: list[FakeKube]
) -> None:
    peak = _join_all(server, hub, fleet, bound=32, seconds=3.0)
    # Each join waits 3 s for its agent, so all 24 overlap unless the server serialises them.
    assert peak > 3 * SDK_THREADS, f"only {peak} joins progressed at once"


def test_max_concurrent_joins_bounds_them(server: DynamicServer, hub: FakeKube, fleet: list[FakeKube]) -> None:
    peak = _join_all(server, hub, fleet[:12], bound=6, seconds=1.0)
    assert SDK_THREADS < peak <= 6


def test_max_concurrent_joins_is_never_a_diff_and_a_refresh_keeps_it(
    server: DynamicServer, hub: FakeKube, managed: FakeKube, pki: Pki
) -> None:
    diff = server.diff("prod-eu", registration_inputs(), registration_inputs(maxConcurrentJoins=64))
    assert diff.changes == diff.DIFF_NONE
    add_vela_cluster(hub, managed, pki)
    with FakeAgent(hub, [managed]):
        id_, outs = server.create(registration_inputs(maxConcurrentJoins=64))
    _, refreshed = server.read(id_, outs)
    assert outs["spec"]["maxConcurrentJoins"] == refreshed["spec"]["maxConcurrentJoins"] == 64


def test_the_hub_rate_limit_is_shared_and_holds_qps_after_the_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(qps=10, burst=3, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst
    assert [round(bucket.reserve(), 3) for _ in range(3)] == [0.1, 0.2, 0.3]  # then 10 a second, in turn
    now[0] = 10.0  # idle: the bucket refills up to the burst, no further
    assert [bucket.reserve() for _ in range(4)][-2:] == [0.0, pytest.approx(0.1)]
    assert kube.rate_limit("https://hub:6443") is kube.rate_limit("https://hub:6443")
    assert kube.rate_limit("https://hub:6443") is not kube.rate_limit("https://other:6443")


def test_every_request_and_every_retry_takes_a_token(hub: FakeKube) -> None:
    waits: list[float] = []
    client = kube.Kube(hub.api_client(), sleep=waits.append, limit=TokenBucket(qps=1, burst=1, clock=lambda: 0.0))
    hub.inject("GET", "/namespaces/default$", 500)
    assert client.get("v1", "Namespace", "default") is not None
    backoff, token = waits  # the first try had the saved token; the retry waited its backoff, then for a token
    assert backoff < 1.0
    assert token == 1.0
    assert hub.count(path="/namespaces/default$") == 2
