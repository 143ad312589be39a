"""URNs are a public contract: a refactor that changes any URN of the example stacks would make
`pulumi up` delete and re-create the hub (or unjoin clusters). Renames must come with aliases.

The snapshot, tests/data/urns.json, holds every URN a released program gave the example stacks: each must
still be some resource's URN, or a former URN the engine matches it with (its aliases, and those it
inherits from an aliased parent, as render/recording.py resolves them); and every URN of the program is in
it. After an intended change, refresh it with `OCM_HUB_UPDATE_URNS=1 make unit` and review the diff: it
adds the new URNs and keeps the former ones that aliases still match.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from components.cluster_manager_operator import FORMER_TYPE, TYPE
from config import from_file
from ocmhub_testing.pki import Pki, vela_secret
from render import recording
from tests.conftest import STACKS, stack_file

SNAPSHOT = Path(__file__).parent / "data" / "urns.json"


def _recordings(pki: Pki) -> dict[str, recording.Recording]:
    found = {stack: recording.run_main(from_file(stack_file(stack)), stack=stack) for stack in STACKS}

    def with_fleet() -> None:
        from components import OcmHub

        secrets = [vela_secret(name, f"https://{name}:6443", pki) for name in ("edge-1", "prod-eu")]
        OcmHub("ocm-hub", {"registration": {"discover": True}}, vela_secrets=secrets)

    found["registration"] = recording.run(with_fleet, stack="registration")
    return found


def _matched(rec: recording.Recording) -> dict[str, str]:
    """Every URN the engine matches a resource of `rec` with, to that resource's URN."""
    return {former: r.urn for r in rec.resources for former in (r.urn, *rec.former_urns(r))}


def test_urns_of_the_example_stacks_do_not_change(pki: Pki) -> None:
    recordings = _recordings(pki)
    expected: dict[str, list[str]] = json.loads(SNAPSHOT.read_text())
    if os.environ.get("OCM_HUB_UPDATE_URNS"):
        expected = {
            stack: sorted({r.urn for r in rec.resources} | (set(expected.get(stack, [])) & set(_matched(rec))))
            for stack, rec in recordings.items()
        }
        SNAPSHOT.write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    for stack in sorted(set(expected) | set(recordings)):
        rec = recordings.get(stack, recording.Recording())
        lost = sorted(set(expected.get(stack, [])) - set(_matched(rec)))
        unrecorded = sorted({r.urn for r in rec.resources} - set(expected.get(stack, [])))
        if lost or unrecorded:
            pytest.fail(
                f"stack {stack}: URNs changed (add aliases for renames)\n  lost: {lost}\n  not in the snapshot: "
                f"{unrecorded}"
            )


def test_the_renamed_operator_component_and_its_children_keep_their_former_urns(pki: Pki) -> None:
    """ocm-hub:index:RegistrationOperator became ClusterManagerOperator: the component's alias names its
    former type, and each child inherits it as the engine derives it (the parent's former type in its URN)."""
    rec = _recordings(pki)["dev"]
    (operator,) = rec.of_type(TYPE)
    assert rec.former_urns(operator) == (operator.urn.replace(TYPE, FORMER_TYPE),)
    children = [r for r in rec.resources if r.parent == operator.urn]
    assert len(children) == 6
    for child in children:
        assert child.urn.startswith(f"urn:pulumi:dev::ocm-hub::{TYPE}$")
        assert child.urn.replace(f"::{TYPE}$", f"::{FORMER_TYPE}$") in rec.former_urns(child)
