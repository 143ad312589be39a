"""Stack configuration: validated once, before any resource is declared. Knows nothing of Pulumi resources."""

from config.loader import ConfigError, RawConfig, from_file, from_pulumi, load
from config.stack import StackConfig
from config.versions import RELEASES, OcmRelease

__all__ = ["RELEASES", "ConfigError", "OcmRelease", "RawConfig", "StackConfig", "from_file", "from_pulumi", "load"]
