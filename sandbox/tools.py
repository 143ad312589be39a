"""Build the end-to-end tools from pinned Go modules: Kubernetes control plane, etcd, kwok, the
Pulumi CLI with its Python language host, the pulumi-kubernetes provider plugin, OCM's operator
and agents, the three addons' binaries (ADDON_TOOLS), KubeVela's (VELA_TOOLS), and OCM's e2e suite
with Helm (CONFORMANCE_TOOLS), grouped so that a caller builds only what it runs.

Each tool is built once per machine from a wrapper module in hack/tools/<module>/, whose go.mod is
the single source of truth for its version; binaries go to a cache outside the repository, keyed
by version, so a version bump rebuilds and everything else is reused.

    python -m sandbox.tools [--only NAME ...]   build what is missing, print where each binary is
    python -m sandbox.tools --print-paths       print a JSON map tool -> binary path, no build
    python -m sandbox.tools --print-env         print `export` lines that make a shell run the
                                                built Pulumi CLI offline (PATH, PULUMI_HOME, ...)

How long each build takes on 2 cores, cold (the Go module cache empty): BUILD_SECONDS below.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLS_DIR = REPO_ROOT / "hack" / "tools"
HEARTBEAT_SECONDS = 30
PULUMI_VERSION_PACKAGE = "github.com/pulumi/pulumi/sdk/v3/go/common/version"


@dataclass(frozen=True)
class Tool:
    """A binary built from one package of a module required by a wrapper module."""

    name: str
    wrapper: str
    module: str
    package: str
    ldflags: Callable[[str], list[str]]
    # Files from the module's source installed beside the binary, as distributions do (scripts
    # the binary runs from its own directory).
    extras: tuple[str, ...] = ()
    # Module path patterns (GONOSUMDB) the checksum database does not know: go.sum alone pins them.
    nosumdb: tuple[str, ...] = ()
    # Writes what the wrapper's own main package needs beside it (generated, never committed) into
    # the build directory it is given; the package is then built there.
    prepare: Callable[[Tool, Path], None] | None = None
    # `package` is a test package, built as its test binary (`go test -c`) rather than a main package.
    test: bool = False

    @property
    def wrapper_dir(self) -> Path:
        return TOOLS_DIR / self.wrapper

    def version(self) -> str:
        """Read the pinned version from the wrapper's go.mod, so it is declared only there."""
        gomod = (self.wrapper_dir / "go.mod").read_text(encoding="utf-8")
        match = re.search(rf"^\s*(?:require[ \t]+)?{re.escape(self.module)}[ \t]+(v\S+)", gomod, re.MULTILINE)
        if match is None:
            raise SystemExit(f"{self.module} is not required in {self.wrapper_dir / 'go.mod'}")
        return match.group(1)

    def path(self) -> Path:
        return cache_dir() / "bin" / f"{self.name}-{self.version()}" / self.name


