"""Bad input the program must refuse before it touches a cluster, each with a message that says where
and what: stack configs (hub, addons, registration) and malformed vela cluster Secrets.

The cases are the test suite's own lists (tests/test_config.py, tests/test_addons.py,
tests/test_discovery.py), so the report and the tests never disagree about what "bad" means; only the
registration cases live here, with the fragment of the message each must carry.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.input_cases import ALL_BAD, HOSTILE_YAML
from config import ConfigError, RawConfig, from_file, load
from ocmhub_testing.cases import BAD_ADDONS, BAD_CONFIGS, ENDPOINT, MALFORMED
from ocmhub_testing.pki import Pki, vela_secret
from providers.discovery import DiscoveryError, VelaSecrets, plan
from providers.vela import VelaSecretError, parse_secret

AREAS = ("hub", "addons", "registration", "hostile YAML")

# (config under `ocm-hub:registration`, key path below it, a fragment of what is allowed)
BAD_REGISTRATION: list[tuple[dict[str, Any], str, str]] = [
    ({"discovr": True}, "discovr", "allowed here: addonTimeout, clusters, defaults, discover"),
    ({"discover": "yes please"}, "discover", "valid boolean"),
    ({"secretNamespace": "Vela_System"}, "secretNamespace", "DNS-1123 subdomain"),
    ({"selector": "env in prod"}, "selector", "not a Kubernetes label selector"),
    ({"selector": "env=prod,,tier"}, "selector", "a in (x,y)"),
    ({"include": ["UPPER"]}, "include[0]", "glob pattern"),
    ({"exclude": ["sandbox/*"]}, "exclude[0]", "glob pattern"),
    ({"include": "prod-*"}, "include", "valid list"),
    ({"hubApiServer": "http://hub:6443"}, "hubApiServer", "https:// URL"),
    ({"hubApiServer": "hub.example.com:6443"}, "hubApiServer", "https:// URL"),
    ({"joinTimeout": "forever"}, "joinTimeout", "duration such as 90s"),
    ({"joinTimeout": "1s"}, "joinTimeout", "between 30s and 6h"),
    ({"addonTimeout": "never"}, "addonTimeout", "duration such as 90s"),
    ({"waitForAddons": "perhaps"}, "waitForAddons", "valid boolean"),
    ({"defaults": {"mode": "Singleton"}}, "defaults.mode", "'Default' or 'Hosted'"),
    ({"defaults": {"clusterSet": "Fleet_A"}}, "defaults.clusterSet", "DNS-1123 label"),
    ({"defaults": {"labels": {"env": "a b"}}}, "defaults.labels.env", "label value"),
    ({"defaults": {"labelz": {}}}, "defaults.labelz", "allowed here: clusterSet, labels, mode"),
    ({"clusters": "prod-eu"}, "clusters", "valid list"),
    ({"clusters": [{"managedClusterName": "a"}]}, "clusters[0].name", "is required"),
    ({"clusters": [{"name": "Bad Name"}]}, "clusters[0].name", "DNS-1123 subdomain"),
    ({"clusters": [{"name": "a", "managedClusterName": "Not_A_Label"}]}, "clusters[0].managedClusterName", "DNS-1123"),
    ({"clusters": [{"name": "a", "managedClusterName": "x" * 64}]}, "clusters[0].managedClusterName", "at most 63"),
    ({"clusters": [{"name": "a", "mode": "Singleton"}]}, "clusters[0].mode", "'Default' or 'Hosted'"),
    ({"clusters": [{"name": "a", "labels": {"bad key!": "x"}}]}, "clusters[0].labels.bad key!", "label key"),
    ({"clusters": [{"name": "a", "import": "yes please"}]}, "clusters[0].import", "valid boolean"),
    (
        {"clusters": [{"name": "a", "managedClusterNmae": "b"}]},
        "clusters[0].managedClusterNmae",
        "allowed here: allowInsecure, clusterSet, import, labels, managedClusterName, mode, name",
    ),
]


@dataclass(frozen=True)
class ConfigCase:
    area: str
    values: dict[str, Any]
    path: str
    """Key path below `ocm-hub:` that the message must name."""
    allowed: str
    """Fragment of the message that says what is allowed."""


@dataclass(frozen=True)
class Rejection:
    """One bad input: refused at all, and refused with a message that names where and what."""

    area: str
    case: str
    rejected: bool
    clear: bool
    message: str
    seconds: float = 0.0

    @property
    def problem(self) -> str:
        """Why this case counts against the report ('' when it does not)."""
        if not self.rejected:
            return f"{self.area}: {self.case}: accepted ({self.message})"
        if not self.clear:
            return f"{self.area}: {self.case}: rejected, but the message is not clear: {self.message}"
        return ""


def config_cases() -> list[ConfigCase]:
    """The suite's lists, issue 16's kinds (tests/test_inputs.py) among them, by the area of their key."""
    return [
        *(ConfigCase("hub", v, p.removeprefix("ocm-hub:"), a) for v, p, a in BAD_CONFIGS),
        *(ConfigCase("addons", {"addons": v}, p, a) for v, p, a in BAD_ADDONS),
        *(ConfigCase("registration", {"registration": v}, f"registration.{p}", a) for v, p, a in BAD_REGISTRATION),
        *(ConfigCase(_area(p), v, p, a) for v, p, a in ALL_BAD),
        *(ConfigCase("hostile YAML", {"file": text}, kind, "YAML") for kind, text in sorted(HOSTILE_YAML.items())),
    ]


def _area(path: str) -> str:
    return next((area for area in ("addons", "registration") if path.startswith(area)), "hub")


def check_config(case: ConfigCase) -> Rejection:
    """Rejected clearly: ConfigError naming `ocm-hub:<path>:` and carrying the allowed fragment (a hostile
    stack file: naming the file), timed from reading to the error."""
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/Pulumi.case.yaml"
        started = time.monotonic()
        try:
            if case.area == "hostile YAML":
                with open(path, "w") as handle:
                    handle.write(case.values["file"])
                started = time.monotonic()
                load(from_file(Path(path)))
            else:
                load(RawConfig(case.values))
        except ConfigError as err:
            seconds = time.monotonic() - started
            message = str(err)
            where = path if case.area == "hostile YAML" else f"ocm-hub:{case.path}:"
            clear = where in message and case.allowed in message
            return Rejection(case.area, f"ocm-hub:{case.path}", True, clear, message, seconds)
    return Rejection(case.area, f"ocm-hub:{case.path}", False, False, f"no error for {case.path}")


def distinct(cases: Iterable[ConfigCase]) -> int:
    return len({json.dumps(case.values, sort_keys=True) for case in cases})


@dataclass(frozen=True)
class SecretCase:
    name: str
    label: str
    change: Callable[[dict[str, Any]], None]
    message: str

    def secret(self, pki: Pki) -> dict[str, Any]:
        secret = vela_secret(self.name, ENDPOINT, pki)
        self.change(secret)
        return secret


def secret_cases() -> list[SecretCase]:
    """The suite's malformed secrets, each under its own name so one discovery can list them all."""
    return [
        SecretCase(f"broken-{i:02d}", label, change, message) for i, (label, change, message) in enumerate(MALFORMED)
    ]


