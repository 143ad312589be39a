"""Values as they come back over Pulumi's wire; plain Python, for the provider process too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def whole_numbers(value: Any) -> Any:
    """Numbers cross Pulumi's wire as doubles: read 600.0 back as 600, in nested values too."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value
