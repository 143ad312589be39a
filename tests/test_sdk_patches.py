"""The SDK patches: the pinned SDK still has the shape each relies on, each refuses an SDK whose internals
moved (stand-ins for the moved symbols) or whose version is outside SUPPORTED, saying so in one line, and the
stack trace built from frames is the SDK's own."""

from __future__ import annotations

import pickle
import re
import sys
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pulumi.dynamic
import pulumi.dynamic.dynamic as dynamic_module
import pulumi.runtime.resource as resource_module
import pytest

from providers import sdk_patches
from providers.sdk_patches import (
    _stack_trace,
    raise_bound,
    serialized_once,
    serializer_shape,
    server_main_shape,
    server_pool,
    stack_trace_shape,
    stack_traces_from_frames,
    version_problem,
)
from render.recording import PROJECT_DIR


@pytest.fixture(autouse=True)
def undecided(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test decides afresh whether a patch applies (a process decides once)."""
    monkeypatch.setattr(sdk_patches, "_verdicts", {})


def _pinned() -> str:
    (pin,) = re.findall(r"^pulumi==(\S+)$", (PROJECT_DIR / "requirements.txt").read_text(), re.M)
    return str(pin)


def test_the_pinned_and_installed_sdk_are_within_the_supported_versions() -> None:
    """Raising the pin past SUPPORTED fails here: check the three symbols' source first, then raise it."""
    assert version_problem(_pinned()) is None
    assert version_problem(sdk_patches.installed_version()) is None


@pytest.mark.parametrize("version", ["3.259.0", "3.273.0", "4.0.0", "dev"])
def test_versions_outside_the_supported_range_are_refused(version: str) -> None:
    assert version in str(version_problem(version))


def test_the_pinned_sdk_has_the_shape_each_patch_relies_on() -> None:
    assert serializer_shape(dynamic_module, pulumi.dynamic.Resource, pickle._Pickler) is None
    assert stack_trace_shape(resource_module) is None
    main = sdk_patches.server_main_code()
    assert main is not None
    assert main.co_filename == str(Path(dynamic_module.__file__).with_name("__main__.py"))
    assert server_main_shape(main) is None


def test_the_grpc_servers_pool_is_found_and_widened_never_narrowed() -> None:
    with ThreadPoolExecutor(max_workers=4) as executor:
        server = grpc.server(executor)
        pool = server_pool(server)
        assert pool is executor
        assert raise_bound(executor, 16) == 16
        assert raise_bound(executor, 8) == 16


def _takes_two(provider: Any, extra: Any) -> str:
    return ""


class _LooksUpNothing:
    def __init__(self) -> None:
        self.made = True


@pytest.mark.parametrize(
    ("module", "resource", "pickler", "problem"),
    [
        (types.SimpleNamespace(), pulumi.dynamic.Resource, pickle._Pickler, "serialize_provider is gone"),
        (
            types.SimpleNamespace(serialize_provider=_takes_two),
            pulumi.dynamic.Resource,
            pickle._Pickler,
            "no longer takes (provider)",
        ),
        (dynamic_module, _LooksUpNothing, pickle._Pickler, "Resource no longer looks serialize_provider up"),
        (dynamic_module, pulumi.dynamic.Resource, type("P", (), {}), "no _batch_setitems, save_dict"),
    ],
)
def test_the_serializer_patch_refuses_moved_internals(module: Any, resource: Any, pickler: Any, problem: str) -> None:
    assert problem in str(serializer_shape(module, resource, pickler))


def test_the_stack_trace_patch_refuses_moved_internals() -> None:
    assert "_get_stack_trace is gone" in str(stack_trace_shape(types.SimpleNamespace()))
    assert "now takes arguments" in str(stack_trace_shape(types.SimpleNamespace(_get_stack_trace=_takes_two)))


def test_the_server_patch_refuses_moved_internals() -> None:
    def main() -> None:
        grpc_server = None
        del grpc_server

    assert "no longer keeps its gRPC server in a local named server" in str(server_main_shape(main.__code__))
    assert "has no main()" in str(server_main_shape(None))
    assert "not at server._state.thread_pool" in str(server_pool(object()))
    unlike = types.SimpleNamespace(_state=types.SimpleNamespace(thread_pool=types.SimpleNamespace()))
    assert "not at server._state.thread_pool" in str(server_pool(unlike))


def test_a_serializer_that_moved_is_left_alone_and_said_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in = types.SimpleNamespace(serialize_provider=_takes_two)
    monkeypatch.setattr(sdk_patches, "dynamic_module", stand_in)
    for _ in range(2):
        with serialized_once():
            assert stand_in.serialize_provider is _takes_two
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ocm-hub: SDK patch 'one provider serialization per program' not applied: ")
    assert "no longer takes (provider)" in err
    assert "RecursionError" in err  # what the user loses


def test_a_stack_trace_function_that_moved_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in = types.SimpleNamespace()
    monkeypatch.setattr(sdk_patches, "resource_module", stand_in)
    with stack_traces_from_frames():
        assert not hasattr(stand_in, "_get_stack_trace")
    assert "'stack traces from frames' not applied: pulumi.runtime.resource._get_stack_trace is gone" in (
        capsys.readouterr().err
    )


def test_a_server_whose_main_moved_keeps_the_sdks_pool(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in = types.ModuleType("__main__")
    stand_in.__spec__ = types.SimpleNamespace(name=sdk_patches.SDK_SERVER)  # type: ignore[assignment]
    exec("def main():\n    grpc_server = None\n", stand_in.__dict__)
    monkeypatch.setitem(sys.modules, "__main__", stand_in)
    monkeypatch.setattr(sdk_patches, "_found", [])
    assert sdk_patches.widen_provider_server(32) is None
    assert "'provider server threads' not applied" in capsys.readouterr().err


def test_the_program_says_when_the_provider_server_cannot_be_widened(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server's own line goes to the engine's debug log: the program says it where the user sees it."""
    assert sdk_patches.provider_server_can_widen()
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sdk_patches, "_verdicts", {})
    monkeypatch.setattr(sdk_patches, "installed_version", lambda: "3.280.0")
    assert not sdk_patches.provider_server_can_widen()
    assert not sdk_patches.provider_server_can_widen()
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("ocm-hub: SDK patch 'provider server threads' not applied: pulumi SDK 3.280.0 is outside")
    assert "at most 4 registrations join at once" in line


def test_an_sdk_outside_the_supported_versions_is_not_patched(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sdk_patches, "installed_version", lambda: "3.280.0")
    original = dynamic_module.serialize_provider
    with serialized_once(), stack_traces_from_frames():
        assert dynamic_module.serialize_provider is original
        assert resource_module._get_stack_trace is not _stack_trace
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert all("pulumi SDK 3.280.0 is outside the versions these patches were checked against" in ln for ln in lines)


def test_on_the_pinned_sdk_both_program_patches_apply_and_are_undone() -> None:
    original = dynamic_module.serialize_provider
    with serialized_once(), stack_traces_from_frames():
        assert dynamic_module.serialize_provider is not original
        assert resource_module._get_stack_trace is _stack_trace
    assert dynamic_module.serialize_provider is original
    assert resource_module._get_stack_trace is not _stack_trace


class _Outer:
    def __init__(self) -> None:
        self.inner = _Middle()


class _Middle:
    def __init__(self) -> None:
        self.inner = _Innermost()


class _Innermost:
    """Where a resource's constructor asks: the third `__init__` from the top is _Outer's."""

    def __init__(self) -> None:
        self.sdk: Any = resource_module._get_stack_trace()
        self.ours = _stack_trace()


def test_the_same_frames_and_positions_as_the_sdks() -> None:
    made = _Outer().inner.inner
    assert made.ours == made.sdk
    assert len(made.ours.frames) > 3
    assert made.ours.frames[0].pc.uri.endswith("tests/test_sdk_patches.py")  # the caller of _Outer()


def test_fewer_than_three_constructors_give_an_empty_trace() -> None:
    assert _stack_trace() == resource_module._get_stack_trace()
    assert list(_stack_trace().frames) == []