def _where(name: str) -> str:
    return f"vela cluster secret vela-system/{name}:"


def check_secret(case: SecretCase, pki: Pki) -> Rejection:
    """Rejected clearly: VelaSecretError naming the secret and the problem."""
    try:
        parse_secret(case.secret(pki))
    except VelaSecretError as err:
        message = str(err)
        return Rejection(
            "parse_secret", case.label, True, _where(case.name) in message and case.message in message, message
        )
    return Rejection("parse_secret", case.label, False, False, "parsed as a usable cluster")


def check_discovery(cases: list[SecretCase], pki: Pki) -> tuple[list[Rejection], str]:
    """All malformed secrets (and one good one) through one `plan`: a single DiscoveryError must list
    each bad secret by name with its problem. Returns the per-secret results and the error text."""
    secrets = [vela_secret("healthy", ENDPOINT, pki), *(case.secret(pki) for case in cases)]
    try:
        plan(load(RawConfig({"registration": {"discover": True}})), VelaSecrets(secrets))
    except DiscoveryError as err:
        results = []
        for case in cases:
            lines = [line for line in err.problems if _where(case.name) in line]
            clear = len(lines) == 1 and case.message in lines[0]
            results.append(Rejection("discovery", case.label, bool(lines), clear, "\n".join(lines) or str(err)))
        return results, str(err)
    return [Rejection("discovery", case.label, False, False, "planned without an error") for case in cases], ""
