"""One registration of a vela cluster with the hub: its inputs as state keeps them, the marks it leaves on the
hub, and how a join, update (providers/join.py) or unjoin (providers/unjoin.py) reaches the clusters.

State keeps a reference to the vela Secret, never its data: both read it when they need it.
"""

from __future__ import annotations

import dataclasses
import enum
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config.names import MAX_CONCURRENT_JOINS
from providers import klusterlet as kl
from providers.kube import Kube
from providers.poll import Pacing
from providers.vela import VelaCluster, parse_secret

MANAGED_CLUSTER = ("cluster.open-cluster-management.io/v1", "ManagedCluster")
KLUSTERLET = ("operator.open-cluster-management.io/v1", "Klusterlet")
CSR = ("certificates.k8s.io/v1", "CertificateSigningRequest")
SECRET_ANNOTATION = "ocm-hub.io/vela-secret"
MODE_ANNOTATION = "ocm-hub.io/klusterlet-mode"
PRE_BUNDLE_VERSION = "v1.3.1"
ADDON_TIMEOUT_SECONDS = 600
# What states written before `endpoint` was optional hold where it is read from the vela secret at join time.
FROM_SECRET = "(read from the vela secret at deploy time)"


class JoinError(Exception):
    """A join or unjoin that cannot finish; the message names the cluster and the step."""


class Kind(enum.Enum):
    """What a change of an input does to a registration."""

    REPLACE = "replace"  # points it at another cluster or agent: unjoin, then join
    UPDATE = "update"  # applied in place
    SETTING = "setting"  # how the provider works, not what the cluster is: kept in state, never a diff


REQUIRED: Any = object()  # an input every state has carried since the first release
NONE: Mapping[str, str] = types.MappingProxyType({})


@dataclass(frozen=True)
class Wire:
    """How one input crosses Pulumi's wire: its key under `spec`, its kind, and how it is written and read."""

    key: str
    kind: Kind
    write: Callable[[Any], Any]
    read: Callable[[Any], Any]
    absent: Any  # what a state written before the input existed means (REQUIRED: none was)
    only_when_set: bool  # left out at `absent`, so states written before it existed see no change


def wire(
    key: str,
    kind: Kind,
    *,
    write: Callable[[Any], Any] = lambda value: value,
    read: Callable[[Any], Any] = str,
    absent: Any = REQUIRED,
    only_when_set: bool = False,
) -> dict[str, Wire]:
    """A field's metadata: how the input crosses the wire."""
    return {"wire": Wire(key, kind, write, read, absent, only_when_set)}


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _optional(value: Any) -> str | None:
    """An empty string on the wire is None: no hub address of its own (hubApiServer)."""
    return str(value or "") or None


def _endpoint(value: Any) -> str | None:
    """None: read from the vela Secret at join time; states written before this was optional hold FROM_SECRET."""
    return None if value in (None, "", FROM_SECRET) else str(value)


def _images(value: Any) -> kl.Images:
    return kl.Images(str(value["operator"]), str(value["registration"]), str(value["work"]))


def _mode(value: Any) -> kl.Mode:
    return "Hosted" if value == "Hosted" else "Default"


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(name) for name in value or ())


