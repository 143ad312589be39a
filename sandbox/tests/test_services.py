"""Services as the local kubelet serves them: /etc/hosts, the service side's ports, endpoint choice
and load-balancer addresses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from sandbox import services


def _service(name: str, namespace: str = "ns", ip: str | None = "10.0.0.10", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"port": 443, "targetPort": 9443}], **spec}
    if ip is not None:
        body["clusterIP"] = ip
    return {"metadata": {"name": name, "namespace": namespace}, "spec": body}


@dataclass
class Pod:
    namespace: str = "ns"
    labels: Mapping[str, str] = field(default_factory=lambda: {"app": "web"})
    ready: bool = True
    terminating: bool = False
    ports: Mapping[str, int] = field(default_factory=lambda: {"https": 9443})
    name: str = ""

    def port_named(self, name: str) -> int | None:
        return self.ports.get(name)


def test_hosts_map_every_service_name_form_and_the_pods_own_aliases() -> None:
    hosts = services.render_hosts(
        "ns",
        "10.244.0.7",
        "web-0",
        [
            _service("api", ip="10.0.0.1"),
            _service("gateway", namespace="vela-system", ip="10.0.0.20"),
            _service("headless", ip="None"),
            _service("ext", type="ExternalName", externalName="kubernetes.default.svc.cluster.local", ip=None),
            _service("kubernetes", namespace="default", ip="10.0.0.1"),
            _service("literal", type="ExternalName", externalName="192.0.2.9", ip=None),
            _service("outside", type="ExternalName", externalName="example.com", ip=None),
        ],
        [{"ip": "127.0.0.1", "hostnames": ["cluster-abc.open-cluster-management.proxy"]}],
    )
    lines = hosts.splitlines()
    assert lines[2] == "10.244.0.7\tweb-0"
    assert "10.0.0.1\tapi api.ns api.ns.svc api.ns.svc.cluster.local" in lines, "the bare name in its own namespace"
    assert "10.0.0.20\tgateway.vela-system gateway.vela-system.svc gateway.vela-system.svc.cluster.local" in lines
    assert "10.0.0.1\text ext.ns ext.ns.svc ext.ns.svc.cluster.local" in lines, "ExternalName: the target's address"
    assert "192.0.2.9\tliteral literal.ns literal.ns.svc literal.ns.svc.cluster.local" in lines
    assert not any("headless" in line or "outside" in line for line in lines), "no address to give them"
    assert lines[-1] == "127.0.0.1\tcluster-abc.open-cluster-management.proxy"


def test_resolv_conf_searches_the_pods_namespace_first() -> None:
    assert (
        services.render_resolv_conf("ns").splitlines()[0]
        == "search ns.svc.cluster.local svc.cluster.local cluster.local"
    )


def test_the_service_side_listens_on_cluster_ports_and_every_clusters_load_balancers() -> None:
    own = [
        _service("a"),
        _service("b", ports=[{"port": 53, "protocol": "UDP"}, {"port": 8090}]),
        _service("h", ip="None"),
    ]
    balanced = {**_service("lb", type="LoadBalancer", ports=[{"port": 8091}])}
    balanced["status"] = {"loadBalancer": {"ingress": [{"ip": "10.250.0.1"}]}}
    pending = _service("lb2", type="LoadBalancer", ports=[{"port": 7000}])
    assert services.listened_ports(own, [balanced, pending]) == {443, 8090, 8091}


def test_a_connection_goes_to_a_ready_selected_pod_on_its_target_port() -> None:
    service = _service("web", selector={"app": "web"}, ports=[{"port": 443, "targetPort": "https"}, {"port": 80}])
    chooser = services.Chooser()
    other_ns = Pod(namespace="elsewhere", name="other-ns")
    unready = Pod(ready=False, name="unready")
    unlabelled = Pod(labels={"app": "db"}, name="db")
    ready = Pod(name="ready")
    choice = chooser.choose("hub", service, 443, [other_ns, unready, unlabelled, ready])
    assert choice == (ready, 9443), "the named port of the pod"
    assert chooser.choose("hub", service, 80, [ready]) == (ready, 80), "no targetPort: the port itself"
    assert chooser.choose("hub", service, 8443, [ready]) is None, "not a port of the Service"
    assert chooser.choose("hub", service, 443, [unready]) is None
    assert chooser.choose("hub", _service("all"), 443, [ready]) is None, "no selector: no endpoints of ours"


def test_terminating_pods_serve_only_when_no_other_is_ready_and_turns_go_round() -> None:
    service = _service("web", selector={"app": "web"})
    one, two, leaving = Pod(name="one"), Pod(name="two"), Pod(terminating=True, name="leaving")
    chooser = services.Chooser()
    picked = [chooser.choose("hub", service, 443, [one, leaving, two]) for _ in range(4)]
    assert [p[0] for p in picked if p] == [one, two, one, two]
    assert chooser.choose("hub", service, 443, [leaving]) == (leaving, 9443)


def test_the_address_pool_keeps_an_address_gives_each_once_and_frees_the_gone() -> None:
    pool = services.AddressPool("10.250.0.0/30")  # two hosts
    assert pool.assign(("hub", "ns", "a"), "10.250.0.2") == "10.250.0.2", "the address it already has"
    assert pool.assign(("managed-1", "ns", "b"), "10.250.0.2") == "10.250.0.1", "taken: the next free one"
    assert pool.assign(("hub", "ns", "a")) == "10.250.0.2", "asked again: the same"
    with pytest.raises(RuntimeError, match=r"every address of 10\.250\.0\.0/30 is taken"):
        pool.assign(("hub", "ns", "c"))
    pool.release_all_but([("managed-1", "ns", "b")])
    assert pool.assign(("hub", "ns", "c")) == "10.250.0.2"
    pool.release(("hub", "ns", "c"))
    assert pool.assign(("hub", "ns", "d"), "192.0.2.1") == "10.250.0.2", "an address outside the pool is not kept"
