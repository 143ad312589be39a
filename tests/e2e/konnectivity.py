"""A konnectivity client, as cluster-proxy's users (the gateway with ClusterProxy egress, the user server)
dial a managed cluster through the tunnel: gRPC `ProxyService.Proxy` to the proxy-server's 8090 with
the `proxy-client` certificate, a DIAL_REQ for `<cluster>:443`, then TLS and HTTP/1.1 to that cluster's
API server inside the DATA packets.

The messages are apiserver-network-proxy v0.33.0's `konnectivity-client/proto/client/client.proto`
(the version the proxy-server and proxy-agent here are built from), declared below as descriptors, so
no generated code is needed. The client reaches the proxy-server's Service the way the hub's
kube-apiserver reaches a Service (the local clusters' egress proxy: HTTP CONNECT to its ClusterIP),
through a port forwarded on 127.0.0.1 (`forward`).
"""

from __future__ import annotations

import contextlib
import queue
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

import sandbox.clusters

DIAL_REQ, DIAL_RSP, CLOSE_REQ, CLOSE_RSP, DATA = 0, 1, 2, 3, 4
PROXY_METHOD = "/ProxyService/Proxy"
CHUNK = 32 * 1024
_F = descriptor_pb2.FieldDescriptorProto


def _messages() -> dict[str, Any]:
    """Packet, DialRequest, DialResponse, Data and CloseRequest of client.proto (field numbers as there)."""
    file = descriptor_pb2.FileDescriptorProto(name="konnectivity_client.proto", syntax="proto3")
    enum = file.enum_type.add(name="PacketType")
    for number, name in enumerate(("DIAL_REQ", "DIAL_RSP", "CLOSE_REQ", "CLOSE_RSP", "DATA", "DIAL_CLS", "DRAIN")):
        enum.value.add(name=name, number=number)

    def message(name: str, *fields: tuple[str, int, int, str]) -> None:
        declared = file.message_type.add(name=name)
        for field_name, number, kind, type_name in fields:
            field = declared.field.add(name=field_name, number=number, type=kind, label=_F.LABEL_OPTIONAL)
            if type_name:
                field.type_name = type_name

    message(
        "DialRequest",
        ("protocol", 1, _F.TYPE_STRING, ""),
        ("address", 2, _F.TYPE_STRING, ""),
        ("random", 3, _F.TYPE_INT64, ""),
    )
    message(
        "DialResponse",
        ("error", 1, _F.TYPE_STRING, ""),
        ("connectID", 2, _F.TYPE_INT64, ""),
        ("random", 3, _F.TYPE_INT64, ""),
    )
    message(
        "Data", ("connectID", 1, _F.TYPE_INT64, ""), ("error", 2, _F.TYPE_STRING, ""), ("data", 3, _F.TYPE_BYTES, "")
    )
    message("CloseRequest", ("connectID", 1, _F.TYPE_INT64, ""))
    message("CloseResponse", ("error", 1, _F.TYPE_STRING, ""), ("connectID", 2, _F.TYPE_INT64, ""))
    message(
        "Packet",
        ("type", 1, _F.TYPE_ENUM, ".PacketType"),
        ("dialRequest", 2, _F.TYPE_MESSAGE, ".DialRequest"),
        ("dialResponse", 3, _F.TYPE_MESSAGE, ".DialResponse"),
        ("data", 4, _F.TYPE_MESSAGE, ".Data"),
        ("closeRequest", 5, _F.TYPE_MESSAGE, ".CloseRequest"),
        ("closeResponse", 6, _F.TYPE_MESSAGE, ".CloseResponse"),
    )
    return dict(message_factory.GetMessages([file], pool=descriptor_pool.DescriptorPool()))


MESSAGES = _messages()


class TunnelError(Exception):
    """The proxy-server or the agent refused the dial, or the tunnel broke."""


