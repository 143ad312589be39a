"""ocm-hub: read the stack config, build the hub tree, export its status."""

import pulumi

from components import OcmHub
from config import ConfigError, from_pulumi, load
from providers.discovery import DiscoveryError, fetch_vela_secrets
from providers.kube import KubeError
from providers.managed_cluster import HubConfigError

try:
    raw = from_pulumi()
    for warning in raw.warnings:
        pulumi.log.warn(warning)
    settings = load(raw)
    kubernetes = pulumi.Config("kubernetes")
    secrets = fetch_vela_secrets(
        settings.registration, {"kubeconfig": kubernetes.get("kubeconfig"), "context": kubernetes.get("context")}
    )
    hub = OcmHub("ocm-hub", settings.args(), vela_secrets=secrets, secret_keys=raw.secret_keys)
except (ConfigError, DiscoveryError) as err:
    raise pulumi.RunError(str(err)) from None
except HubConfigError as err:
    raise pulumi.RunError(f"kubernetes:kubeconfig: {err}") from None
except KubeError as err:
    raise pulumi.RunError(f"cannot list vela's cluster secrets on the hub: {err}") from None

for name, value in hub.outputs().items():
    pulumi.export(name, value)
