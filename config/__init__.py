"""Stack configuration: validated once, before any resource is declared. Knows nothing of Pulumi resources.

These names load on first use: the provider process imports only the plain modules it needs
(`config.names`, `config.wire`, `config.versions`, `config.safe_yaml`), never pydantic and the models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config.loader import ConfigError, RawConfig, from_file, from_pulumi, load
    from config.stack import StackConfig
    from config.versions import RELEASES, OcmRelease

__all__ = ["RELEASES", "ConfigError", "OcmRelease", "RawConfig", "StackConfig", "from_file", "from_pulumi", "load"]
_HOMES = {
    "ConfigError": "config.loader",
    "RawConfig": "config.loader",
    "from_file": "config.loader",
    "from_pulumi": "config.loader",
    "load": "config.loader",
    "StackConfig": "config.stack",
    "RELEASES": "config.versions",
    "OcmRelease": "config.versions",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'config' has no attribute {name!r}")
