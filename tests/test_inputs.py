"""Issue 16: every bad input is a clear error before anything changes — types, quantities, hostile
YAML, keys, secrets in config, and the messages themselves."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.input_cases import ALL_BAD, BILLION_LAUGHS, CIPHERTEXT, HOSTILE_YAML, SELECTORS_ACCEPTED
from config import ConfigError, RawConfig, from_file, load, safe_yaml
from tests.conftest import PROJECT_DIR
from tests.test_render import _render as render


@pytest.mark.parametrize(("values", "path", "fragment"), ALL_BAD, ids=[p for _, p, _ in ALL_BAD])
def test_issue_16_inputs_are_rejected_naming_the_key(values: dict[str, Any], path: str, fragment: str) -> None:
    message = _problem(values)
    assert f"ocm-hub:{path}:" in message
    assert fragment in message
    assert "hunter2" not in message


@pytest.mark.parametrize("selector", SELECTORS_ACCEPTED)
def test_selectors_the_api_server_accepts_are_accepted(selector: str) -> None:
    load(RawConfig({"registration": {"discover": True, "selector": selector}}))


def _problem(values: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load(RawConfig(values))
    return str(caught.value)


def test_a_top_level_switch_arrives_from_the_engine_as_text() -> None:
    assert load(RawConfig({"allowTeardown": True})).allow_teardown is True
    assert load(RawConfig({"allowTeardown": False})).allow_teardown is False


@pytest.mark.parametrize(("number", "text"), [(1, "1"), (0.5, "0.5"), (250, "250")])
def test_quantities_accept_numbers_as_kubernetes_does(number: float, text: str) -> None:
    cfg = load(RawConfig({"operator": {"resources": {"requests": {"cpu": number}, "limits": {"cpu": 1000}}}}))
    assert cfg.operator.resources.requests["cpu"] == text


@pytest.mark.parametrize("kind", sorted(HOSTILE_YAML))
def test_hostile_yaml_is_rejected_fast_naming_the_file(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.hostile.yaml"
    path.write_text(HOSTILE_YAML[kind])
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        from_file(path)
    assert time.monotonic() - started < 1.0
    assert str(path) in str(caught.value)
    assert "YAML" in str(caught.value)


def test_make_render_rejects_a_billion_laughs_in_under_a_second(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.laughs.yaml"
    path.write_text(BILLION_LAUGHS)
    started = time.monotonic()
    done = render("--config", str(path))
    assert done.returncode == 2
    assert str(path) in done.stderr
    assert "aliases" in done.stderr
    assert time.monotonic() - started < 10  # interpreter and Pulumi imports included; the YAML itself takes ms


def test_bounded_yaml_still_reads_ordinary_documents() -> None:
    assert safe_yaml.load("a: &x [1, 2]\nb: *x\n", "t") == {"a": [1, 2], "b": [1, 2]}
    assert list(safe_yaml.load_all("a: 1\n---\nb: 2\n", "t")) == [{"a": 1}, {"b": 2}]
    assert safe_yaml.load("", "t") is None


def test_schema_and_rule_problems_are_reported_together() -> None:
    message = _problem(
        {
            "operator": {"replicas": "three", "tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
            "imagePullSecrets": ["a", "a"],
            "addons": {"clusterGateway": {"enabled": True}, "repository": "ftp://x"},
        }
    )
    assert "ocm-hub:operator.replicas: input should be a valid integer" in message
    assert "ocm-hub:operator.tolerations[0].value: must be empty when operator is Exists" in message
    assert "ocm-hub:imagePullSecrets[1]: is listed twice" in message
    assert "ocm-hub:addons.repository:" in message
    assert "ocm-hub:addons.clusterGateway.enabled: cluster-gateway-addon-manager needs" in message
    assert "(5 problems)" in message


def test_rules_are_not_run_on_a_list_whose_item_was_set_aside() -> None:
    message = _problem({"registration": {"clusters": [{"labels": {}}, {"name": "b"}, {"name": "b"}]}})
    assert "ocm-hub:registration.clusters[0].name: is required" in message
    assert "(1 problem)" in message  # the duplicate's index would have moved: it shows once the item is fixed


def test_messages_speak_in_stack_file_keys() -> None:
    message = _problem({"addons": "yes", "operator": ["x"], "registration": {"defaults": 3}})
    assert "instance of" not in message
    assert "Config" not in message.replace("ocm-hub stack configuration", "")


def test_long_values_and_keys_are_shortened() -> None:
    message = _problem({"images": {"tag": "x" * 100_000}, "k" * 5_000: 1})
    assert len(message) < 1_000
    assert "(100002 characters)" in message
    assert "(5000 characters)" in message


def _stack(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(yaml.safe_dump({"config": config}))
    return path


def test_an_unnamespaced_key_is_an_error_as_pulumi_makes_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        from_file(_stack(tmp_path, {"allowTeardown": True}))
    assert "config key 'allowTeardown' has no namespace" in str(caught.value)
    assert "ocm-hub:allowTeardown" in str(caught.value)


def test_the_legacy_config_form_is_read_as_pulumi_reads_it(tmp_path: Path) -> None:
    raw = from_file(_stack(tmp_path, {"ocm-hub:config:allowTeardown": True}))
    assert load(raw).allow_teardown is True
    with pytest.raises(ConfigError) as caught:
        from_file(_stack(tmp_path, {"ocm-hub:config:allowTeardown": True, "ocm-hub:allowTeardown": False}))
    assert "ocm-hub:allowTeardown: is set twice" in str(caught.value)


@pytest.mark.parametrize("namespace", ["ocm-hb", "ocmhub", "ocm_hub", "ocm-hubs", "ocm-hbu"])
def test_a_namespace_one_typo_away_is_warned_about(namespace: str, tmp_path: Path) -> None:
    raw = from_file(_stack(tmp_path, {f"{namespace}:allowTeardown": True, "kubernetes:context": "x"}))
    assert raw.values == {}
    assert len(raw.warnings) == 1
    assert f"'{namespace}:allowTeardown' is ignored" in raw.warnings[0]
    assert "did you mean ocm-hub:allowTeardown?" in raw.warnings[0]


def test_render_prints_the_typo_warning(tmp_path: Path) -> None:
    path = _stack(tmp_path, {"ocm-hb:allowTeardown": True})
    done = render("--config", str(path))
    assert done.returncode == 0
    assert "warning:" in done.stderr
    assert "did you mean ocm-hub:allowTeardown?" in done.stderr


SECRET_VALUES = {
    "ocm-hub:addons": {
        "clusterProxy": {
            "enabled": True,
            "values": {"proxyServer": {"entrypointAddress": {"secure": CIPHERTEXT}}},
        }
    }
}


def test_a_secret_helm_value_renders_as_secret(tmp_path: Path) -> None:
    path = _stack(tmp_path, SECRET_VALUES)
    raw = from_file(path)
    assert raw.secret_paths == {("addons", "clusterProxy", "values", "proxyServer", "entrypointAddress")}
    load(raw)
    done = render("--config", str(path))
    assert done.returncode == 0, done.stderr
    assert CIPHERTEXT not in done.stdout + done.stderr
    releases = [d for d in yaml.safe_load_all(done.stdout) if d["kind"] == "Release"]
    assert releases[0]["spec"]["values"] == "[secret]"


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"ocm-hub:allowTeardown": {"secure": CIPHERTEXT}}, "ocm-hub:allowTeardown"),
        ({"ocm-hub:registration": {"hubApiServer": {"secure": CIPHERTEXT}}}, "ocm-hub:registration.hubApiServer"),
        ({"ocm-hub:addons": {"repository": {"secure": CIPHERTEXT}}}, "ocm-hub:addons.repository"),
        ({"ocm-hub:imagePullSecrets": ["a", {"secure": CIPHERTEXT}]}, "ocm-hub:imagePullSecrets[1]"),
    ],
)
def test_a_secret_outside_helm_values_is_an_error_without_its_ciphertext(
    config: dict[str, Any], path: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(from_file(_stack(tmp_path, config)))
    assert f"{path}: is a secret (`secure:`); only values under addons.<addon>.values may be secret" in str(
        caught.value
    )
    assert CIPHERTEXT not in str(caught.value)


def test_the_engine_marks_a_secret_key_and_only_addons_may_be_one() -> None:
    load(RawConfig({"addons": {"clusterProxy": {"values": {"replicas": 2}}}}, frozenset({"addons"})))
    with pytest.raises(ConfigError) as caught:
        load(RawConfig({"allowTeardown": True}, frozenset({"allowTeardown"})))
    assert "ocm-hub:allowTeardown: is a secret" in str(caught.value)


def test_make_render_stdout_is_exactly_yaml() -> None:
    done = subprocess.run(
        ["make", "--no-print-directory", "render", "STACK=dev"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("---\n")
    assert all(isinstance(doc, dict) for doc in yaml.safe_load_all(done.stdout))
