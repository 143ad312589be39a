"""The ocm-hub resource tree. One component per module; knows nothing of YAML stack files."""

from components.hub import OcmHub

__all__ = ["OcmHub"]
