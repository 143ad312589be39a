"""Which cluster `make up` would deploy to: prints the current kube context's name, or `none` when no
kubeconfig or current context is configured (then the local clusters stand in). A context that is
configured but does not answer is an error with the way out, never silently replaced.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kubernetes import config
from kubernetes.config.config_exception import ConfigException

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the project's Kubernetes API layer

from providers.kube import Kube, KubeError, RetryPolicy

PROBE_SECONDS = 5.0


def main() -> int:
    try:
        _, active = config.list_kube_config_contexts()  # type: ignore[no-untyped-call]
    except (ConfigException, OSError):
        active = None
    if not active:
        print("none")
        return 0
    name = str(active.get("name", "?"))
    server = "?"
    try:
        kube = Kube.from_file(None, name, retry=RetryPolicy(attempts=1), timeout=PROBE_SECONDS)
        server = kube.server
        kube.request("GET", "/version")
    except (KubeError, ConfigException, OSError, ValueError) as err:
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        print(
            f"error: kube context {name!r} ({server}) does not answer: {reason}\n"
            "       fix that context, switch with `kubectl config use-context`, or run `make up LOCAL=1` to use"
            " the local clusters",
            file=sys.stderr,
        )
        return 1
    print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