@contextlib.contextmanager
def forward(cluster: str, ip: str, port: int, *, timeout: float = 10.0) -> Iterator[int]:
    """A port on 127.0.0.1 whose connections reach ip:port of the local cluster (a Service address), as
    that cluster's kube-apiserver reaches it: HTTP CONNECT to the cluster's egress proxy. Stopped on exit."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopping = threading.Event()

    def splice(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := a.recv(CHUNK):
                b.sendall(chunk)
        for end in (a, b):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def connect(client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.settimeout(timeout)
            upstream.connect(str(sandbox.clusters.egress_socket(cluster)))
            upstream.sendall(f"CONNECT {ip}:{port} HTTP/1.1\r\nHost: {ip}:{port}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = upstream.recv(1)
                if not chunk:
                    raise OSError("the egress proxy closed the connection")
                head += chunk
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                raise OSError(head.split(b"\r\n", 1)[0].decode("latin-1"))
            upstream.settimeout(None)
        except OSError:
            upstream.close()
            client.close()
            return
        threading.Thread(target=splice, args=(client, upstream), daemon=True).start()
        splice(upstream, client)
        client.close()
        upstream.close()

    def accept() -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=connect, args=(client,), daemon=True).start()

    acceptor = threading.Thread(target=accept, name=f"forward {cluster} {ip}:{port}", daemon=True)
    acceptor.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stopping.set()
        acceptor.join(timeout=5)
        listener.close()


class Tunnel:
    """One dialled connection through the proxy-server: `send` bytes, `recv` what comes back."""

    def __init__(self, channel: grpc.Channel, address: str, timeout: float) -> None:
        self.timeout = timeout
        self.outbox: queue.Queue[Any] = queue.Queue()
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        packet = MESSAGES["Packet"]
        proxy = channel.stream_stream(
            PROXY_METHOD, request_serializer=packet.SerializeToString, response_deserializer=packet.FromString
        )
        self.random = random.randint(1, 2**62)
        self.outbox.put(
            packet(
                type=DIAL_REQ, dialRequest=MESSAGES["DialRequest"](protocol="tcp", address=address, random=self.random)
            )
        )
        self.responses = proxy(iter(self.outbox.get, None), timeout=timeout)
        first = next(self.responses)
        if first.type != DIAL_RSP or first.dialResponse.random != self.random:
            raise TunnelError(f"expected the dial's response, got packet type {first.type}")
        if first.dialResponse.error:
            raise TunnelError(f"dial {address}: {first.dialResponse.error}")
        self.connect_id = first.dialResponse.connectID
        self.reader = threading.Thread(target=self._read, name=f"tunnel {address}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for packet in self.responses:
                if packet.type == DATA and packet.data.connectID == self.connect_id:
                    if packet.data.error:
                        break
                    self.inbox.put(bytes(packet.data.data))
                elif packet.type == CLOSE_RSP:
                    break
        except grpc.RpcError:
            pass
        self.inbox.put(None)

    def send(self, data: bytes) -> None:
        self.outbox.put(MESSAGES["Packet"](type=DATA, data=MESSAGES["Data"](connectID=self.connect_id, data=data)))

    def recv(self) -> bytes | None:
        """The next bytes from the far end; None once it closed."""
        try:
            return self.inbox.get(timeout=self.timeout)
        except queue.Empty:
            raise TunnelError(f"nothing came back through the tunnel within {self.timeout:.0f}s") from None

    def close(self) -> None:
        close = MESSAGES["CloseRequest"](connectID=self.connect_id)
        self.outbox.put(MESSAGES["Packet"](type=CLOSE_REQ, closeRequest=close))
        self.outbox.put(None)


def https_get(
    channel: grpc.Channel, address: str, path: str, server: ssl.SSLContext, *, hostname: str, timeout: float = 30.0
) -> tuple[int, bytes]:
    """GET https://<address><path> through the tunnel (TLS end to end, driven over memory buffers): the
    status code and body of the far server's HTTP/1.1 answer."""
    tunnel = Tunnel(channel, address, timeout)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = server.wrap_bio(incoming, outgoing, server_hostname=hostname)

    def flush() -> None:
        if data := outgoing.read():
            tunnel.send(data)

    def pump() -> bool:
        data = tunnel.recv()
        if data is None:
            incoming.write_eof()
            return False
        incoming.write(data)
        return True

    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                flush()
                if not pump():
                    raise TunnelError("the far end closed the connection during the TLS handshake") from None
        flush()
        tls.write(f"GET {path} HTTP/1.1\r\nHost: {hostname}\r\nConnection: close\r\n\r\n".encode())
        flush()
        response = b""
        while True:
            try:
                chunk = tls.read(CHUNK)
                if not chunk:
                    break
                response += chunk
            except ssl.SSLWantReadError:
                flush()
                if not pump():
                    break
            except ssl.SSLZeroReturnError:
                break
    finally:
        tunnel.close()
    return _parse(response)


def _parse(response: bytes) -> tuple[int, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])}
    if headers.get(b"transfer-encoding") == b"chunked":
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2 :]
        body = decoded
    return status, body


def channel(port: int, ca: bytes, cert: bytes, key: bytes, server_name: str) -> grpc.Channel:
    """A mutual-TLS gRPC channel to 127.0.0.1:port whose server must prove `server_name` with `ca`."""
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    return grpc.secure_channel(
        f"127.0.0.1:{port}", credentials, options=[("grpc.ssl_target_name_override", server_name)]
    )


def client_context(ca: bytes, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """TLS to a cluster's API server: its CA, our client certificate."""
    context = ssl.create_default_context(cadata=ca.decode())
    context.load_cert_chain(str(cert_file), str(key_file))
    return context
