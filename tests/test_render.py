"""`make render`: every object, stable order, byte-identical twice, same errors as `pulumi up`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from config import ConfigError, from_file, load
from render import documents
from render.recording import Recording, ResourceRequest
from tests.conftest import PROJECT_DIR, STACKS


def _render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "render", *args],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("stack", STACKS)
def test_render_is_byte_identical_twice(stack: str) -> None:
    first, second = _render("--stack", stack), _render("--stack", stack)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    kinds = [doc["kind"] for doc in yaml.safe_load_all(first.stdout)]
    addons = len(load(from_file(PROJECT_DIR / f"Pulumi.{stack}.yaml")).addon_releases())
    namespaces = ["Namespace"] * (2 if addons else 1)
    hub = ["CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"]
    assert kinds == [*namespaces, *hub, "ClusterManager", *["Release"] * addons]


def test_render_by_config_path_equals_render_by_stack() -> None:
    assert _render("--config", str(PROJECT_DIR / "Pulumi.prod.yaml")).stdout == _render("--stack", "prod").stdout


def test_invalid_config_exits_2_with_the_up_message(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.broken.yaml"
    path.write_text(
        "config:\n  ocm-hub:operator:\n    replicas: 0\n  ocm-hub:clusterManager:\n    deployMode: Hosted\n"
    )
    result = _render("--config", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    with pytest.raises(ConfigError) as caught:
        load(from_file(path))
    assert result.stderr.strip() == f"error: {caught.value}"
    assert "ocm-hub:operator.replicas" in result.stderr


def test_a_stack_file_whose_top_level_is_a_list_exits_2_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.listed.yaml"
    path.write_text("- config:\n    ocm-hub:operator:\n      replicas: 2\n")
    result = _render("--config", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{path}: a stack file is a mapping" in result.stderr


def test_missing_stack_file_exits_2() -> None:
    result = _render("--stack", "nosuchstack")
    assert result.returncode == 2
    assert "Pulumi.nosuchstack.yaml does not exist" in result.stderr


def test_secret_data_is_masked_whatever_its_marking() -> None:
    secret = ResourceRequest(
        urn="urn:x",
        type="kubernetes:core/v1:Secret",
        name="s",
        custom=True,
        parent="",
        provider="",
        dependencies=(),
        retain_on_delete=False,
        delete_before_replace=False,
        ignore_changes=(),
        aliases=(),
        inputs={
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "annotations": {"note": "plain"}},
            "data": {"token": "c2VjcmV0"},
            "stringData": {"password": "hunter2"},
        },
    )
    (doc,) = documents.objects(Recording(resources=[secret]))
    text = documents.to_yaml([doc])
    assert "hunter2" not in text
    assert "c2VjcmV0" not in text
    assert doc["data"] == {"token": "[secret]"}
    assert doc["metadata"]["annotations"] == {"note": "plain"}
