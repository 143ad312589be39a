"""Services as the local kubelet serves them: names in each pod's /etc/hosts, the ports its service
side listens on, the endpoint a connection goes to, and load-balancer addresses.

What kube-proxy, cluster DNS and a cloud's load-balancer controller do on a real cluster, computed
here from the Services of each cluster (sandbox/kubelet.py applies it): a Service's DNS names map to
its ClusterIP (ExternalName Services to their target's address, the API server's own name to the
`kubernetes` Service); a connection to a ClusterIP, or to the load-balancer address of a Service of
any local cluster, goes to a ready pod the Service selects, on the port its targetPort names.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Json = dict[str, Any]
CLUSTER_DOMAIN = "cluster.local"
# Addresses load-balancer Services get, from every pod of every local cluster reachable alike. Apart
# from kube-apiserver's Service range (10.0.0.0/24 by default) and the pods' own (POD_NETWORK).
LOAD_BALANCER_POOL = "10.250.0.0/24"
POD_NETWORK = "10.244.0.0/20"
API_SERVICE = ("default", "kubernetes")


def key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj["metadata"]
    return str(meta.get("namespace") or ""), str(meta["name"])


def cluster_ips(service: Mapping[str, Any]) -> list[str]:
    spec = service.get("spec") or {}
    found = [ip for ip in [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])] if ip and ip != "None"]
    return list(dict.fromkeys(str(ip) for ip in found))


def load_balancer_ip(service: Mapping[str, Any]) -> str | None:
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return str(ingress[0]["ip"]) if ingress and ingress[0].get("ip") else None


def is_load_balancer(service: Mapping[str, Any]) -> bool:
    spec = service.get("spec") or {}
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def _service_address(target: str, services: Sequence[Mapping[str, Any]]) -> str | None:
    """The address an ExternalName target stands for: an IP as written, a cluster Service's name as
    its ClusterIP; None for a name outside the cluster (no DNS here)."""
    name = target.rstrip(".")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    parts = name.split(".")
    if len(parts) >= 3 and parts[2] == "svc" and ".".join(parts[3:]) in ("", CLUSTER_DOMAIN):
        for service in services:
            if key(service) == (parts[1], parts[0]) and cluster_ips(service):
                return cluster_ips(service)[0]
    return None


def render_hosts(
    namespace: str,
    pod_ip: str,
    hostname: str,
    services: Sequence[Mapping[str, Any]],
    host_aliases: Sequence[Mapping[str, Any]] = (),
) -> str:
    """A pod's /etc/hosts: itself, every Service of its cluster under `name.ns`, `name.ns.svc` and
    `name.ns.svc.cluster.local` (and `name` in its own namespace), then the pod's hostAliases."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", f"{pod_ip}\t{hostname}"]
    for service in sorted(services, key=key):
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            address = _service_address(str(spec.get("externalName") or ""), services)
        else:
            address = next(iter(cluster_ips(service)), None)
        if address is None:
            continue
        ns, name = key(service)
        names = [f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{CLUSTER_DOMAIN}"]
        if ns == namespace:
            names.insert(0, name)
        lines.append(f"{address}\t{' '.join(names)}")
    for alias in host_aliases:
        if alias.get("ip") and alias.get("hostnames"):
            lines.append(f"{alias['ip']}\t{' '.join(str(h) for h in alias['hostnames'])}")
    return "\n".join(lines) + "\n"


def render_resolv_conf(namespace: str) -> str:
    """Cluster DNS's search path (names not in /etc/hosts find no server: there is no DNS here)."""
    search = f"{namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}"
    return f"search {search}\nnameserver 127.0.0.1\noptions ndots:5\n"


def listened_ports(own: Iterable[Mapping[str, Any]], load_balanced: Iterable[Mapping[str, Any]]) -> set[int]:
    """The ports a pod's service side listens on: every TCP port of its cluster's Services with a
    ClusterIP, and of every local cluster's load-balancer Services."""
    ports = set()
    for service in own:
        if cluster_ips(service):
            ports |= _tcp_ports(service)
    for service in load_balanced:
        if load_balancer_ip(service):
            ports |= _tcp_ports(service)
    return ports


def _tcp_ports(service: Mapping[str, Any]) -> set[int]:
    items = (service.get("spec") or {}).get("ports") or []
    return {int(port["port"]) for port in items if (port.get("protocol") or "TCP") == "TCP"}


def service_port(service: Mapping[str, Any], port: int) -> Mapping[str, Any] | None:
    for item in (service.get("spec") or {}).get("ports") or []:
        if int(item["port"]) == port and (item.get("protocol") or "TCP") == "TCP":
            return dict(item)
    return None


class Endpoint(Protocol):
    """A pod the kubelet runs, as a Service sees it."""

    @property
    def namespace(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...
    @property
    def ready(self) -> bool: ...
    @property
    def terminating(self) -> bool: ...
    def port_named(self, name: str) -> int | None: ...


def selects(service: Mapping[str, Any], endpoint: Endpoint) -> bool:
    selector = (service.get("spec") or {}).get("selector") or {}
    namespace = key(service)[0]
    return (
        bool(selector)
        and endpoint.namespace == namespace
        and all(endpoint.labels.get(k) == v for k, v in selector.items())
    )


def target_port(port: Mapping[str, Any], endpoint: Endpoint) -> int | None:
    """The pod port a Service port leads to: targetPort as a number, or the pod's port of that name."""
    target = port.get("targetPort", port["port"])
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    return endpoint.port_named(str(target))


@dataclass
class Chooser:
    """Round-robin over a Service's endpoints, as kube-proxy spreads connections: ready pods first;
    terminating ones that still serve only when no other is ready."""

    turns: dict[tuple[str, str, str], itertools.count[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def choose(
        self, cluster: str, service: Mapping[str, Any], port: int, endpoints: Sequence[Endpoint]
    ) -> tuple[Endpoint, int] | None:
        spec_port = service_port(service, port)
        if spec_port is None:
            return None
        candidates = []
        for endpoint in endpoints:
            number = target_port(spec_port, endpoint) if selects(service, endpoint) and endpoint.ready else None
            if number is not None:
                candidates.append((endpoint, number))
        serving = [c for c in candidates if not c[0].terminating] or candidates
        if not serving:
            return None
        with self.lock:
            turn = next(self.turns.setdefault((cluster, *key(service)), itertools.count()))
        return serving[turn % len(serving)]


class AddressPool:
    """Addresses of a range, each held by one owner at a time: load-balancer addresses for every local
    cluster's Services (what a cloud's load-balancer controller hands out), and the pods' IPs."""

    def __init__(self, cidr: str) -> None:
        self.cidr = cidr
        network = ipaddress.ip_network(cidr)
        self.addresses = [str(ip) for ip in network.hosts()]
        self.owners: dict[str, tuple[str, ...]] = {}  # address -> who holds it
        self.lock = threading.Lock()

    def assign(self, owner: tuple[str, ...], current: str | None = None) -> str:
        """The Service's address: the one it has when that is ours and not another's, else the next free."""
        with self.lock:
            if current is not None and current in self.addresses and self.owners.get(current, owner) == owner:
                self.owners[current] = owner
                return current
            for address, held in self.owners.items():
                if held == owner:
                    return address
            free = next((a for a in self.addresses if a not in self.owners), None)
            if free is None:
                raise RuntimeError(f"every address of {self.cidr} is taken")
            self.owners[free] = owner
            return free

    def release(self, owner: tuple[str, ...]) -> None:
        with self.lock:
            for address in [a for a, held in self.owners.items() if held == owner]:
                del self.owners[address]

    def release_all_but(self, live: Iterable[tuple[str, ...]]) -> None:
        """Free the addresses of owners that are gone."""
        keep = set(live)
        with self.lock:
            for address in [a for a, owner in self.owners.items() if owner not in keep]:
                del self.owners[address]
