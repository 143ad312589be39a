"""Each stack key is described once, in the models; config/args.py and the README's tables are written from them
(`python -m config.derive`) and these tests fail when either is stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import derive
from config.model import Model
from config.stack import StackConfig

STALE = "stale: run python -m config.derive"


def test_config_args_is_written_from_the_models() -> None:
    assert derive.ARGS_PATH.read_text() == derive.args_source(), f"config/args.py is {STALE}"


def test_readme_tables_are_written_from_the_models() -> None:
    readme = derive.README_PATH.read_text()
    assert readme == derive.readme_text(readme), f"README.md's configuration tables are {STALE}"


def test_every_configuration_table_in_the_readme_is_a_written_one() -> None:
    readme = derive.README_PATH.read_text()
    assert readme.count("| key | default | meaning |") == len(derive.TABLES)


def test_a_changed_description_makes_both_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    field = StackConfig.model_fields["allow_teardown"]
    monkeypatch.setattr(field, "description", "Changed\n    over two lines.")
    readme = derive.README_PATH.read_text()
    assert '    """Changed over two lines. Default: `false`."""\n' in derive.args_source()
    assert "| `allowTeardown` | `false` | Changed over two lines. |\n" in derive.readme_text(readme)


def test_a_stale_file_fails_the_check_and_is_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args, readme = tmp_path / "args.py", tmp_path / "README.md"
    args.write_text(derive.ARGS_PATH.read_text().replace("Default: `false`", "Default: `true`"))
    readme.write_text(derive.README_PATH.read_text())
    monkeypatch.setattr(derive, "ROOT", tmp_path)
    monkeypatch.setattr(derive, "ARGS_PATH", args)
    monkeypatch.setattr(derive, "README_PATH", readme)
    before = args.read_text()
    assert derive.main(["--check"]) == 1
    assert args.read_text() == before
    assert derive.main([]) == 0
    assert args.read_text() == derive.args_source()
    assert derive.main(["--check"]) == 0


def test_an_undescribed_key_is_refused() -> None:
    class Bare(Model):
        """A model whose key has no docstring."""

        replicas: int = 1

    with pytest.raises(ValueError, match=r"Bare\.replicas has no description"):
        list(derive._rows(Bare, Bare(), ""))


def test_rows_use_stack_file_keys_and_defaults() -> None:
    rows = {row.key: row.default for row in derive._rows(StackConfig, StackConfig(), "")}
    assert rows["operator.resources"] == "`{requests: {cpu: 2m, memory: 16Mi}}`"
    assert rows["readinessTimeout"] == "`10m`"
    assert rows["registration.joinTimeout"] == "`15m`"
    assert rows["registration.clusters[].import"] == "`false`"
    assert rows["registration.clusters[].name"] == "required"
    assert rows["addons.{clusterProxy,managedServiceAccount,clusterGateway}.timeout"] == "`10m`"
    assert rows["clusterManager.{work,addOnManager,placement}.featureGates"] == "`{}`"
    assert rows["images.tag"] == "—"
    assert not any(key.startswith(("images.overrides.{", "operator.tolerations.")) for key in rows)


def test_readme_cells_keep_a_pipe_in_its_cell() -> None:
    assert derive._cell("Enable | Disable") == "Enable \\| Disable"
