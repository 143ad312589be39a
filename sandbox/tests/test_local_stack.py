"""How a stack runs on the local clusters: the rewritten stack file, the marker, the kubeconfig to use."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sandbox import chart_repo, clusters, local_stack, tools
from sandbox.local_stack import LocalStack

URL = "http://127.0.0.1:40123"
STACK_FILE = """\
# a comment Pulumi ignores
secretsprovider: passphrase
encryptionsalt: v1:abc:def
config:
  ocm-hub:ocmVersion: v1.3.1
  ocm-hub:addons:
    repository: https://open-cluster-management.io/helm-charts
    clusterProxy:
      enabled: true
      repository: oci://ghcr.io/acme/charts
    managedServiceAccount:
      enabled: true
  other:key: kept
"""


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The local clusters' state (OCM_HUB_E2E_DIR) in a directory of this test's own."""
    state = tmp_path / "state"
    monkeypatch.setattr(clusters, "STATE_DIR", state)
    return state


RUNTIME = local_stack.Runtime(
    chart_repository=URL,
    chart_versions={"clusterProxy": "0.10.0", "managedServiceAccount": "0.10.0", "clusterGateway": "0.1.0"},
    image_tags={"clusterProxy": "v0.10.0", "managedServiceAccount": "v0.10.0", "clusterGateway": "v1.9.0"},
    ocm_version="v1.2.1",
)


def test_ocm_and_every_addon_are_pinned_to_what_runs_from_the_local_repository() -> None:
    config = yaml.safe_load(STACK_FILE)["config"]
    local = local_stack.for_local_clusters(config, RUNTIME)
    assert local["ocm-hub:addons"] == {
        "repository": URL,
        "clusterProxy": {
            "enabled": True,
            "repository": URL,
            "version": "0.10.0",
            "values": {"tag": "v0.10.0", "proxyServer": {"entrypointLoadBalancer": True, "entrypointAddress": ""}},
        },
        "managedServiceAccount": {
            "enabled": True,
            "repository": URL,
            "version": "0.10.0",
            "values": {"tag": "v0.10.0"},
        },
    }
    assert {k: v for k, v in local.items() if k != "ocm-hub:addons"} == {
        "ocm-hub:ocmVersion": "v1.2.1",
        "other:key": "kept",
    }
    assert config == yaml.safe_load(STACK_FILE)["config"], "the stack's own config is not changed"


def test_the_stacks_own_values_stay_under_the_local_ones() -> None:
    config = {
        "ocm-hub:addons": {
            "clusterGateway": {
                "enabled": True,
                "version": "1.4.0",
                "values": {"tag": "v1.4.0", "replicas": 2, "clusterGateway": {"installNamespace": "vela-system"}},
            }
        }
    }
    gateway = local_stack.for_local_clusters(config, RUNTIME)["ocm-hub:addons"]["clusterGateway"]
    assert gateway["version"] == "0.1.0"
    assert gateway["values"] == {"tag": "v1.9.0", "replicas": 2, "clusterGateway": {"installNamespace": "vela-system"}}


def test_the_runtime_is_the_served_charts_and_the_built_tools() -> None:
    runtime = local_stack.Runtime.serving(URL)
    assert runtime.chart_repository == URL
    assert dict(runtime.chart_versions) == chart_repo.served_versions()
    assert dict(runtime.image_tags) == {
        "clusterProxy": tools.select(["cluster-proxy"])[0].version(),
        "managedServiceAccount": tools.select(["managed-serviceaccount"])[0].version(),
        "clusterGateway": tools.select(["cluster-gateway"])[0].version(),
    }
    assert runtime.ocm_version == tools.select(["registration"])[0].version()


def test_a_stack_without_addons_gets_the_local_repository_and_ocm_release() -> None:
    assert local_stack.for_local_clusters({}, RUNTIME) == {
        "ocm-hub:ocmVersion": "v1.2.1",
        "ocm-hub:addons": {"repository": URL},
    }


def test_the_rewritten_file_keeps_the_rest_as_written(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(STACK_FILE)
    document = yaml.safe_load(local_stack.rewritten(path, RUNTIME))
    original = yaml.safe_load(STACK_FILE)
    assert list(document) == list(original)
    assert document["encryptionsalt"] == "v1:abc:def"
    assert document["secretsprovider"] == "passphrase"
    assert document["config"] == local_stack.for_local_clusters(original["config"], RUNTIME)


def test_an_empty_stack_file_runs_with_the_local_repository(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.empty.yaml"
    path.write_text("")
    assert yaml.safe_load(local_stack.rewritten(path, RUNTIME)) == {
        "config": {"ocm-hub:ocmVersion": "v1.2.1", "ocm-hub:addons": {"repository": URL}}
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("- config\n- more\n", "top level is a list"),
        ("just words\n", "top level is a scalar"),
        ("config: [a, b]\n", "`config` must be a mapping"),
    ],
)
def test_a_stack_file_pulumi_refuses_is_an_error_naming_it(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(text)
    with pytest.raises(clusters.ClusterError, match=f"{re.escape(str(path))}: .*{re.escape(says)}"):
        local_stack.rewritten(path, RUNTIME)


def test_a_missing_stack_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(clusters.ClusterError, match=re.escape(f"{tmp_path / 'Pulumi.gone.yaml'}: cannot read")):
        local_stack.rewritten(tmp_path / "Pulumi.gone.yaml", RUNTIME)


def test_the_marker_decides_which_kubeconfig_status_and_down_use(tmp_path: Path, state_dir: Path) -> None:
    stack = LocalStack(tmp_path, "dev")
    assert not stack.active()
    assert stack.kubeconfig_to_use() is None, "not deployed there: the current kube context"
    stack.activate()
    assert stack.marker == state_dir / "local-stacks" / "dev"
    assert stack.active()
    assert stack.kubeconfig_to_use() == state_dir / "hub.kubeconfig"
    assert not LocalStack(tmp_path, "prod").active(), "one marker per stack"
    stack.deactivate()
    assert not stack.active()
    assert stack.kubeconfig_to_use() is None
    stack.deactivate()  # twice is fine


def test_config_file_writes_the_rewritten_stack_beside_the_marker(
    tmp_path: Path, state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text(STACK_FILE)
    stack = LocalStack(tmp_path, "dev")
    monkeypatch.setattr(clusters, "chart_repository", lambda: URL)
    written = stack.config_file()
    assert written == state_dir / "local-stacks" / "Pulumi.dev.yaml"
    assert written.read_text() == local_stack.rewritten(tmp_path / "Pulumi.dev.yaml", local_stack.Runtime.serving(URL))
    assert (tmp_path / "Pulumi.dev.yaml").read_text() == STACK_FILE, "the user's stack file stays as written"
    stack.deactivate()
    assert not written.exists()


def test_config_file_needs_the_chart_repository_running(tmp_path: Path, state_dir: Path) -> None:
    (tmp_path / "Pulumi.dev.yaml").write_text(STACK_FILE)
    with pytest.raises(clusters.ClusterError, match="chart repository is not running: `make cluster-up` starts it"):
        LocalStack(tmp_path, "dev").config_file()
    assert not (state_dir / "local-stacks" / "Pulumi.dev.yaml").exists()


@pytest.mark.parametrize("name", ["", "../dev", "a/b", "dev yaml"])
def test_a_stack_name_that_is_no_file_name_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="is not a stack name"):
        LocalStack(tmp_path, name)
