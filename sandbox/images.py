"""The images the local kubelet runs: which built tool a container's image and command stand for.

A container is ours when its image's repository is in IMAGES, its tag names the version the tool was
built at (the pin in the tool's wrapper module, sandbox/tools.py) or no version at all (`latest`, as
OCM's upstream manifests and KubeVela's chart default name their images), and the program it starts
(its command, else the image's ENTRYPOINT, resolved on the image's PATH as a container runtime does)
is one the image carries. A tag naming another version is another build, not ours; a pod with no
container of ours stays kwok's simulated pod.

One stand-in is declared, each with its reason: OCM's v1.3.1 images run the v1.2.1 build (the Go
module proxy refuses the source of v1.3.1, and stacks in the suite still name it). The pod's
containerStatuses[].imageID always names the build that ran (`sandbox://<tool>@<version>`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sandbox import tools

DEFAULT_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
DOCKER_HUB_PREFIXES = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")
OCM_REPOSITORY = "quay.io/open-cluster-management"
# The runtime's own test image: the kubelet's Python interpreter, for the e2e tests of the runtime.
PYTHON_IMAGE = "sandbox.ocm-hub.io/python"
PYTHON = "python"
LATEST = "latest"  # names no version: whatever is built here


@dataclass(frozen=True)
class Image:
    """What one image holds: its programs by path, and what it starts when a container names none."""

    repository: str
    version_of: str  # the tool whose pinned version its tag must name
    programs: Mapping[str, str]  # absolute path in the image -> tool
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    # The ENTRYPOINT is a script that puts this word first when the first argument is a flag, then
    # execs its arguments (KubeVela's entrypoint.sh with `manager`).
    flag_command: str | None = None
    stands_in_for: tuple[str, ...] = ()  # other tags this build runs for (see the module docstring)


@dataclass(frozen=True)
class Build:
    """A binary the kubelet can start, at the version it was built at."""

    binary: Path
    version: str
    # Host directories the program needs at the same path in its root (an interpreter's prefix).
    binds: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Program:
    """A container resolved: the tool, where its binary sits in the container's root, its argv."""

    tool: str
    image: str
    path: str
    argv: tuple[str, ...]
    build: Build = field(compare=False)

    @property
    def image_id(self) -> str:
        return f"sandbox://{self.tool}@{self.build.version}"


def _ocm(name: str, program: str) -> Image:
    return Image(f"{OCM_REPOSITORY}/{name}", "registration", {f"/{program}": program}, stands_in_for=("v1.3.1",))


IMAGES: tuple[Image, ...] = (
    # open-cluster-management.io/ocm build/Dockerfile.*: one binary at / each, no ENTRYPOINT (the
    # Deployments name it as their first arg).
    Image(
        f"{OCM_REPOSITORY}/registration-operator",
        "registration",
        {"/registration-operator": "registration-operator"},
        stands_in_for=("v1.3.1",),
    ),
    _ocm("registration", "registration"),
    _ocm("work", "work"),
    _ocm("placement", "placement"),
    _ocm("addon-manager", "addon"),
    # cluster-proxy cmd/Dockerfile: its own three binaries and apiserver-network-proxy's two.
    Image(
        f"{OCM_REPOSITORY}/cluster-proxy",
        "cluster-proxy",
        {
            "/manager": "cluster-proxy-addon-manager",
            "/agent": "cluster-proxy-addon-agent",
            "/cluster-proxy": "cluster-proxy",
            "/proxy-server": "proxy-server",
            "/proxy-agent": "proxy-agent",
        },
    ),
    Image(f"{OCM_REPOSITORY}/managed-serviceaccount", "managed-serviceaccount", {"/msa": "managed-serviceaccount"}),
    # cluster-gateway cmd/*/Dockerfile: ENTRYPOINT is the binary; the apiserver image carries /patch too.
    Image(
        "oamdev/cluster-gateway-addon-manager",
        "cluster-gateway-addon-manager",
        {"/addon-manager": "cluster-gateway-addon-manager"},
        entrypoint=("/addon-manager",),
    ),
    Image("oamdev/cluster-gateway", "cluster-gateway", {"/apiserver": "cluster-gateway"}, entrypoint=("/apiserver",)),
    Image(
        "oamdev/cluster-gateway",
        "vela-cluster-gateway",
        {"/apiserver": "vela-cluster-gateway", "/patch": "vela-cluster-gateway-patch"},
        entrypoint=("/apiserver",),
    ),
    # KubeVela's hook Jobs' certgen: a stand-in on the original's module (hack/tools/kube-webhook-certgen/go.mod).
    Image(
        "oamdev/kube-webhook-certgen",
        "kube-webhook-certgen",
        {"/kube-webhook-certgen": "kube-webhook-certgen"},
        entrypoint=("/kube-webhook-certgen",),
        stands_in_for=("v2.4.1",),
    ),
    # kubevela Dockerfile: /usr/local/bin/manager, ENTRYPOINT entrypoint.sh, CMD manager.
    Image(
        "oamdev/vela-core",
        "vela-core",
        {"/usr/local/bin/manager": "vela-core"},
        cmd=("manager",),
        flag_command="manager",
    ),
    # addon-framework build/Dockerfile.example; OCM's e2e suite runs it as `latest`.
    Image(f"{OCM_REPOSITORY}/addon-examples", "helloworld_helm", {"/helloworld_helm": "helloworld_helm"}),
)


