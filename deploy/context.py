"""Which cluster `make up` deploys to: the current kube context, or none configured (then the local
clusters stand in). A context that is configured but does not answer is an error with the way out,
never silently replaced.
"""

from __future__ import annotations

import os

from kubernetes import config
from kubernetes.config.config_exception import ConfigException

from deploy.flow import failed
from providers.kube import Kube, KubeError, RetryPolicy

PROBE_SECONDS = 5.0


def configured_context() -> str | None:
    """The current context's name, None when none is configured; asks no server."""
    path = os.environ.get("KUBECONFIG")  # read now: the client library reads it once, when imported
    try:
        _, active = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError):
        return None
    return str(active.get("name", "?")) if active else None


def current_context() -> str | None:
    """The current context's name once its API server answered; None when none is configured."""
    name = configured_context()
    if name is None:
        return None
    path = os.environ.get("KUBECONFIG")
    server = "?"
    try:
        kube = Kube.from_file(path, name, retry=RetryPolicy(attempts=1), timeout=PROBE_SECONDS)
        server = kube.server
        kube.request("GET", "/version")
    except (KubeError, ConfigException, OSError, ValueError) as err:
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise failed(
            f"kube context {name!r} ({server}) does not answer: {reason}\n"
            "       fix that context, switch with `kubectl config use-context`, or run `make up LOCAL=1` to use"
            " the local clusters"
        ) from None
    return name
