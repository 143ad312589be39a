"""URNs are a public contract: a refactor that changes any URN of the example stacks would make
`pulumi up` delete and re-create the hub (or unjoin clusters). Renames must come with aliases.

The snapshot is tests/data/urns.json; after an intended change with aliases, refresh it with
`OCM_HUB_UPDATE_URNS=1 make unit` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from config import from_file
from ocmhub_testing.pki import Pki, vela_secret
from render import recording
from tests.conftest import STACKS, stack_file

SNAPSHOT = Path(__file__).parent / "data" / "urns.json"


def _urns(pki: Pki) -> dict[str, list[str]]:
    found = {
        stack: sorted(r.urn for r in recording.run_main(from_file(stack_file(stack)), stack=stack).registrations)
        for stack in STACKS
    }

    def with_fleet() -> None:
        from components import OcmHub

        secrets = [vela_secret(name, f"https://{name}:6443", pki) for name in ("edge-1", "prod-eu")]
        OcmHub("ocm-hub", {"registration": {"discover": True}}, vela_secrets=secrets)

    found["registration"] = sorted(r.urn for r in recording.run(with_fleet, stack="registration").registrations)
    return found


def test_urns_of_the_example_stacks_do_not_change(pki: Pki) -> None:
    current = _urns(pki)
    if os.environ.get("OCM_HUB_UPDATE_URNS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    for stack in sorted(set(expected) | set(current)):
        missing = sorted(set(expected.get(stack, [])) - set(current.get(stack, [])))
        added = sorted(set(current.get(stack, [])) - set(expected.get(stack, [])))
        if missing or added:
            pytest.fail(f"stack {stack}: URNs changed (add aliases for renames)\n  gone: {missing}\n  new: {added}")
