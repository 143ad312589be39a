"""The klusterlet objects the provider applies are the release's vendored files plus the declared Changes."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from config.versions import OPERATOR_FILES, RELEASES, RELEASES_DIR, SAMPLE_FILES, Change, apply_changes
from providers import klusterlet as kl
from tests.conftest import changes_something

IMAGES = kl.Images("mirror.local/ocm/registration-operator:v9", "mirror.local/ocm/registration:v9", "w:9")
AGENTS = [
    kl.Agent("edge", "Default", IMAGES, "https://edge:6443"),
    kl.Agent("edge", "Hosted", IMAGES, "https://e:6443"),
]


def _vendored(version: str, relative: str) -> list[dict[str, Any]]:
    text = (RELEASES_DIR / version / "klusterlet" / relative).read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_operator_objects_are_upstream_plus_the_declared_changes(version: str) -> None:
    upstream = [doc for relative in OPERATOR_FILES["klusterlet"] for doc in _vendored(version, relative)]
    assert kl.operator_objects(IMAGES, version) == [apply_changes(d, kl.OPERATOR_CHANGES, IMAGES) for d in upstream]
    assert [o["kind"] for o in kl.operator_objects(IMAGES, version)] == [
        "CustomResourceDefinition",
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
    ]


@pytest.mark.parametrize("version", sorted(RELEASES))
def test_operator_runs_the_hub_image_and_sends_no_status(version: str) -> None:
    objects = kl.operator_objects(IMAGES, version)
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGES.operator
    assert all("status" not in o for o in objects)
    objects[0]["spec"] = {}
    assert kl.operator_objects(IMAGES, version)[0]["spec"]  # callers may not mutate the cached upstream docs


@pytest.mark.parametrize("version", sorted(RELEASES))
@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.mode)
def test_klusterlet_is_the_sample_plus_the_declared_changes(version: str, agent: kl.Agent) -> None:
    (sample,) = _vendored(version, SAMPLE_FILES["klusterlet"])
    assert kl.klusterlet(agent, version) == apply_changes(sample, kl.KLUSTERLET_CHANGES, agent)


@pytest.mark.parametrize(
    ("changes", "contexts", "component"),
    [
        (kl.OPERATOR_CHANGES, [IMAGES], "operator"),
        (kl.KLUSTERLET_CHANGES, AGENTS, "sample"),
    ],
)
def test_each_change_is_a_real_difference(
    changes: tuple[Change[Any], ...], contexts: list[Any], component: str
) -> None:
    for version in RELEASES:
        files = OPERATOR_FILES["klusterlet"] if component == "operator" else (SAMPLE_FILES["klusterlet"],)
        by_kind = {doc["kind"]: doc for relative in files for doc in _vendored(version, relative)}
        for change in changes:
            assert changes_something(change, by_kind[change.kind], contexts), f"{version}: {change.why}"


@pytest.mark.parametrize(
    ("mode", "name", "namespace"),
    [("Default", "klusterlet", "open-cluster-management-agent"), ("Hosted", "klusterlet-edge", "klusterlet-edge")],
)
def test_klusterlet_names_by_mode(mode: kl.Mode, name: str, namespace: str) -> None:
    cr = kl.klusterlet(kl.Agent("edge", mode, kl.Images("o:1", "r:1", "w:1"), "https://edge:6443"), "v1.3.1")
    assert cr["metadata"]["name"] == name == kl.klusterlet_name("edge", mode)
    assert kl.agent_namespace("edge", mode) == namespace
    assert cr["spec"]["deployOption"] == {"mode": mode}
    assert cr["spec"]["externalServerURLs"] == [{"url": "https://edge:6443"}]
    assert cr["spec"]["imagePullSpec"] == "o:1"
