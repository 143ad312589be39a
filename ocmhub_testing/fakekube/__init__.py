"""An in-process fake Kubernetes API server for fast, deterministic tests of code using the official client.

`with FakeKube() as kube:` serves on 127.0.0.1; point the code under test at `kube.api_client()` or a file
from `kube.write_kubeconfig(path)`, arm failures with `kube.inject(...)`, count calls with `kube.count(...)`
and read or play controllers with `kube.get_object(...)` / `kube.put_object(...)`. tests/test_fakekube.py
shows each behaviour through the official client.
"""

from .errors import ApiError
from .faults import Fault
from .registry import DEFAULT_RESOURCES, Registry, ResourceType
from .requestlog import RequestRecord
from .server import FakeKube
from .store import DEFAULT_NAMESPACES, Store

__all__ = [
    "DEFAULT_NAMESPACES",
    "DEFAULT_RESOURCES",
    "ApiError",
    "FakeKube",
    "Fault",
    "Registry",
    "RequestRecord",
    "ResourceType",
    "Store",
]
