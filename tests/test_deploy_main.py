"""`python -m deploy`: when it asks, and what a stack name it cannot use gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.__main__ import confirm_mode, start_validation
from deploy.flow import Confirm, DeployError
from deploy.wiring import LocalClusters


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
