"""The provider process loads only what a join needs: the dill-pickled providers bring in their modules, and
those must not reach the config models (pydantic) nor, before a call talks to a cluster, the Kubernetes client."""

from __future__ import annotations

import subprocess
import sys

from render.recording import PROJECT_DIR


def test_the_providers_modules_import_neither_pydantic_nor_the_kubernetes_client() -> None:
    script = (
        "import sys; import providers.managed_cluster, providers.hub_readiness; "
        "print(sorted(m for m in ('pydantic', 'kubernetes', 'config.loader') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