def _kube_ldflags(version: str) -> list[str]:
    """Stamp the release the way Kubernetes' own build does, so /version reports it."""
    major, minor = version.removeprefix("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return flags


def _pulumi_ldflags(version: str) -> list[str]:
    """Without the stamp the CLI and language host call themselves dev builds of no version."""
    return [f"-X {PULUMI_VERSION_PACKAGE}.Version={version}"]


def _no_ldflags(_version: str) -> list[str]:
    return []


def _ocm_ldflags(version: str) -> list[str]:
    """Stamp the release as OCM's Makefile does, so the components log the version they run."""
    major, minor = version.removeprefix("v").split(".")[:2]
    pkg = "open-cluster-management.io/ocm/pkg/version"
    return [f"-X {pkg}.versionFromGit={version}", f"-X {pkg}.majorFromGit={major}", f"-X {pkg}.minorFromGit={minor}"]


def _vela_ldflags(version: str) -> list[str]:
    """Stamp the release as KubeVela's Makefile does: `vela install` installs vela-core at the CLI's version."""
    return [f"-X github.com/oam-dev/kubevela/version.VelaVersion={version}"]


def _helm_ldflags(version: str) -> list[str]:
    """Stamp as Helm's Makefile does: the release, and the Kubernetes minor of its client-go (the
    default `.Capabilities.KubeVersion`)."""
    gomod = (TOOLS_DIR / "helm" / "go.mod").read_text(encoding="utf-8")
    match = re.search(r"^\s*k8s\.io/client-go v0\.(\d+)\.", gomod, re.MULTILINE)
    if match is None:
        raise SystemExit(f"k8s.io/client-go is not required in {TOOLS_DIR / 'helm' / 'go.mod'}")
    pkg = "helm.sh/helm/v3"
    flags = [f"-X {pkg}/internal/version.version={version}", f"-X {pkg}/internal/version.gitTreeState=clean"]
    for capabilities in (f"{pkg}/pkg/lint/rules", f"{pkg}/pkg/chartutil"):
        flags += [f"-X {capabilities}.k8sVersionMajor=1", f"-X {capabilities}.k8sVersionMinor={match.group(1)}"]
    return flags


KUBERNETES_PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4"
# The language host of YAML programs (the platform program composing OcmHub through the package).
YAML_HOST = "pulumi-language-yaml"
# pkg/v3's SDK generators as a language plugin serving GeneratePackage (hack/tools/pulumi-sdkgen/go.mod says why).
SDKGEN = "pulumi-sdkgen"


def _yaml_ldflags(version: str) -> list[str]:
    """The host reports it to the engine (GetPluginInfo); unstamped it has no version."""
    return [f"-X github.com/pulumi/pulumi-yaml/pkg/version.Version={version}"]


def _kubernetes_provider_ldflags(version: str) -> list[str]:
    """The provider reports this through GetPluginInfo and its user agent: the source it was built from."""
    return [f"-X {KUBERNETES_PROVIDER_MODULE}/pkg/version.Version={version.removeprefix('v')}"]


def _kubernetes_provider_embeds(tool: Tool, build_dir: Path) -> None:
    """Produce the two files upstream's main embeds, as its generate.go does at release time.

    They are not in the module zip; schema.json and terraform-mapping.json are: the schema gets its
    `version` set, the mapping is re-serialised compactly.
    """
    source = module_dir(tool) / "cmd" / "pulumi-resource-kubernetes"
    schema = json.loads((source / "schema.json").read_text(encoding="utf-8"))
    schema["version"] = tool.version().removeprefix("v")
    mapping = json.loads((source / "terraform-mapping.json").read_text(encoding="utf-8"))
    (build_dir / "schema-embed.json").write_text(json.dumps(schema, separators=(",", ":")), encoding="utf-8")
    (build_dir / "terraform-mapping-embed.json").write_text(
        json.dumps(mapping, separators=(",", ":")), encoding="utf-8"
    )


# OCM's operator and agents (open-cluster-management.io/ocm/cmd/<name>), which
# the local clusters' kubelet (sandbox/kubelet.py) runs as processes.
OCM_TOOLS = ("registration-operator", "registration", "work", "placement", "addon")
# sum.golang.org answers 404 for these, so the first fetch is verified by nothing but go.sum after it.
OCM_NOSUMDB = ("open-cluster-management.io", "sigs.k8s.io/about-api")
# OCM's own e2e suite (open-cluster-management.io/ocm/test/e2e), a test binary.
OCM_E2E = "ocm-e2e"
CLUSTER_PROXY = "open-cluster-management.io/cluster-proxy"
ANP = "sigs.k8s.io/apiserver-network-proxy"
MSA = "open-cluster-management.io/managed-serviceaccount"
GATEWAY = "github.com/oam-dev/cluster-gateway"
KUBEVELA = "github.com/oam-dev/kubevela"


TOOLS: tuple[Tool, ...] = (
    *(
        Tool(name, "kubernetes", "k8s.io/kubernetes", f"k8s.io/kubernetes/cmd/{name}", _kube_ldflags)
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
    ),
    Tool("etcd", "etcd", "go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/server/v3", _no_ldflags),
    Tool("kwok", "kwok", "sigs.k8s.io/kwok", "sigs.k8s.io/kwok/cmd/kwok", _no_ldflags),
    Tool("kwokctl", "kwok", "sigs.k8s.io/kwok", "sigs.k8s.io/kwok/cmd/kwokctl", _no_ldflags),
    Tool(
        "pulumi",
        "pulumi",
        "github.com/pulumi/pulumi/pkg/v3",
        "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        _pulumi_ldflags,
    ),
    Tool(
        "pulumi-language-python",
        "pulumi-language-python",
        "github.com/pulumi/pulumi/sdk/v3",
        "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python",
        _pulumi_ldflags,
        extras=(
            "python/cmd/pulumi-language-python-exec",
            "python/dist/pulumi-resource-pulumi-python",
            "python/dist/pulumi-analyzer-policy-python",
        ),
    ),
    Tool(
        YAML_HOST,
        "pulumi-yaml",
        "github.com/pulumi/pulumi-yaml",
        "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml",
        _yaml_ldflags,
    ),
    Tool(SDKGEN, "pulumi-sdkgen", "github.com/pulumi/pulumi/pkg/v3", ".", _pulumi_ldflags),
    Tool(
        "pulumi-resource-kubernetes",
        "pulumi-kubernetes",
        KUBERNETES_PROVIDER_MODULE,
        ".",
        _kubernetes_provider_ldflags,
        prepare=_kubernetes_provider_embeds,
    ),
    *(
        Tool(
            name,
            "ocm",
            "open-cluster-management.io/ocm",
            f"open-cluster-management.io/ocm/cmd/{name}",
            _ocm_ldflags,
            nosumdb=OCM_NOSUMDB,
        )
        for name in OCM_TOOLS
    ),
    Tool(
        OCM_E2E,
        "ocm",
        "open-cluster-management.io/ocm",
        "open-cluster-management.io/ocm/test/e2e",
        _no_ldflags,
        nosumdb=OCM_NOSUMDB,
        test=True,
    ),
    *(
        Tool(f"cluster-proxy{suffix}", "cluster-proxy", CLUSTER_PROXY, f"{CLUSTER_PROXY}/cmd/{cmd}", _no_ldflags)
        for suffix, cmd in (("-addon-manager", "addon-manager"), ("-addon-agent", "addon-agent"), ("", "cluster-proxy"))
    ),
    *(
        Tool(f"proxy-{cmd}", "apiserver-network-proxy", ANP, f"{ANP}/cmd/{cmd}", _no_ldflags)
        for cmd in ("server", "agent")
    ),
    Tool("managed-serviceaccount", "managed-serviceaccount", MSA, f"{MSA}/cmd", _no_ldflags),
    Tool("cluster-gateway-addon-manager", "cluster-gateway", GATEWAY, f"{GATEWAY}/cmd/addon-manager", _no_ldflags),
    Tool("cluster-gateway", "cluster-gateway", GATEWAY, f"{GATEWAY}/cmd/apiserver", _no_ldflags),
    Tool("vela-cluster-gateway", "vela-cluster-gateway", GATEWAY, f"{GATEWAY}/cmd/apiserver", _no_ldflags),
    Tool("vela-cluster-gateway-patch", "vela-cluster-gateway", GATEWAY, f"{GATEWAY}/hack/patch", _no_ldflags),
    # The hook Jobs' certificate tool: a stand-in built on the original's module (its go.mod says why).
    Tool("kube-webhook-certgen", "kube-webhook-certgen", "github.com/jet/kube-webhook-certgen", ".", _no_ldflags),
    Tool("vela-core", "kubevela", KUBEVELA, f"{KUBEVELA}/cmd/core", _vela_ldflags),
    Tool("vela", "vela-cli", KUBEVELA, f"{KUBEVELA}/references/cmd/cli", _vela_ldflags),
    Tool("helm", "helm", "helm.sh/helm/v3", "helm.sh/helm/v3/cmd/helm", _helm_ldflags),
    Tool(
        "helloworld_helm",
        "addon-examples",
        "open-cluster-management.io/addon-framework",
        "open-cluster-management.io/addon-framework/cmd/example/helloworld_helm",
        _no_ldflags,
    ),
)
TOOL_NAMES = tuple(tool.name for tool in TOOLS)
PULUMI_TOOLS = ("pulumi", "pulumi-language-python")
KUBERNETES_PLUGIN = "pulumi-resource-kubernetes"
# What `make up` needs to run the stack; the cluster tools come on top when it starts local clusters.
UP_TOOLS = (*PULUMI_TOOLS, KUBERNETES_PLUGIN)
# The three addons' managers and agents: cluster-proxy's image (its own binaries and
# apiserver-network-proxy's), managed-serviceaccount's, cluster-gateway's addon manager and gateway.
ADDON_TOOLS = (
    "cluster-proxy-addon-manager",
    "cluster-proxy-addon-agent",
    "cluster-proxy",
    "proxy-server",
    "proxy-agent",
    "managed-serviceaccount",
    "cluster-gateway-addon-manager",
    "cluster-gateway",
)
# KubeVela as its chart installs it (vela-core, its gateway, the hook Jobs' certgen and the gateway's
# /patch) and its CLI.
VELA_TOOLS = ("vela-core", "vela", "vela-cluster-gateway", "vela-cluster-gateway-patch", "kube-webhook-certgen")
# OCM's own e2e suite, Helm for OCM's own charts, and the addon agent the suite deploys.
CONFORMANCE_TOOLS = (OCM_E2E, "helm", "helloworld_helm")
# What `make e2e-tools` builds: everything but `make conformance`'s own (it builds them when run).
E2E_TOOLS = tuple(name for name in TOOL_NAMES if name not in CONFORMANCE_TOOLS)
# Cold build seconds on 2 cores, measured in one cold `.ci/run` (6 Dec 2026: empty Go module and build
# caches; all 33 in 2,088 s), in TOOLS order: a tool reuses what the ones before it compiled, so one
# built alone may take longer. Said before each build, and summed for what a run will build.
BUILD_SECONDS = {
    "kube-apiserver": 219,
    "kube-controller-manager": 58,
    "kube-scheduler": 5,
    "kubectl": 25,
    "etcd": 21,
    "kwok": 77,
    "kwokctl": 12,
    "pulumi": 196,
    "pulumi-language-python": 15,
    YAML_HOST: 34,
    SDKGEN: 3,
    KUBERNETES_PLUGIN: 371,
    "registration-operator": 191,
    "registration": 6,
    "work": 4,
    "placement": 4,
    "addon": 4,
    OCM_E2E: 44,
    "cluster-proxy-addon-manager": 69,
    "cluster-proxy-addon-agent": 2,
    "cluster-proxy": 6,
    "proxy-server": 44,
    "proxy-agent": 3,
    "managed-serviceaccount": 69,
    "cluster-gateway-addon-manager": 94,
    "cluster-gateway": 8,
    "vela-cluster-gateway": 81,
    "vela-cluster-gateway-patch": 3,
    "kube-webhook-certgen": 29,
    "vela-core": 149,
    "vela": 110,
    "helm": 54,
    "helloworld_helm": 78,
}


def estimate(names: Iterable[str]) -> str:
    """How long building these takes cold, as said to a user: `about 12 min`, `under a minute`."""
    minutes = round(sum(BUILD_SECONDS[name] for name in names) / 60)
    return f"about {minutes} min" if minutes else "under a minute"


def cache_dir() -> Path:
    """Keep binaries out of the repository, shared by every checkout on the machine."""
    root = os.environ.get("OCM_HUB_CACHE") or str(Path.home() / ".cache" / "ocm-hub")
    return Path(root) / "e2e"


def select(names: Iterable[str] | None = None) -> list[Tool]:
    wanted = set(names) if names else set(TOOL_NAMES)
    unknown = wanted - set(TOOL_NAMES)
    if unknown:
        raise SystemExit(f"unknown tool(s) {sorted(unknown)}; known: {', '.join(TOOL_NAMES)}")
    return [tool for tool in TOOLS if tool.name in wanted]


def paths(names: Iterable[str] | None = None) -> dict[str, Path]:
    return {tool.name: tool.path() for tool in select(names)}


def missing(names: Iterable[str] | None = None) -> list[str]:
    return [tool.name for tool in select(names) if not tool.path().is_file()]


def _go_env(tool: Tool) -> dict[str, str]:
    """Never fetch another Go toolchain; ignore any go.work and this repository's git state."""
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOWORK": "off", "GOFLAGS": "-mod=readonly -buildvcs=false"}
    if tool.nosumdb:
        env["GONOSUMDB"] = ",".join(tool.nosumdb)
    return env


def _check_staging_pins(tool: Tool) -> None:
    """k8s.io/kubernetes vX.Y.Z needs its staging modules at v0.Y.Z: a bump must move both."""
    expected = "v0." + tool.version().removeprefix("v1.")
    gomod = (tool.wrapper_dir / "go.mod").read_text(encoding="utf-8")
    stale = [line.strip() for line in gomod.splitlines() if "=> k8s.io/" in line and not line.endswith(expected)]
    if stale:
        raise SystemExit(f"{tool.wrapper_dir / 'go.mod'}: staging modules not at {expected}: {stale}")


def module_dir(tool: Tool) -> Path:
    """Where Go unpacked the pinned module, to copy the extras from exactly the source built.

    Downloaded first: before its build (a prepare step) a fresh module cache does not hold it, and
    `go list` then names no directory."""
    env = _go_env(tool)
    subprocess.run(["go", "mod", "download", tool.module], cwd=tool.wrapper_dir, env=env, check=True)
    cmd = ["go", "list", "-m", "-f", "{{.Dir}}", tool.module]
    out = subprocess.run(cmd, cwd=tool.wrapper_dir, env=env, capture_output=True, text=True, check=True)
    if not out.stdout.strip():
        raise SystemExit(f"go did not unpack {tool.module} for {tool.name} (in {tool.wrapper_dir})")
    return Path(out.stdout.strip())


def _install_extras(tool: Tool) -> None:
    source = module_dir(tool)
    for extra in tool.extras:
        target = tool.path().parent / Path(extra).name
        shutil.copyfile(source / extra, target)
        target.chmod(0o755)


def _build_dir(tool: Tool) -> Path:
    """The wrapper module itself, or for a tool with generated sources a copy of it in the cache."""
    if tool.prepare is None:
        return tool.wrapper_dir
    build_dir = cache_dir() / "src" / f"{tool.name}-{tool.version()}"
    shutil.rmtree(build_dir, ignore_errors=True)
    shutil.copytree(tool.wrapper_dir, build_dir)
    tool.prepare(tool, build_dir)
    return build_dir


def build(tool: Tool) -> float:
    """Build into a temporary name and rename, so an interrupted build never counts as done.

    Extras go in first: the binary's presence is what marks the whole install complete.
    """
    if tool.module == "k8s.io/kubernetes":
        _check_staging_pins(tool)
    target = tool.path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    ldflags = " ".join(["-s", "-w", *tool.ldflags(tool.version())])
    cmd = ["go", *(["test", "-c"] if tool.test else ["build"]), "-trimpath", "-ldflags", ldflags]
    cmd += ["-o", str(partial), tool.package]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=_build_dir(tool), env=_go_env(tool))
    while True:  # go build is silent for minutes: show it is alive
        try:
            returncode = proc.wait(timeout=HEARTBEAT_SECONDS)
            break
        except subprocess.TimeoutExpired:
            print(
                f"[tools]   still building {tool.name} ({time.monotonic() - started:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
    if returncode != 0:
        partial.unlink(missing_ok=True)
        raise SystemExit(f"building {tool.name} failed (exit {returncode}): {' '.join(cmd)}")
    _install_extras(tool)
    partial.replace(target)
    return time.monotonic() - started


def ensure(names: Iterable[str] | None = None) -> dict[str, Path]:
    """Build the selected tools that are not in the cache yet; return every selected path."""
    tools = select(names)
    todo = [tool for tool in tools if not tool.path().is_file()]
    started = time.monotonic()
    if todo:
        print(
            f"[tools] building {len(todo)} tool(s) from Go modules into {cache_dir()}: "
            f"{estimate(tool.name for tool in todo)} on 2 cores when nothing is cached yet (once per version; "
            "later runs reuse them)",
            file=sys.stderr,
            flush=True,
        )
    for index, tool in enumerate(todo, 1):
        print(
            f"[tools] ({index}/{len(todo)}) building {tool.name} {tool.version()} ({estimate([tool.name])}) ...",
            file=sys.stderr,
            flush=True,
        )
        elapsed = build(tool)
        print(
            f"[tools] ({index}/{len(todo)}) built {tool.name} in {elapsed:.0f}s -> {tool.path()}",
            file=sys.stderr,
            flush=True,
        )
    if todo:
        print(f"[tools] built {len(todo)} tool(s) in {time.monotonic() - started:.0f}s", file=sys.stderr, flush=True)
    names = {tool.name for tool in tools}
    # The installs below are quick when nothing changed; they say where things went only after a build.
    if set(PULUMI_TOOLS) <= names:
        root = install_pulumi_root()
        if todo:
            print(f"[tools] Pulumi install root: {root}", file=sys.stderr, flush=True)
    if set(UP_TOOLS) <= names:
        install_kubernetes_plugin()
    if {*PULUMI_TOOLS, YAML_HOST} <= names:
        host = install_yaml_host()
        if todo:
            print(f"[tools] YAML language host: {host}", file=sys.stderr, flush=True)
    return {tool.name: tool.path() for tool in tools}


def pulumi_root() -> Path:
    """A Pulumi install root laid out like the official one: bin/ holds the CLI and, beside it, the
    language host with its scripts. The CLI looks for language hosts next to itself first (without
    a warning), and the Automation API takes such a root (`PulumiCommand(root=...)`)."""
    cli, host = select(PULUMI_TOOLS)
    return cache_dir() / "pulumi" / f"{cli.version()}-python-{host.version()}"


_installing_depth = 0


@contextlib.contextmanager
def _installing() -> Iterator[None]:
    """One installer at a time in the shared cache (parallel e2e workers, `make up` beside them);
    re-entrant, as one install calls another."""
    global _installing_depth
    if _installing_depth:
        _installing_depth += 1
        try:
            yield
        finally:
            _installing_depth -= 1
        return
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _installing_depth = 1
        try:
            yield
        finally:
            _installing_depth = 0


def _one_installer(install: Callable[[], Path]) -> Callable[[], Path]:
    @functools.wraps(install)
    def locked() -> Path:
        with _installing():
            return install()

    return locked


@_one_installer
def install_pulumi_root() -> Path:
    """Hard-link (or copy) the built files into pulumi_root()/bin; the CLI goes last, marking it done.

    Links, not symlinks: Go programs find their neighbours through /proc/self/exe, which resolves
    symlinks to the build cache directory.
    """
    cli, host = select(PULUMI_TOOLS)
    bin_dir = pulumi_root() / "bin"
    if (bin_dir / cli.name).is_file():
        return pulumi_root()
    bin_dir.mkdir(parents=True, exist_ok=True)
    for source in [host.path(), *(host.path().parent / Path(extra).name for extra in host.extras), cli.path()]:
        _link(source, bin_dir / source.name)
    return pulumi_root()


def _link(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@_one_installer
def install_yaml_host() -> Path:
    """Link the YAML language host beside the CLI, where the CLI looks for `runtime: yaml` first.

    Not part of pulumi_root()'s name: the root is the CLI's and the Python host's, and a YAML host
    of another version replaces this link in place.
    """
    built = select([YAML_HOST])[0].path()
    target = install_pulumi_root() / "bin" / YAML_HOST
    if not (target.is_file() and _same_bytes(built, target)):
        _link(built, target)
    return target


@_one_installer
def install_sdkgen_root() -> Path:
    """An install root for `pulumi package gen-sdk`: the CLI with pulumi-sdkgen beside it as the Node.js
    and Python language hosts (the real Python host would be found first in pulumi_root())."""
    cli, sdkgen = select(["pulumi", SDKGEN])
    root = cache_dir() / "pulumi" / f"{cli.version()}-sdkgen-{sdkgen.version()}"
    bin_dir = root / "bin"
    if not (bin_dir / cli.name).is_file():  # the CLI goes last, marking it done
        bin_dir.mkdir(parents=True, exist_ok=True)
        for language in ("nodejs", "python"):
            _link(sdkgen.path(), bin_dir / f"pulumi-language-{language}")
        _link(cli.path(), bin_dir / cli.name)
    return root


def kubernetes_sdk_version() -> str:
    """The plugin version the pinned pulumi_kubernetes SDK asks the engine for (requirements.txt)."""
    requirements = (REPO_ROOT / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(r"^pulumi-kubernetes==(\S+)", requirements, re.MULTILINE)
    if match is None:
        raise SystemExit("requirements.txt does not pin pulumi-kubernetes")
    return match.group(1)


def kubernetes_plugin_path() -> Path:
    """Where the engine looks for the plugin the SDK asks for."""
    version = kubernetes_sdk_version()
    return pulumi_home() / "plugins" / f"resource-kubernetes-v{version}" / KUBERNETES_PLUGIN


@_one_installer
def install_kubernetes_plugin() -> Path:
    """Install the built provider under the version the SDK asks for, with the CLI's own command.

    The SDK's version is what the engine loads by; the binary itself reports the source it was built
    from (GetPluginInfo). Re-installed whenever the installed file is not the cached build.
    """
    built = select([KUBERNETES_PLUGIN])[0].path()
    installed = kubernetes_plugin_path()
    if _installed_from(installed, built):
        return installed
    cli = str(install_pulumi_root() / "bin" / "pulumi")
    env = {**os.environ, **pulumi_env()}
    version = kubernetes_sdk_version()
    if installed.parent.exists():  # `plugin install` keeps whatever is there: a broken install goes first
        remove = [cli, "plugin", "rm", "resource", "kubernetes", version, "--yes"]
        subprocess.run(remove, env=env, check=True, stdout=subprocess.DEVNULL)
    cmd = [cli, "plugin", "install", "resource", "kubernetes", version, "--file", str(built)]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    if not _installed_from(installed, built):  # also records the match, so the next run reads no bytes
        raise SystemExit(f"`pulumi plugin install` left {installed} different from the build {built}")
    print(f"[tools] kubernetes plugin {version} installed from the build: {installed}", file=sys.stderr)
    return installed


def _installed_from(installed: Path, built: Path) -> bool:
    """Whether `installed` holds the bytes of `built`. Comparing the 400 MB plugin took half a second of
    every `make up`: a match is recorded with both files' identities (inode, size, mtime), and while
    they are unchanged the bytes are not read again."""
    if not (installed.is_file() and built.is_file()):
        return False
    stamp = installed.with_name(f"{installed.name}.ocm-hub-build")
    identity = json.dumps([_identity(installed), _identity(built)])
    with contextlib.suppress(OSError):
        if stamp.read_text(encoding="utf-8") == identity:
            return True
    if installed.stat().st_size != built.stat().st_size or not _same_bytes(installed, built):
        return False
    stamp.write_text(identity, encoding="utf-8")
    return True


def _identity(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _same_bytes(a: Path, b: Path) -> bool:
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            chunk_a, chunk_b = fa.read(1 << 20), fb.read(1 << 20)
            if chunk_a != chunk_b:
                return False
            if not chunk_a:
                return True


def pulumi_home() -> Path:
    """The built CLI's own PULUMI_HOME: its plugins and credentials never mix with ~/.pulumi."""
    return cache_dir() / "pulumi-home"


def pulumi_env(python: Path = REPO_ROOT / ".venv" / "bin" / "python") -> dict[str, str]:
    """Environment for running the built Pulumi CLI on this machine, offline.

    - PATH: pulumi_root()/bin, the CLI with the language host and its scripts beside it.
    - PULUMI_PYTHON_CMD: the language host built here predates runtime options passed over gRPC
      (the engine no longer passes `virtualenv` on its command line), so name the interpreter.
    - No update checks and no plugin downloads: a missing plugin is an error, never a fetch.
    """
    return {
        "PATH": os.pathsep.join([str(pulumi_root() / "bin"), os.environ.get("PATH", "")]),
        "PULUMI_HOME": str(pulumi_home()),
        "PULUMI_PYTHON_CMD": str(python),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        "--only",
        action="extend",
        nargs="+",
        choices=TOOL_NAMES,
        metavar="NAME",
        help=f"only these tools (default: all but make conformance's own): {', '.join(TOOL_NAMES)}",
    )
    parser.add_argument(
        "--print-paths", action="store_true", help="print a JSON map tool -> binary path without building"
    )
    parser.add_argument(
        "--print-env",
        action="store_true",
        help="print `export` lines for running the built Pulumi CLI offline (exit 1 if it is not built)",
    )
    args = parser.parse_args(argv)
    if args.print_paths:
        print(json.dumps({name: str(path) for name, path in paths(args.only).items()}, indent=2))
        return 0
    if args.print_env:
        if missing(PULUMI_TOOLS):
            print(f"[tools] not built yet: {missing(PULUMI_TOOLS)}; run `make e2e-tools`", file=sys.stderr)
            return 1
        install_pulumi_root()
        for key, value in pulumi_env().items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    for name, path in ensure(args.only or E2E_TOOLS).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