def _python_image() -> Image:
    interpreter = str(Path(sys.executable).resolve())
    return Image(PYTHON_IMAGE, PYTHON, {interpreter: PYTHON}, entrypoint=(interpreter,))


def table() -> tuple[Image, ...]:
    return (*IMAGES, _python_image())


def tool_names() -> list[str]:
    """Every tool an image of the table names."""
    return sorted({tool for image in IMAGES for tool in image.programs.values()})


@functools.cache
def builds(names: tuple[str, ...]) -> dict[str, Build]:
    """The named tools at their pinned versions, and the interpreter: what runs (an image whose tool
    is not among them is not ours)."""
    found = {tool.name: Build(tool.path(), tool.version()) for tool in tools.select(names)}
    prefix = Path(sys.base_prefix).resolve()
    binds = () if prefix == Path("/usr") else (prefix,)
    found[PYTHON] = Build(Path(sys.executable).resolve(), python_tag(), binds)
    return found


def python_tag() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def parse(reference: str) -> tuple[str, str | None]:
    """An image reference's repository (Docker Hub's prefixes dropped) and its tag: `latest` when
    there is none, None when only a digest pins it."""
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag: str | None = None
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    elif not digest:
        tag = LATEST
    for prefix in DOCKER_HUB_PREFIXES:
        if name.startswith(prefix):
            name = name.removeprefix(prefix).removeprefix("library/")
    return name, tag


def _image(reference: str, builds: Mapping[str, Build], images: Sequence[Image]) -> Image | None:
    repository, tag = parse(reference)
    for image in images:
        if image.repository != repository or tag is None or image.version_of not in builds:
            continue
        if tag in (builds[image.version_of].version, LATEST, *image.stands_in_for):
            return image
    return None


def _argv(image: Image, command: Sequence[str], args: Sequence[str]) -> list[str]:
    """What the runtime execs (Kubernetes' rules): command + args; else ENTRYPOINT + (args or CMD)."""
    if command:
        return [*command, *args]
    words = list(args or image.cmd)
    if image.flag_command is not None and words[:1] and words[0].startswith("-"):
        words.insert(0, image.flag_command)
    return [*image.entrypoint, *words]


def _lookup(image: Image, program: str) -> str | None:
    """The path a program name stands for in the image: absolute as given, else on the image's PATH."""
    if program.startswith("/"):
        path = str(PurePosixPath(program))
        return path if path in image.programs else None
    if "/" in program:
        return None
    return next((f"{d}/{program}" for d in DEFAULT_PATH if f"{d}/{program}" in image.programs), None)


def resolve(
    reference: str,
    command: Sequence[str],
    args: Sequence[str],
    builds: Mapping[str, Build],
    images: Sequence[Image] | None = None,
) -> Program | None:
    """The program a container of this image runs, when it is one of ours; None otherwise."""
    image = _image(reference, builds, images if images is not None else table())
    if image is None:
        return None
    argv = _argv(image, command, args)
    path = _lookup(image, argv[0]) if argv else None
    if path is None or image.programs[path] not in builds:
        return None
    tool = image.programs[path]
    return Program(tool, reference, path, (path, *argv[1:]), builds[tool])


def resolve_container(container: Mapping[str, object], builds: Mapping[str, Build]) -> Program | None:
    """resolve() for a pod's container object."""
    command = [str(word) for word in container.get("command") or []]  # type: ignore[attr-defined]
    args = [str(word) for word in container.get("args") or []]  # type: ignore[attr-defined]
    return resolve(str(container.get("image") or ""), command, args, builds)
