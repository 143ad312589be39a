"""`python -m deploy`: when it asks, and where a stack deployed on the local clusters is remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.__main__ import confirm_mode
from deploy.flow import Confirm
from deploy.wiring import LocalClusters


def test_yes_or_ci_apply_without_asking_and_nobody_to_ask_previews(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert confirm_mode(yes=True) is Confirm.YES
    assert confirm_mode(yes=False) is Confirm.NO_TERMINAL  # pytest's stdin is no terminal
    monkeypatch.setenv("CI", "true")
    assert confirm_mode(yes=False) is Confirm.YES


def test_a_stack_marked_local_is_remembered_until_unmarked_with_its_rewritten_file(tmp_path: Path) -> None:
    clusters = LocalClusters(tmp_path)
    assert not clusters.is_local("dev")
    clusters.mark_local("dev", True)
    assert clusters.is_local("dev")
    assert not clusters.is_local("prod")
    rewritten = tmp_path / ".e2e" / "local-stacks" / "Pulumi.dev.yaml"
    rewritten.write_text("config: {}\n")
    clusters.mark_local("dev", False)
    assert not clusters.is_local("dev")
    assert not rewritten.exists()
    clusters.mark_local("dev", False)  # unmarking twice is fine
