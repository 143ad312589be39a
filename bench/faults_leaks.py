"""The secret-leak scan: every credential string of the test PKI and every token the run used, searched
for in every text a user or a log collector could see.

Needles include each full base64 line of the client key and certificate PEMs, so a partial leak (a
PEM printed with escaped newlines, one line of a key in a traceback) is found too. The report never
prints a needle: `redact` replaces any in a message it is about to show.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pulumi

from bench import fleet
from components import OcmHub
from config import RawConfig, load
from ocmhub_testing.pki import Pki, vela_fleet
from render import documents, recording

PEM_LINE = 64  # full lines only: a short last line could match anything


@dataclass(frozen=True)
class Leak:
    artifact: str
    needle: str
    """The needle's name (which credential), never its value."""


def needles(pki: Pki, tokens: Mapping[str, str]) -> dict[str, str]:
    """Credential strings by name: client key and certificate (PEM, base64, each PEM line), and tokens
    with their base64 (as a Secret's `data` holds them)."""
    found: dict[str, str] = {}
    for name in ("client_key", "client_cert"):
        pem = pki.read(name)
        found[f"{name} PEM"] = pem.decode()
        found[f"{name} base64"] = base64.b64encode(pem).decode()
        for number, line in enumerate(pem.decode().splitlines(), 1):
            if len(line) == PEM_LINE:
                found[f"{name} PEM line {number}"] = line
    for name, token in tokens.items():
        found[name] = token
        found[f"{name} base64"] = base64.b64encode(token.encode()).decode()
    return found


def scan(artifacts: Mapping[str, str], needles: Mapping[str, str]) -> list[Leak]:
    return [
        Leak(artifact, name)
        for artifact, text in artifacts.items()
        for name, value in needles.items()
        if value and value in text
    ]


def redact(text: str, needles: Mapping[str, str]) -> str:
    """`text` safe to print: longest needles first, so a PEM goes before its own lines."""
    for name, value in sorted(needles.items(), key=lambda item: -len(item[1])):
        if value:
            text = text.replace(value, f"[credential: {name}]")
    return text


def rendered_stacks(stacks: Iterable[str]) -> dict[str, tuple[int, str]]:
    """`python -m render --stack NAME` for each stack, as `make render` runs it: (exit status, stdout+stderr)."""
    found = {}
    for stack in stacks:
        done = subprocess.run(
            [sys.executable, "-m", "render", "--stack", stack],
            cwd=recording.PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        found[f"render: --stack {stack}"] = (done.returncode, done.stdout + done.stderr)
    return found


def rendered_with_secrets(pki: Pki, clusters: int) -> dict[str, str]:
    """What a render shows once the program has read vela Secrets holding the test credentials (the
    offline render never reads any): every object and every stack output, with `clusters` clusters."""
    secrets = vela_fleet(pki, clusters)

    def program() -> None:
        hub = OcmHub("ocm-hub", load(RawConfig(fleet.stack_values(clusters))).args(), vela_secrets=secrets)
        for name, value in hub.outputs().items():
            pulumi.export(name, value)

    result = recording.run(program)
    return {
        f"render: {clusters} vela clusters": documents.to_yaml(documents.objects(result)),
        f"outputs: stack with {clusters} vela clusters": json.dumps(result.outputs, sort_keys=True, default=str),
    }
