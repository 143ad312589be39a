"""Registrations give the engine the source positions the SDK would (pulumi 3.272's `_get_stack_trace`),
computed from the frames without reading source lines."""

from __future__ import annotations

from typing import Any

import pulumi.runtime.resource as resource_module

from providers.managed_cluster import _stack_trace


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
    assert made.ours.frames[0].pc.uri.endswith("tests/test_stack_trace.py")  # the caller of _Outer()


def test_fewer_than_three_constructors_give_an_empty_trace() -> None:
    assert _stack_trace() == resource_module._get_stack_trace()
    assert list(_stack_trace().frames) == []
