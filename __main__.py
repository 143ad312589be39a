"""ocm-hub: read the stack config, build the hub tree, export its status."""

import signal

import pulumi

from components import OcmHub
from components.cluster_manager import preview_problem
from config import ConfigError, from_pulumi, load
from providers.discovery import DiscoveryError, fetch_vela_secrets
from providers.kube import HubConfigError, KubeError

# The engine ends this program with SIGINT to the language host's process group (pulumi's plugin Kill,
# cmdutil.InterruptChildren), e.g. once a resource failed while the SDK still awaits outstanding RPCs
# (pulumi.runtime.stack.wait_for_rpcs). Python turns SIGINT into KeyboardInterrupt, which the language
# host's exec script does not catch (only RunError and Exception), so a traceback followed the real
# error. Nothing is left to report or clean up then: let the OS end the process quietly. (A user's
# Ctrl-C reaches the CLI, not this process group: plugins run in their own.)
signal.signal(signal.SIGINT, signal.SIG_DFL)

try:
    raw = from_pulumi()
    for warning in raw.warnings:
        pulumi.log.warn(warning)
    cfg = load(raw)
    kubernetes = pulumi.Config("kubernetes")
    kube_config = {"kubeconfig": kubernetes.get("kubeconfig"), "context": kubernetes.get("context")}
    secrets = fetch_vela_secrets(cfg.registration, kube_config)
    if (problem := preview_problem(cfg, kube_config)) is not None:
        raise pulumi.RunError(problem)
    hub = OcmHub("ocm-hub", cfg.args(), vela_secrets=secrets, secret_keys=raw.secret_keys)
except (ConfigError, DiscoveryError) as err:
    raise pulumi.RunError(str(err)) from None
except HubConfigError as err:
    raise pulumi.RunError(f"kubernetes:kubeconfig: {err}") from None
except KubeError as err:
    raise pulumi.RunError(f"cannot list vela's cluster secrets on the hub: {err}") from None

for name, value in hub.outputs().items():
    pulumi.export(name, value)
