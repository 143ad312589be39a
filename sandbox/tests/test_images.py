"""The image table: which built tool a container's image and command stand for, and which not."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox import images

BUILDS = {
    name: images.Build(Path(f"/cache/{name}"), version)
    for name, version in {
        "registration-operator": "v1.2.1",
        "registration": "v1.2.1",
        "work": "v1.2.1",
        "placement": "v1.2.1",
        "addon": "v1.2.1",
        "cluster-proxy-addon-manager": "v0.10.0",
        "cluster-proxy-addon-agent": "v0.10.0",
        "cluster-proxy": "v0.10.0",
        "proxy-server": "v0.33.0",
        "proxy-agent": "v0.33.0",
        "managed-serviceaccount": "v0.10.0",
        "cluster-gateway-addon-manager": "v1.9.0",
        "cluster-gateway": "v1.9.0",
        "vela-cluster-gateway": "v1.9.0-alpha.2",
        "vela-cluster-gateway-patch": "v1.9.0-alpha.2",
        "vela-core": "v1.9.13",
        "helloworld_helm": "v1.2.0",
    }.items()
}
OCM = "quay.io/open-cluster-management"


def resolve(image: str, command: list[str] | None = None, args: list[str] | None = None) -> images.Program | None:
    return images.resolve(image, command or [], args or [], BUILDS, images.IMAGES)


def test_ocm_names_its_binary_as_first_arg_and_runs_at_the_built_version() -> None:
    program = resolve(f"{OCM}/registration:v1.2.1", args=["/registration", "agent", "--cluster-name=x"])
    assert program is not None
    assert (program.tool, program.path, program.argv) == (
        "registration",
        "/registration",
        ("/registration", "agent", "--cluster-name=x"),
    )
    assert program.image_id == "sandbox://registration@v1.2.1"


def test_the_declared_stand_in_runs_the_built_version_and_says_so() -> None:
    program = resolve(f"{OCM}/work:v1.3.1", args=["/work", "agent"])
    assert program is not None
    assert program.image_id == "sandbox://work@v1.2.1"


@pytest.mark.parametrize(
    ("image", "args"),
    [
        (f"{OCM}/registration:v1.1.0", ["/registration", "agent"]),  # another version: another build
        (f"{OCM}/registration:v1.2.1", ["/server"]),  # in the image, but not built here
        (f"{OCM}/registration:v1.2.1", ["/work", "agent"]),  # not in that image
        (f"{OCM}/registration@sha256:{'0' * 64}", ["/registration"]),  # a digest pins what we cannot check
        ("quay.io/asmacdo/busybox:latest", ["sh"]),
        ("perl:5.34", ["perl"]),
        (f"{OCM}/cluster-proxy:v0.11.0", ["/manager"]),  # the chart's default tag, not the built release
    ],
)
def test_anything_else_is_not_ours(image: str, args: list[str]) -> None:
    assert resolve(image, args=args) is None


def test_one_image_many_binaries_chosen_by_command() -> None:
    image = f"{OCM}/cluster-proxy:v0.10.0"
    assert resolve(image, ["/proxy-server"], ["--server-count=1"]).tool == "proxy-server"  # type: ignore[union-attr]
    assert resolve(image, ["/agent"], ["--v=2"]).tool == "cluster-proxy-addon-agent"  # type: ignore[union-attr]
    assert resolve(image, ["/cluster-proxy", "service-proxy"]).argv == ("/cluster-proxy", "service-proxy")  # type: ignore[union-attr]


def test_an_image_without_command_runs_its_entrypoint_with_the_args() -> None:
    program = resolve("oamdev/cluster-gateway:v1.9.0", args=["apiserver", "--secure-port=9443"])
    assert program is not None
    assert (program.tool, program.argv) == ("cluster-gateway", ("/apiserver", "apiserver", "--secure-port=9443"))


def test_one_repository_two_versions_two_builds() -> None:
    alpha = resolve("docker.io/oamdev/cluster-gateway:v1.9.0-alpha.2", args=["--secure-port=9443"])
    assert alpha is not None
    assert alpha.tool == "vela-cluster-gateway"
    patch = resolve("oamdev/cluster-gateway:v1.9.0-alpha.2", ["/patch"], ["--secret-namespace=vela-system"])
    assert patch is not None
    assert patch.tool == "vela-cluster-gateway-patch"
    assert resolve("oamdev/cluster-gateway:v1.9.0", ["/patch"]) is None, "v1.9.0's /patch is not built"


def test_kubevela_entrypoint_script_puts_manager_before_flags() -> None:
    program = resolve("oamdev/vela-core:v1.9.13", args=["--metrics-addr=:8080", "--enable-leader-election"])
    assert program is not None
    assert program.argv == ("/usr/local/bin/manager", "--metrics-addr=:8080", "--enable-leader-election")
    assert resolve("oamdev/vela-core:v1.9.13").argv == ("/usr/local/bin/manager",)  # type: ignore[union-attr]  # CMD
    assert resolve("oamdev/vela-core:latest", args=["--x"]) is not None, "the chart's default names no version"
    assert resolve("oamdev/vela-core:v1.9.12", args=["--x"]) is None, "another version is another build"


def test_a_bare_command_is_looked_up_on_the_image_path() -> None:
    assert resolve("oamdev/vela-core:v1.9.13", ["manager"]).path == "/usr/local/bin/manager"  # type: ignore[union-attr]
    assert resolve("oamdev/vela-core:v1.9.13", ["bin/manager"]) is None, "relative paths are the working directory's"


def test_latest_names_no_version_and_is_whatever_is_built() -> None:
    program = resolve(f"{OCM}/addon-examples:latest", ["/helloworld_helm", "agent"])
    assert program is not None
    assert program.tool == "helloworld_helm"
    assert resolve(f"{OCM}/addon-examples", ["/helloworld_helm"]) is not None, "no tag is latest"
    assert resolve(f"{OCM}/addon-examples:v0.9.0", ["/helloworld_helm"]) is None


@pytest.mark.parametrize(
    ("reference", "parsed"),
    [
        ("busybox", ("busybox", "latest")),
        ("docker.io/library/busybox:1.36", ("busybox", "1.36")),
        ("index.docker.io/oamdev/vela-core:v1.9.13", ("oamdev/vela-core", "v1.9.13")),
        ("localhost:5000/x/y", ("localhost:5000/x/y", "latest")),
        ("localhost:5000/x/y:v1@sha256:abc", ("localhost:5000/x/y", "v1")),
        ("quay.io/a/b@sha256:abc", ("quay.io/a/b", None)),
    ],
)
def test_references_parse_as_a_runtime_reads_them(reference: str, parsed: tuple[str, str | None]) -> None:
    assert images.parse(reference) == parsed


def test_only_the_tools_that_run_make_an_image_ours() -> None:
    builds = images.builds(("registration",))
    assert images.resolve(f"{OCM}/registration:v1.2.1", [], ["/registration"], builds) is not None
    assert images.resolve(f"{OCM}/work:v1.2.1", [], ["/work"], builds) is None
    assert images.resolve(f"{OCM}/managed-serviceaccount:v0.10.0", ["/msa"], [], builds) is None


def test_every_tool_the_table_names_is_a_built_tool_with_a_pinned_version() -> None:
    builds = images.builds(tuple(images.tool_names()))
    named = {tool for image in images.IMAGES for tool in image.programs.values()}
    assert named <= set(builds)
    assert all(builds[tool].version.startswith("v") for tool in named)
    python = images.resolve(f"{images.PYTHON_IMAGE}:{images.python_tag()}", [], ["-c", "pass"], builds)
    assert python is not None
    assert python.argv[1:] == ("-c", "pass")
    assert Path(python.path).is_file(), "the runtime's test image runs this interpreter"
