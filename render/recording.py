"""Run a Pulumi program under Pulumi's own mocks and record every resource it asks the engine for.

The recording is the whole request (parent, dependencies, provider, retainOnDelete, aliases, inputs), so
`make render` and the tests see exactly what the engine would be asked to create.
"""

from __future__ import annotations

import runpy
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

if TYPE_CHECKING:
    from config import RawConfig

PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ResourceRequest:
    """One resource as the engine would receive it (a RegisterResource request)."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: tuple[str, ...]
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: tuple[str, ...]
    aliases: tuple[str, ...]  # the former URNs its aliases name, resolved as the engine resolves them
    inputs: Mapping[str, Any]
    deleted_with: str = ""
    import_id: str = ""
    secret_inputs: tuple[str, ...] = ()
    additional_secret_outputs: tuple[str, ...] = ()


@dataclass
class Recording:
    resources: list[ResourceRequest] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def by_name(self, name: str) -> ResourceRequest:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def of_type(self, type_: str) -> list[ResourceRequest]:
        return [r for r in self.resources if r.type == type_]

    def former_urns(self, resource: ResourceRequest) -> tuple[str, ...]:
        """Every URN the engine matches `resource` with in existing state: its own aliases, and for each former
        URN of its parent, the engine's inherited child aliases (of its type and name, and of each alias's:
        under the parent's former type, a name that started with the parent's name now starting with the
        parent's former name)."""
        found = dict.fromkeys(resource.aliases)
        parents = [r for r in self.resources if r.urn == resource.parent]
        identities = [(resource.type, resource.name), *(_type_and_name(alias) for alias in resource.aliases)]
        for former_parent in self.former_urns(parents[0]) if parents else ():
            parent_name, former_name = _type_and_name(parents[0].urn)[1], _type_and_name(former_parent)[1]
            for type_, name in identities:
                if name.startswith(parent_name):
                    name = former_name + name.removeprefix(parent_name)
                found[_mock_urn(former_parent, type_, name)] = None
        return tuple(found)


def _type_and_name(urn: str) -> tuple[str, str]:
    qualified_type, name = urn.split("::")[2:4]
    return qualified_type.split("$")[-1], name


def _mock_urn(parent: str, type_: str, name: str) -> str:
    """A URN as the mocks make it: the parent's own type (the last of its qualified type) before the type."""
    stack, project, parent_type = parent.removeprefix("urn:pulumi:").split("::")[:3]
    return f"urn:pulumi:{stack}::{project}::{parent_type.split('$')[-1]}${type_}::{name}"


class _Mocks(pulumi.runtime.Mocks):
    """Echo inputs as outputs, with deterministic ids: nothing is invented."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


class _RecordingMonitor(mocks.MockMonitor):
    def __init__(self, recording: Recording) -> None:
        super().__init__(_Mocks())
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.recording.resources.append(
                ResourceRequest(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    custom=bool(request.custom),
                    parent=request.parent,
                    provider=request.provider,
                    dependencies=tuple(request.dependencies),
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    ignore_changes=tuple(request.ignoreChanges),
                    aliases=tuple(self._alias_urn(request, alias) for alias in request.aliases),
                    inputs=rpc.deserialize_properties(request.object),
                    deleted_with=request.deletedWith,
                    import_id=request.importId,
                    secret_inputs=_secret_keys(request.object),
                    additional_secret_outputs=tuple(request.additionalSecretOutputs),
                )
            )
        return response

    def _alias_urn(self, request: Any, alias: Any) -> str:
        """An alias as the engine collapses it to a URN: what the spec leaves out is the resource's own."""
        if alias.urn:
            return str(alias.urn)
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        urn = str(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        stack, project, rest = urn.removeprefix("urn:pulumi:").split("::", 2)
        return f"urn:pulumi:{spec.stack or stack}::{spec.project or project}::{rest}"


def _secret_keys(struct: Any) -> tuple[str, ...]:
    """Top-level inputs sent as secrets (wrapped in the secret signature), in sorted order."""
    found = []
    for key, value in struct.fields.items():
        fields = value.struct_value.fields if value.HasField("struct_value") else {}
        if (
            fields.get(rpc._special_sig_key, None)
            and fields[rpc._special_sig_key].string_value == rpc._special_secret_sig
        ):
            found.append(key)
    return tuple(sorted(found))


def run(
    program: Callable[[], None],
    raw: RawConfig | None = None,
    *,
    stack: str = "test",
    project: str = "ocm-hub",
    preview: bool = False,
) -> Recording:
    """Run `program` under mocks with `raw` as the `ocm-hub:` config namespace, and record it."""
    recording = Recording()
    if raw is None:  # a program of no config (make bench's floor) loads none of ocm-hub's config code
        set_all_config({}, [])
    else:
        from config.loader import NAMESPACE, encode

        set_all_config(
            {f"{NAMESPACE}:{key}": encode(value) for key, value in raw.values.items()},
            [f"{NAMESPACE}:{key}" for key in raw.secret_keys],
        )
    settings.reset_options(project=project, stack=stack, preview=preview)
    monitor = _RecordingMonitor(recording)
    mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()

    async def body() -> None:
        program()
        root = settings.get_root_resource()
        exported: dict[str, Any] = getattr(root, "outputs", {})
        for name, value in exported.items():
            output = pulumi.Output.from_input(value)
            recording.outputs[name] = await output.future()
            if await output.is_secret():
                recording.secret_outputs.add(name)

    interrupt = signal.getsignal(signal.SIGINT)  # __main__.py sets the engine's; keep the caller's Ctrl-C
    try:
        _sync_await(run_pulumi_func(body))
    finally:
        signal.signal(signal.SIGINT, interrupt)
    return recording


def run_main(raw: RawConfig | None = None, **kwargs: Any) -> Recording:
    """The project's own `__main__.py`, exactly as the engine runs it, offline: a stack that discovers
    vela's clusters registers those its config names, as `make render` shows it."""

    from config import RawConfig
    from config.offline import offline

    def program() -> None:
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")

    with offline():
        return run(program, raw or RawConfig({}), **kwargs)
