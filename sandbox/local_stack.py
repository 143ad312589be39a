"""How a stack runs against the local clusters: the one place that decides it.

Pulumi knows nothing of the local clusters. A stack deployed on them (`make up` with no reachable
kube context, or LOCAL=1) differs from one deployed on the user's context in two things, both here:

- the kubeconfig: the local hub's (`LocalStack.kubeconfig`), not the current kube context;
- the stack file: `Pulumi.<stack>.yaml` as written, with what the local clusters need changed
  (`for_local_clusters`: OCM's release and each addon's chart and image version pinned to the binaries
  that run there, the local chart repository, cluster-proxy's entry point), written to <state dir>/local-stacks/Pulumi.<stack>.yaml and given to Pulumi
  as the stack's config file (`LocalStack.config_file`).

The marker <state dir>/local-stacks/<stack> records that the stack was deployed on the local clusters
(the state dir is OCM_HUB_E2E_DIR, default .e2e/). `make up` sets it (`activate`) before deploying
there and `make down` clears it (`deactivate`) once the stack is destroyed; while it is set,
`make status` and `make down` must talk to the local hub, not the current context:
`kubeconfig_to_use()` answers which, and every such decision goes through it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.addons import CHARTS, merge
from config.loader import ConfigError, stack_config
from sandbox import chart_repo, clusters, tools

# Pulumi's own rule for a stack name: a file name here, so nothing else may pass.
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Runtime:
    """What runs on the local clusters, which a stack there must name: where the addon charts come from
    and their versions (the local chart repository, sandbox/chart_repo.py), the release of the addon
    binaries (their images' tags) and of OCM's."""

    chart_repository: str
    chart_versions: Mapping[str, str]  # by addon key (config/addons.py CHARTS)
    image_tags: Mapping[str, str]  # by addon key
    ocm_version: str

    @classmethod
    def serving(cls, chart_repository: str) -> Runtime:
        """The runtime of the built tools, with the chart repository at that URL."""
        return cls(
            chart_repository=chart_repository,
            chart_versions=chart_repo.served_versions(),
            image_tags={key: chart.module().version() for key, chart in chart_repo.MODULE_CHARTS.items()},
            ocm_version=tools.select([tools.OCM_TOOLS[0]])[0].version(),
        )


def local_values(key: str, runtime: Runtime) -> dict[str, Any]:
    """The Helm values an addon needs on the local clusters, over the stack's own.

    - `tag`: every image of the three charts takes it, and the local kubelet runs an image only at the
      version of the binary built for it. The gateway's chart says 0.1.0 in its module, so without it
      the images would be `:v0.1.0`.
    - cluster-proxy's entry point: a LoadBalancer Service (`proxy-agent-entrypoint`) whose address, from
      the local kubelet's pool, the proxy-agents on every local cluster dial, as on a cloud cluster
      (the chart's default, PortForward, tunnels through the hub API server's pods/portforward).
    """
    values: dict[str, Any] = {"tag": runtime.image_tags[key]}
    if key == "clusterProxy":
        values["proxyServer"] = {"entrypointLoadBalancer": True, "entrypointAddress": ""}
    return values


def for_local_clusters(config: Mapping[str, Any], runtime: Runtime) -> dict[str, Any]:
    """A stack's `config:` as the local clusters run it; everything that differs from the stack file is
    decided here. OCM at the release of its binaries; every addon from the local chart repository, at the
    chart version it serves, with `local_values` over the stack's values."""
    addons = dict(config.get("ocm-hub:addons") or {})
    addons["repository"] = runtime.chart_repository
    for key in CHARTS:
        addon = addons.get(key)
        if not isinstance(addon, dict):
            continue
        pinned = {"repository": runtime.chart_repository, "version": runtime.chart_versions[key]}
        addons[key] = {**addon, **pinned, "values": merge(addon.get("values") or {}, local_values(key, runtime))}
    return {**config, "ocm-hub:ocmVersion": runtime.ocm_version, "ocm-hub:addons": addons}


def rewritten(stack_file: Path, runtime: Runtime) -> str:
    """The stack file with its config `for_local_clusters`; the rest (the passphrase salt included) as
    written. A file Pulumi would refuse to load is an error naming it."""
    try:
        config = stack_config(stack_file)
    except ConfigError as err:
        raise clusters.ClusterError(str(err)) from None
    except OSError as err:
        raise clusters.ClusterError(f"{stack_file}: cannot read the stack file ({err.strerror})") from None
    document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    document["config"] = for_local_clusters(config, runtime)
    return str(yaml.safe_dump(document, sort_keys=False))


def require_chart_repository() -> str:
    """The URL of the local clusters' chart repository, which a stack on them installs its addons from."""
    url = clusters.chart_repository()
    if url is None:
        raise clusters.ClusterError("the local clusters' chart repository is not running: `make cluster-up` starts it")
    return url


@dataclass(frozen=True)
class LocalStack:
    """The stack `stack` of the project in `root` (where Pulumi.<stack>.yaml is), on the local clusters."""

    root: Path
    stack: str

    def __post_init__(self) -> None:
        if not STACK_NAME.match(self.stack):
            raise ValueError(f"{self.stack!r} is not a stack name (letters, digits, '_', '.', '-')")

    @property
    def stack_file(self) -> Path:
        return self.root / f"Pulumi.{self.stack}.yaml"

    @property
    def marker(self) -> Path:
        return clusters.STATE_DIR / "local-stacks" / self.stack

    @property
    def kubeconfig(self) -> Path:
        return clusters.hub_kubeconfig()

    def active(self) -> bool:
        """Whether the stack was deployed on the local clusters (and not destroyed since)."""
        return self.marker.is_file()

    def activate(self) -> None:
        self.marker.parent.mkdir(parents=True, exist_ok=True)
        self.marker.touch()

    def deactivate(self) -> None:
        """The stack is no longer on the local clusters: the marker and the rewritten file go."""
        self.marker.unlink(missing_ok=True)
        self._config_path().unlink(missing_ok=True)

    def kubeconfig_to_use(self) -> Path | None:
        """The local hub's kubeconfig while the stack is on the local clusters; None: the current context."""
        return self.kubeconfig if self.active() else None

    def config_file(self) -> Path:
        """Write the stack file as the local clusters run it (see `for_local_clusters`) and return its path.
        The clusters' chart repository must be running (`make cluster-up` starts it)."""
        text = rewritten(self.stack_file, Runtime.serving(require_chart_repository()))
        path = self._config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def _config_path(self) -> Path:
        return self.marker.parent / f"Pulumi.{self.stack}.yaml"
