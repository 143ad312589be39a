"""The fleet at a glance, from the clusters output: shared by the stack outputs and `make status`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def summarize(clusters: Mapping[str, Mapping[str, Any] | None], declared: int, addons: int) -> dict[str, Any]:
    """Counts out of what the stack declares, so a CI job can compare joined/available to the whole.
    A cluster without status yet (preview, or a create in progress) counts as neither."""
    known = [c for c in clusters.values() if c]
    joined = sum(1 for c in known if (c.get("joined") or {}).get("status") == "True")
    available = sum(1 for c in known if (c.get("available") or {}).get("status") == "True")
    addons_available = sum(
        1 for c in known for a in (c.get("addons") or {}).values() if (a.get("available") or {}).get("status") == "True"
    )
    return {
        "clusters": declared,
        "joined": joined,
        "available": available,
        "addons": {"declared": declared * addons, "available": addons_available},
    }
