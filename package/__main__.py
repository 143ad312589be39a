"""Component provider entry point: the engine runs this to construct OcmHub for programs in any language.

The schema is inferred from OcmHub's type annotations (config/args.py for the inputs, the component's
attributes for the outputs), so the package cannot drift from the Python component.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pulumi.provider.experimental import component_provider_host

from components import OcmHub

NAME = "ocm-hub"
VERSION = "0.1.0"

if __name__ == "__main__":
    component_provider_host([OcmHub], name=NAME, version=VERSION)
