"""ocm-hub: read the stack config, build the hub tree, export its status."""

import pulumi

from components import OcmHub
from config import ConfigError, from_pulumi, load

try:
    settings = load(from_pulumi())
except ConfigError as err:
    raise pulumi.RunError(str(err)) from None

hub = OcmHub("ocm-hub", settings)
for name, value in hub.outputs().items():
    pulumi.export(name, value)
