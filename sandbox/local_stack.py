"""How a stack runs against the local clusters: the one place that decides it.

Pulumi knows nothing of the local clusters. A stack deployed on them (`make up` with no reachable
kube context, or LOCAL=1) differs from one deployed on the user's context in two things, both here:

- the kubeconfig: the local hub's (`LocalStack.kubeconfig`), not the current kube context;
- the stack file: `Pulumi.<stack>.yaml` as written, with what the local clusters need changed
  (`for_local_clusters`), written to <state dir>/local-stacks/Pulumi.<stack>.yaml and given to Pulumi
  as the stack's config file (`LocalStack.config_file`).

The marker <state dir>/local-stacks/<stack> records that the stack was deployed on the local clusters
(the state dir is OCM_HUB_E2E_DIR, default .e2e/). `make up` sets it (`activate`) before deploying
there and `make down` clears it (`deactivate`) once the stack is destroyed; while it is set,
`make status` and `make down` must talk to the local hub, not the current context:
`kubeconfig_to_use()` answers which, and every such decision goes through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.loader import ConfigError, stack_config
from sandbox import clusters

# Pulumi's own rule for a stack name: a file name here, so nothing else may pass.
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def for_local_clusters(config: dict[str, Any], chart_repository: str) -> dict[str, Any]:
    """A stack's `config:` as the local clusters run it; everything that differs from the stack file is
    decided here (pins to what the local binaries are belong here too). Today: every addon chart
    repository is the local chart repository, which serves the same charts, vendored."""
    addons = dict(config.get("ocm-hub:addons") or {})
    addons["repository"] = chart_repository
    for key, value in addons.items():
        if isinstance(value, dict) and "repository" in value:
            addons[key] = {**value, "repository": chart_repository}
    return {**config, "ocm-hub:addons": addons}


def rewritten(stack_file: Path, chart_repository: str) -> str:
    """The stack file with its config `for_local_clusters`; the rest (the passphrase salt included) as
    written. A file Pulumi would refuse to load is an error naming it."""
    try:
        config = stack_config(stack_file)
    except ConfigError as err:
        raise clusters.ClusterError(str(err)) from None
    except OSError as err:
        raise clusters.ClusterError(f"{stack_file}: cannot read the stack file ({err.strerror})") from None
    document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    document["config"] = for_local_clusters(config, chart_repository)
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
        text = rewritten(self.stack_file, require_chart_repository())
        path = self._config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def _config_path(self) -> Path:
        return self.marker.parent / f"Pulumi.{self.stack}.yaml"