@dataclass(frozen=True)
class Registration:
    """The inputs of one registration, typed, each declared once with how it crosses the wire and what its
    change does (`Kind`): `props`, `from_props`, `changed` and the provider's diff all derive from these
    fields (`wire`). Holds a reference to the vela secret, never its data."""

    cluster: str = field(metadata=wire("clusterName", Kind.REPLACE))
    secret_namespace: str = field(metadata=wire("secretNamespace", Kind.REPLACE))
    secret_name: str = field(metadata=wire("secretName", Kind.REPLACE))
    endpoint: str | None = field(
        metadata=wire("endpoint", Kind.UPDATE, read=_endpoint, absent=None, only_when_set=True)
    )
    labels: Mapping[str, str] = field(metadata=wire("labels", Kind.UPDATE, write=dict, read=_strings, absent=NONE))
    cluster_set: str = field(metadata=wire("clusterSet", Kind.UPDATE))
    mode: kl.Mode = field(metadata=wire("mode", Kind.REPLACE, read=_mode))
    images: kl.Images = field(metadata=wire("images", Kind.UPDATE, write=dataclasses.asdict, read=_images))
    hub_api_server: str | None = field(
        metadata=wire("hubApiServer", Kind.UPDATE, write=lambda value: value or "", read=_optional, absent=None)
    )
    timeout_seconds: int = field(metadata=wire("timeoutSeconds", Kind.SETTING, read=int))
    addons: tuple[str, ...] = field(
        default=(), metadata=wire("addons", Kind.UPDATE, write=list, read=_names, absent=())
    )
    wait_for_addons: bool = field(default=False, metadata=wire("waitForAddons", Kind.SETTING, read=bool, absent=False))
    addon_timeout_seconds: int = field(
        default=ADDON_TIMEOUT_SECONDS,
        metadata=wire("addonTimeoutSeconds", Kind.SETTING, read=int, absent=ADDON_TIMEOUT_SECONDS),
    )
    # Registrations created before `ocmVersion` was an input applied this release's klusterlet.
    ocm_version: str = field(
        default=PRE_BUNDLE_VERSION, metadata=wire("ocmVersion", Kind.UPDATE, absent=PRE_BUNDLE_VERSION)
    )
    # How many registrations the provider process works on at once.
    max_concurrent_joins: int = field(
        default=MAX_CONCURRENT_JOINS,
        metadata=wire("maxConcurrentJoins", Kind.SETTING, read=int, absent=MAX_CONCURRENT_JOINS),
    )
    annotations: Mapping[str, str] = field(  # vela's alias
        default_factory=dict,
        metadata=wire("annotations", Kind.UPDATE, write=dict, read=_strings, absent=NONE, only_when_set=True),
    )
    insecure: bool = field(  # the stack's opt-in for a vela secret without a CA
        default=False,
        metadata=wire("insecure", Kind.UPDATE, read=lambda value: value is True, absent=False, only_when_set=True),
    )

    def props(self) -> dict[str, Any]:
        """The inputs as state keeps them, under `spec`."""
        written = {}
        for name, wire in WIRES.items():
            value = getattr(self, name)
            if not (wire.only_when_set and value == wire.absent):
                written[wire.key] = wire.write(value)
        return written

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> Registration:
        """The inputs from state, whichever release of ocm-hub wrote it; KeyError names a missing input."""
        return cls(**{name: _read(wire, props) for name, wire in WIRES.items()})


def read_input(name: str, props: Mapping[str, Any]) -> Any:
    """One input (by field name) from state, as `from_props` reads it."""
    return _read(WIRES[name], props)


def _read(wire: Wire, props: Mapping[str, Any]) -> Any:
    value = props.get(wire.key)
    if value is None:
        if wire.absent is REQUIRED:
            raise KeyError(wire.key)
        return wire.absent
    return wire.read(value)


WIRES: dict[str, Wire] = {f.name: f.metadata["wire"] for f in dataclasses.fields(Registration)}
WIRE_KEYS = tuple(wire.key for wire in WIRES.values())
REPLACE_KEYS = tuple(wire.key for wire in WIRES.values() if wire.kind is Kind.REPLACE)


def changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Wire]:
    """The replace and update inputs whose values differ, read as `from_props` reads them (a double for an
    int, a state written before an input existed): settings never count."""
    return [
        wire
        for wire in WIRES.values()
        if wire.kind is not Kind.SETTING and _comparable(wire, old) != _comparable(wire, new)
    ]


def _comparable(wire: Wire, props: Mapping[str, Any]) -> Any:
    try:
        return _read(wire, props)
    except (KeyError, TypeError, ValueError):  # unreadable: compared as sent, so any change shows
        return props.get(wire.key)


@dataclass
class ClusterAccess:
    """How a join, update or unjoin reaches the clusters: the hub, a managed cluster from its kubeconfig, and
    how waits pace themselves. One object per call, not a collection of clusters."""

    hub: Kube
    connect: Callable[[Mapping[str, Any]], Kube] = Kube.from_kubeconfig
    pacing: Pacing = field(default_factory=Pacing)

    def log(self, message: str) -> None:
        self.pacing.log(message)

    def vela_cluster(self, reg: Registration) -> VelaCluster:
        """The vela cluster as its Secret on the hub says now; JoinError when the Secret is gone."""
        secret = self.hub.get("v1", "Secret", reg.secret_name, reg.secret_namespace)
        if secret is None:
            raise JoinError(
                f"cluster {reg.cluster}: vela cluster secret {reg.secret_namespace}/{reg.secret_name} does not exist"
            )
        return parse_secret(secret, allow_insecure=reg.insecure)
