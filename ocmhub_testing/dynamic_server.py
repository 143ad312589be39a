"""Drive a dynamic provider exactly as the engine does: the SDK's own `python -m pulumi.dynamic`
server in a child process, spoken to over gRPC with the serialized (dill) provider in the props.

Pickling problems, module import problems and configure() behaviour show up here, not in users'
`pulumi up`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from providers.managed_cluster import ManagedClusterProvider
from providers.sdk_patches import pickler_restored

PROVIDER_KEY = "__provider"
PROJECT_DIR = Path(__file__).resolve().parent.parent
URN = "urn:pulumi:test::ocm-hub::pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration::reg"


def serialized_provider() -> str:
    with pickler_restored():
        return str(serialize_provider(ManagedClusterProvider()))


def _struct(props: Mapping[str, Any]) -> Any:
    # A private loop: asyncio.run would unset the main thread's loop, which Pulumi's mocks rely on.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def _plain(struct: Any) -> dict[str, Any]:
    value = rpc.deserialize_properties(struct)
    return {k: rpc.unwrap_rpc_secret(v) for k, v in dict(value).items()}


class ProviderError(Exception):
    """The provider failed an RPC; the message is what the engine would print."""


@dataclass
class DynamicServer:
    stub: provider_pb2_grpc.ResourceProviderStub
    process: subprocess.Popen[bytes]
    provider: str
    log_path: Path

    def log(self) -> str:
        """Everything the provider wrote to stderr (what the engine keeps in its logs)."""
        return self.log_path.read_text(errors="replace")

    def props(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {**inputs, PROVIDER_KEY: self.provider}

    def _call(self, method: str, request: Any, timeout: float) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=timeout)
        except grpc.RpcError as err:
            raise ProviderError(f"{method}: {err.details()}") from None

    def configure(self, config: Mapping[str, str]) -> None:
        self._call("Configure", provider_pb2.ConfigureRequest(args=_struct(config), acceptSecrets=False), 30)

    def check(self, news: Mapping[str, Any], olds: Mapping[str, Any] | None = None) -> list[tuple[str, str]]:
        response = self._call(
            "Check",
            provider_pb2.CheckRequest(urn=URN, olds=_struct(self.props(olds or {})), news=_struct(self.props(news))),
            30,
        )
        return [(f.property, f.reason) for f in response.failures]

    def diff(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Any:
        return self._call(
            "Diff",
            provider_pb2.DiffRequest(id=id_, urn=URN, olds=_struct(self.props(olds)), news=_struct(self.props(news))),
            30,
        )

    def create(self, inputs: Mapping[str, Any], timeout: float = 120) -> tuple[str, dict[str, Any]]:
        response = self._call(
            "Create", provider_pb2.CreateRequest(urn=URN, properties=_struct(self.props(inputs))), timeout
        )
        return response.id, _plain(response.properties)

    def read(self, id_: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        struct = _struct(self.props(props))
        response = self._call("Read", provider_pb2.ReadRequest(id=id_, urn=URN, properties=struct, inputs=struct), 60)
        return response.id, _plain(response.properties)

    def update(
        self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any], timeout: float = 120
    ) -> dict[str, Any]:
        response = self._call(
            "Update",
            provider_pb2.UpdateRequest(id=id_, urn=URN, olds=_struct(self.props(olds)), news=_struct(self.props(news))),
            timeout,
        )
        return _plain(response.properties)

    def delete(self, id_: str, props: Mapping[str, Any], timeout: float = 120) -> None:
        self._call(
            "Delete", provider_pb2.DeleteRequest(id=id_, urn=URN, properties=_struct(self.props(props))), timeout
        )


@contextmanager
def dynamic_server(
    log_path: Path, env: Mapping[str, str] | None = None, start_timeout: float = 30
) -> Iterator[DynamicServer]:
    """Start the SDK's provider server from the project directory (as the engine does) and stop it after.

    stderr goes to `log_path` (a pipe nobody reads would block the provider once full).
    """
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            cwd=PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=log,
            env={**os.environ, **(env or {}), "PULUMI_PROJECT": "ocm-hub"},
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if not line.isdigit():
            raise RuntimeError(f"provider server did not start: {line!r}; log: {log_path.read_text()[-2000:]}")
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=start_timeout)
        try:
            yield DynamicServer(
                provider_pb2_grpc.ResourceProviderStub(channel), process, serialized_provider(), log_path
            )
        finally:
            channel.close()
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
