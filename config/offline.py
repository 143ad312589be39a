"""The offline switch, declared and read here only: with `OCM_HUB_OFFLINE` set (to anything but empty), the
program asks no cluster for vela's cluster Secrets and registers only the clusters `registration.clusters`
names. `make render` and `make review` run the program so (render/recording.py); set it yourself to
evaluate a stack with no hub to ask. Plain Python: no models, no Pulumi.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

ENV = "OCM_HUB_OFFLINE"


def is_offline() -> bool:
    return bool(os.environ.get(ENV))


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Offline for the duration, then as it was."""
    before = os.environ.get(ENV)
    os.environ[ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[ENV]
        else:
            os.environ[ENV] = before
