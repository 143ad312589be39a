"""The klusterlet objects the provider applies are upstream's, byte for byte, with only our image."""

from __future__ import annotations

import pytest

from providers import klusterlet as kl
from tests.conftest import SHARED_DIR

UPSTREAM = SHARED_DIR / "ocm/v1.3.1/operator/klusterlet/config"
FILES = {
    "crd.yaml": "crds/0000_00_operator.open-cluster-management.io_klusterlets.crd.yaml",
    "namespace.yaml": "operator/namespace.yaml",
    "service_account.yaml": "operator/service_account.yaml",
    "operator.yaml": "operator/operator.yaml",
    "cluster_role.yaml": "rbac/cluster_role.yaml",
    "cluster_role_binding.yaml": "rbac/cluster_role_binding.yaml",
}


@pytest.mark.parametrize(("shipped", "upstream"), FILES.items())
def test_shipped_klusterlet_files_equal_upstream(shipped: str, upstream: str) -> None:
    assert (kl.DATA_DIR / "v1.3.1" / "klusterlet" / shipped).read_bytes() == (UPSTREAM / upstream).read_bytes()


def test_operator_objects_carry_our_image_and_one_replica() -> None:
    images = kl.Images("mirror.local/ocm/registration-operator:v1.3.1", "r:1", "w:1")
    objects = kl.operator_objects(images)
    assert [o["kind"] for o in objects] == [
        "CustomResourceDefinition",
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
    ]
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == images.operator
    assert all("status" not in o for o in objects)
    assert kl.operator_objects(images) is not objects  # callers may not mutate the cached upstream docs


@pytest.mark.parametrize(
    ("mode", "name", "namespace"),
    [("Default", "klusterlet", "open-cluster-management-agent"), ("Hosted", "klusterlet-edge", "klusterlet-edge")],
)
def test_klusterlet_names_by_mode(mode: kl.Mode, name: str, namespace: str) -> None:
    cr = kl.klusterlet("edge", mode, kl.Images("o:1", "r:1", "w:1"), "https://edge:6443")
    assert cr["metadata"]["name"] == name == kl.klusterlet_name("edge", mode)
    assert kl.agent_namespace("edge", mode) == namespace
    assert cr["spec"]["deployOption"] == {"mode": mode}
    assert cr["spec"]["externalServerURLs"] == [{"url": "https://edge:6443"}]
