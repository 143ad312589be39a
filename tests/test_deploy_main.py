"""`python -m deploy`: when it asks, and what a stack name it cannot use gives."""

from __future__ import annotations

from pathlib import Path

import pytest

import sandbox
from deploy import wiring
from deploy.__main__ import confirm_mode, start_validation
from deploy.flow import Confirm, DeployError
from deploy.wiring import LocalClusters
from sandbox import tools


def test_yes_or_ci_apply_without_asking_and_nobody_to_ask_previews(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert confirm_mode(yes=True) is Confirm.YES
    assert confirm_mode(yes=False) is Confirm.NO_TERMINAL  # pytest's stdin is no terminal
    monkeypatch.setenv("CI", "true")
    assert confirm_mode(yes=False) is Confirm.YES


def test_a_name_that_cannot_be_a_stack_is_an_error_line_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(DeployError) as caught:
        LocalClusters(tmp_path).is_local("../dev")
    assert caught.value.code == 1
    assert str(caught.value.line).startswith("error: '../dev' is not a stack name")


def test_the_stack_file_check_runs_in_the_background_and_answers_when_asked() -> None:
    started = {stack: start_validation(stack) for stack in ("dev", "nope")}
    assert started["dev"]("dev") is None
    assert "Pulumi.nope.yaml does not exist" in str(started["nope"]("nope"))


@pytest.mark.parametrize(
    ("at_hand", "context", "local", "expected"),
    [
        (True, "prod", False, []),
        (False, "prod", False, ["pulumi-resource-kubernetes"]),
        (True, None, False, ["kwok", "vela"]),
        (True, "prod", True, ["kwok", "vela"]),
        (False, None, False, ["pulumi-resource-kubernetes", "kwok", "vela"]),
    ],
)
def test_make_up_says_up_front_what_it_builds_for_where_it_deploys(
    monkeypatch: pytest.MonkeyPatch, at_hand: bool, context: str | None, local: bool, expected: list[str]
) -> None:
    """The Pulumi CLI's tools when none is at hand; the local clusters' only when it will start them."""
    missing = {tools.UP_TOOLS: ["pulumi-resource-kubernetes"], sandbox.start_tools(): ["kwok", "vela"]}
    monkeypatch.setattr(wiring, "at_hand", lambda _tools: at_hand)
    monkeypatch.setattr(wiring, "configured_context", lambda: context)
    monkeypatch.setattr(tools, "missing", lambda names: list(missing[tuple(names)]))
    line = wiring.build_plan(local)
    if not expected:
        assert line is None
        return
    assert line is not None
    assert line.startswith(f"first building {len(expected)} tools from pinned Go modules, about ")
    assert line.split("): ", 1)[1].split(";")[0] == ", ".join(expected)
    assert ("installer cannot be reached" in line) == (not at_hand)
