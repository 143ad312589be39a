"""Drive the component package as the engine does for a TypeScript, Go or YAML program: start
`package/__main__.py`, serve it a resource monitor and an engine over gRPC on 127.0.0.1, and call
GetSchema or Construct. Child registrations land in the same recording `make render` uses, so a tree
built through the package can be compared with one built in Python.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
)

from render import recording
from tests.conftest import PROJECT_DIR

ENTRY_POINT = PROJECT_DIR / "package" / "__main__.py"
RPC_TIMEOUT = 120
PROJECT, STACK = "platform", "dev"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"


def secret(value: Any) -> dict[str, Any]:
    """A value as the engine sends a secret input."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


class _RecordingMonitor(recording._RecordingMonitor):
    """URNs from the request's stack and project: gRPC worker threads do not see this process's settings."""

    def __init__(self, rec: recording.Recording, project: str, stack: str) -> None:
        super().__init__(rec)
        self.project, self.stack = project, stack

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        if parent:
            type_ = parent.split("::")[2].split("$")[-1] + "$" + type_
        return f"urn:pulumi:{self.stack}::{self.project}::{type_}::{name}"


class _Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    """The recording mock monitor behind a real gRPC endpoint."""

    def __init__(self, rec: recording.Recording, project: str, stack: str) -> None:
        self.mock: Any = _RecordingMonitor(rec, project, stack)  # MockMonitor is untyped

    def SupportsFeature(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method names
        return resource_pb2.SupportsFeatureResponse(hasSupport=self.mock.SupportsFeature(request).hasSupport)

    def GetDeploymentInfo(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self.mock.GetDeploymentInfo(request)

    def RegisterResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self.mock.RegisterResource(request)

    def RegisterResourceOutputs(self, request: Any, context: Any) -> Any:  # noqa: N802
        return empty_pb2.Empty()

    def RegisterPackage(self, request: Any, context: Any) -> Any:  # noqa: N802
        return self.mock.RegisterPackage(request)

    def Invoke(self, request: Any, context: Any) -> Any:  # noqa: N802 - e.g. resolving the caller's provider
        return self.mock.Invoke(request)

    def SignalAndWaitForShutdown(self, request: Any, context: Any) -> Any:  # noqa: N802
        return empty_pb2.Empty()


@dataclass
class _Engine(engine_pb2_grpc.EngineServicer):
    """Collects what the component logs (warnings a user would see in `pulumi up`)."""

    messages: list[str] = field(default_factory=list)
    root: str = ""

    def Log(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.messages.append(request.message)
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        return engine_pb2.GetRootResourceResponse(urn=self.root)

    def SetRootResource(self, request: Any, context: Any) -> Any:  # noqa: N802
        self.root = request.urn
        return engine_pb2.SetRootResourceResponse()


@dataclass
class Host:
    """A running component provider, with the monitor and engine it talks to."""

    provider: Any
    monitor_address: str
    monitor: _Monitor
    engine: _Engine
    recording: recording.Recording

    def schema(self) -> str:
        response = self.provider.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=RPC_TIMEOUT)
        return str(response.schema)

    def construct(
        self,
        type_: str,
        name: str,
        inputs: Mapping[str, Any],
        *,
        providers: Mapping[str, str] | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Construct a component like a program in another language: (its URN, its outputs)."""
        for reference in (providers or {}).values():
            # The caller registered its providers with the engine before the call; the plugin looks them up.
            urn, _, id_ = reference.rpartition("::")
            self.monitor.mock.resources[urn] = MockMonitor.ResourceRegistration(urn, id_, {})
        props = struct_pb2.Struct()
        props.update(dict(inputs))
        request = provider_pb2.ConstructRequest(
            project=PROJECT,
            stack=STACK,
            monitorEndpoint=self.monitor_address,
            type=type_,
            name=name,
            parent=STACK_URN,  # a top-level component of the caller's program
            inputs=props,
            providers=dict(providers or {}),
            accepts_output_values=True,
        )
        response = self.provider.Construct(request, timeout=RPC_TIMEOUT)
        return str(response.urn), rpc.deserialize_properties(response.state, keep_unknowns=True)


@contextmanager
def component_host() -> Iterator[Host]:
    """Start the monitor, the engine and the plugin; stop all three, whatever happens."""
    rec = recording.Recording()
    engine = _Engine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    monitor = _Monitor(rec, PROJECT, STACK)
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(monitor, server)
    engine_pb2_grpc.add_EngineServicer_to_server(engine, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    process = subprocess.Popen(
        [sys.executable, str(ENTRY_POINT), f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ENTRY_POINT.parent,
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        plugin_port = process.stdout.readline().decode().strip()
        if not plugin_port.isdigit():
            process.kill()
            raise RuntimeError(f"the component provider did not start:\n{process.stderr.read().decode()}")
        with grpc.insecure_channel(f"127.0.0.1:{plugin_port}") as channel:
            yield Host(provider_pb2_grpc.ResourceProviderStub(channel), f"127.0.0.1:{port}", monitor, engine, rec)
    finally:
        process.kill()
        process.wait(timeout=10)
        server.stop(grace=None)
