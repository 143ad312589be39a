"""Config validation: every bad input is rejected before any resource, naming its key path."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest

from config import ConfigError, RawConfig, StackConfig, from_file, from_pulumi, load
from config.quantity import parse_quantity
from ocmhub_testing.cases import BAD_CONFIGS, GOOD_IMAGE
from tests.conftest import PROJECT_DIR, STACKS, run_values, stack_file


def _ids() -> list[str]:
    return [f"{i:02d}-{path.removeprefix('ocm-hub:')}" for i, (_, path, _) in enumerate(BAD_CONFIGS)]


def test_bad_configs_are_distinct_and_numerous() -> None:
    assert len({json.dumps(values, sort_keys=True) for values, _, _ in BAD_CONFIGS}) == len(BAD_CONFIGS) >= 25


@pytest.mark.parametrize(("values", "path", "allowed"), BAD_CONFIGS, ids=_ids())
def test_bad_config_is_rejected_naming_the_key(values: dict[str, Any], path: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(RawConfig(values))
    message = str(caught.value)
    assert f"{path}:" in message
    assert allowed in message


@pytest.mark.parametrize(("values", "path", "allowed"), BAD_CONFIGS[::4], ids=_ids()[::4])
def test_bad_config_stops_the_program_before_any_resource(values: dict[str, Any], path: str, allowed: str) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_values(values)
    assert path in str(caught.value)


def test_bad_config_declares_nothing() -> None:
    from render import recording

    seen = recording.Recording()
    with pytest.raises(pulumi.RunError):
        seen = recording.run_main(RawConfig({"operator": {"replicas": -1}}))
    assert seen.resources == []


def test_a_malformed_hub_kubeconfig_stops_the_program_without_quoting_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML quotes the line it fails on; a kubeconfig's line may hold a token."""
    from pulumi.runtime.config import set_all_config

    from config import offline
    from render import recording

    monkeypatch.delenv(offline.ENV, raising=False)
    broken = "apiVersion: v1\nusers:\n- user: {token: hub-token-7f3a\n  oops: [\n"

    def program() -> None:
        set_all_config(
            {"ocm-hub:registration": json.dumps({"discover": True}), "kubernetes:kubeconfig": broken},
            ["kubernetes:kubeconfig"],
        )
        runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__")

    with pytest.raises(pulumi.RunError) as caught:
        recording.run(program)
    assert str(caught.value).startswith("kubernetes:kubeconfig: the hub kubeconfig is not valid YAML (line 4)")
    assert "hub-token-7f3a" not in str(caught.value)


def test_unknown_key_inside_a_list_item_lists_the_item_keys() -> None:
    with pytest.raises(ConfigError) as caught:
        load(RawConfig({"registration": {"clusters": [{"name": "a", "managedClusterNmae": "b"}]}}))
    assert (
        "ocm-hub:registration.clusters[0].managedClusterNmae: is not a known key; allowed here: allowInsecure, "
        "clusterSet, import, labels, managedClusterName, mode, name\n" in str(caught.value) + "\n"
    )


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        load(RawConfig({"operator": {"replicas": 0}, "images": {"tag": "a b"}, "bogus": 1}))
    assert len(caught.value.problems) == 3


def test_secret_values_never_appear_in_messages() -> None:
    with pytest.raises(ConfigError) as caught:
        load(RawConfig({"imagePullSecrets": ["Hunter2-Secret"]}, frozenset({"imagePullSecrets"})))
    assert "Hunter2" not in str(caught.value)
    assert "[secret]" in str(caught.value)


def test_defaults_are_upstream_defaults() -> None:
    cfg = load(RawConfig({}))
    assert cfg.ocm_version == "v1.3.1"
    assert cfg.operator.replicas == 3
    assert dict(cfg.operator.resources.requests) == {"cpu": "2m", "memory": "16Mi"}
    assert cfg.allow_teardown is False
    assert cfg.readiness_timeout == 600


def test_images_follow_registry_tag_and_overrides() -> None:
    cfg = load(
        RawConfig(
            {"images": {"registry": "mirror.local:5000/ocm", "tag": "v1.3.1-fix", "overrides": {"work": GOOD_IMAGE}}}
        )
    )
    images = cfg.all_images()
    assert images["registration"] == "mirror.local:5000/ocm/registration:v1.3.1-fix"
    assert images["addOnManager"] == "mirror.local:5000/ocm/addon-manager:v1.3.1-fix"
    assert images["work"] == GOOD_IMAGE
    assert all(":" in image.rsplit("/", 1)[1] for image in images.values())


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h30m", 5400), (45, 45), ("120", 120)])
def test_readiness_timeout_accepts_durations(text: str | int, seconds: int) -> None:
    assert load(RawConfig({"readinessTimeout": text})).readiness_timeout == seconds


@pytest.mark.parametrize(("text", "value"), [("2m", "0.002"), ("16Mi", "16777216"), ("1e3", "1000"), ("1.5", "1.5")])
def test_quantities_parse(text: str, value: str) -> None:
    assert str(parse_quantity(text).normalize()) == str(type(parse_quantity(text))(value).normalize())


@pytest.mark.parametrize("stack", STACKS)
def test_example_stacks_are_valid(stack: str) -> None:
    assert isinstance(load(from_file(stack_file(stack))), StackConfig)


def test_stack_file_values_arrive_as_the_engine_sends_them(tmp_path: Any) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  ocm-hub:allowTeardown: true\n  ocm-hub:readinessTimeout: 90\n  other:key: 1\n")
    raw = from_file(path)
    assert raw.values == {"allowTeardown": True, "readinessTimeout": "90"}
    cfg = load(raw)
    assert cfg.allow_teardown is True
    assert cfg.readiness_timeout == 90


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ("- config:\n    ocm-hub:allowTeardown: true\n", "top level is a list"),
        ("just a string\n", 'top level is a scalar ("just a string")'),
        ("42\n", "top level is a scalar (42)"),
        ("config:\n  - ocm-hub:allowTeardown\n", "`config` must be a mapping, not a list"),
    ],
)
def test_a_stack_file_that_is_not_a_mapping_is_refused_naming_the_file(tmp_path: Path, text: str, refused: str) -> None:
    """Pulumi refuses to load such a file; rendering the defaults instead would review a stack nobody wrote."""
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        from_file(path)
    assert str(path) in str(caught.value)
    assert refused in str(caught.value)


def test_an_empty_stack_file_has_no_config(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("")
    assert from_file(path).values == {}


def test_secure_values_in_stack_files_are_masked(tmp_path: Any) -> None:
    path = tmp_path / "Pulumi.x.yaml"
    path.write_text("config:\n  ocm-hub:imagePullSecrets:\n    secure: v1:abc\n")
    raw = from_file(path)
    assert raw.secret_keys == {"imagePullSecrets"}
    with pytest.raises(ConfigError) as caught:
        load(raw)
    assert "v1:abc" not in str(caught.value)


def test_runtime_config_is_read_from_the_engine() -> None:
    from pulumi.runtime.config import set_all_config

    set_all_config(
        {"ocm-hub:operator": json.dumps({"replicas": 2}), "ocm-hub:ocmVersion": "v1.3.1", "kubernetes:context": "x"},
        ["ocm-hub:operator"],
    )
    raw = from_pulumi()
    assert raw.values == {"operator": {"replicas": 2}, "ocmVersion": "v1.3.1"}
    assert raw.secret_keys == {"operator"}
