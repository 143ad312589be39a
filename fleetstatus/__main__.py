"""`make status STACK=<name> [JSON=1]`: the hub and its fleet, as the three kubectl checks show them.

Read live from the hub with the stack's kubeconfig (`kubernetes:kubeconfig`/`kubernetes:context` in
Pulumi.<stack>.yaml, else KUBECONFIG). With no hub reachable, read the stack's last outputs from the
local state backend and say how old they are. Secrets are never printed: encrypted outputs stay masked.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.fleet_status import summarize
from config import names
from config.addons import CHARTS
from config.loader import ConfigError, from_file, load, stack_config
from providers import hub_status
from providers.cluster_status import cluster_status
from providers.kube import RetryPolicy, hub_client
from providers.registration import MANAGED_CLUSTER, MODE_ANNOTATION

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRET_SIG = "4dabf18193072939515e22adb298388d"  # how Pulumi marks a secret value in state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make status", description=__doc__)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--state-dir", type=Path, default=PROJECT_DIR / ".pulumi-state", help="local state backend")
    args = parser.parse_args(argv)
    try:
        kube_config, enabled = _stack(args.stack)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        report = live_report(kube_config, enabled)
    except Exception as err:
        saved = saved_report(args.state_dir, args.stack)
        if saved is None:
            print(f"error: the hub is not reachable ({_short(err)}) and stack {args.stack!r} has no saved outputs "
                  f"in {args.state_dir}", file=sys.stderr)  # fmt: skip
            return 1
        report = saved
        report["note"] = f"hub not reachable ({_short(err)}); showing the stack's outputs of {report['asOf']}"
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else table(report))
    return 0


def live_report(kube_config: dict[str, Any], enabled: tuple[str, ...] = ()) -> dict[str, Any]:
    """The hub and every ManagedCluster with its addons: each addon the stack enables (Missing where the
    cluster has no ManagedClusterAddOn of it) and whatever else the hub has."""
    hub = hub_client(kube_config)
    hub.retry = RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0)
    hub.timeout = 10.0
    manager = hub.get(names.CLUSTER_MANAGER_API_VERSION, names.CLUSTER_MANAGER_KIND, names.CLUSTER_MANAGER_NAME)
    clusters: dict[str, Any] = {}
    addons_by_cluster: dict[str, dict[str, Any]] = {}
    for addon in hub.request("GET", "/apis/addon.open-cluster-management.io/v1alpha1/managedclusteraddons").get(
        "items", []
    ):
        metadata = addon["metadata"]
        addons_by_cluster.setdefault(metadata["namespace"], {})[metadata["name"]] = addon
    for cluster in hub.list(*MANAGED_CLUSTER):
        name = cluster["metadata"]["name"]
        mode = (cluster["metadata"].get("annotations") or {}).get(MODE_ANNOTATION, "")
        live = addons_by_cluster.get(name, {})
        clusters[name] = cluster_status(cluster, mode, {**dict.fromkeys(enabled), **live})
    return {
        "source": "live",
        "asOf": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "hubReady": hub_status.is_ready(manager),
        "clusterManagerConditions": hub_status.conditions((manager or {}).get("status")),
        "clusters": clusters,
        "fleetSummary": summarize(clusters, len(clusters), len({a for c in clusters.values() for a in c["addons"]})),
    }


def saved_report(state_dir: Path, stack: str) -> dict[str, Any] | None:
    """The last outputs in a local (file) state backend, with the time they were written."""
    path = state_dir / ".pulumi" / "stacks" / "ocm-hub" / f"{stack}.json"
    if not path.is_file():
        return None
    checkpoint = json.loads(path.read_text()).get("checkpoint") or {}
    latest = checkpoint.get("latest") or {}
    root = next((r for r in latest.get("resources") or [] if r.get("type") == "pulumi:pulumi:Stack"), None)
    if root is None:
        return None
    outputs = _masked(root.get("outputs") or {})
    written = str((latest.get("manifest") or {}).get("time", ""))
    return {
        "source": "saved outputs",
        "asOf": written,
        "age": _age(written),
        "hubReady": outputs.get("hubReady"),
        "clusterManagerConditions": outputs.get("clusterManagerConditions") or [],
        "clusters": outputs.get("clusters") or {},
        "fleetSummary": outputs.get("fleetSummary") or {},
    }


def table(report: dict[str, Any]) -> str:
    """`kubectl get managedclusters` columns, plus one column per addon."""
    lines = []
    if report.get("note"):
        lines.append(f"note: {report['note']} ({report.get('age', '')} ago)")
    lines.append(f"hub ready: {report['hubReady']}  ({report['source']}, {report['asOf']})")
    for item in report["clusterManagerConditions"]:
        lines.append(f"  {item['type']}={item['status']}  {item['reason']}")
    clusters: dict[str, Any] = report["clusters"]
    addons = sorted({name for c in clusters.values() if c for name in (c.get("addons") or {})})
    header = ["NAME", "HUB ACCEPTED", "MANAGED CLUSTER URLS", "JOINED", "AVAILABLE", *[a.upper() for a in addons]]
    rows = [header]
    for name in sorted(clusters):
        c = clusters[name] or {}
        rows.append(
            [
                name,
                str(c.get("hubAccepted", "")).lower(),
                ",".join(c.get("clientUrls") or []),
                _state(c.get("joined")),
                _state(c.get("available")),
                *[_addon(c.get("addons", {}).get(a)) for a in addons],
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    summary = report.get("fleetSummary") or {}
    if summary:
        lines.append(
            f"{summary.get('joined', 0)}/{summary.get('clusters', 0)} joined, {summary.get('available', 0)} available; "
            f"addons available {summary.get('addons', {}).get('available', 0)}/{summary.get('addons', {}).get('declared', 0)}"
        )
    return "\n".join(lines)


def _state(condition: dict[str, Any] | None) -> str:
    status = (condition or {}).get("status", "Missing")
    return "" if status == "Missing" else str(status)


def _addon(status: dict[str, Any] | None) -> str:
    """One word, as a person reads the AVAILABLE / DEGRADED / PROGRESSING columns."""
    if status is None:
        return "-"
    conditions = {key: (status.get(key) or {}).get("status") for key in ("available", "degraded", "progressing")}
    if conditions["degraded"] == "True":
        return "Degraded"
    if conditions["progressing"] == "True":
        return "Progressing"
    words = {"True": "Available", "False": "Unavailable", "Unknown": "Unknown", "Missing": "Missing"}
    return words.get(str(conditions["available"]), "-")


def _stack(stack: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The stack's kube config, and the ManagedClusterAddOn names of the addons it enables."""
    path = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    config = stack_config(path) if path.is_file() else {}
    kubeconfig = config.get("kubernetes:kubeconfig")
    if isinstance(kubeconfig, dict):  # a secure value: not readable here
        kubeconfig = None
    enabled = load(from_file(path)).addons.enabled() if path.is_file() else {}
    kube_config = {
        "kubeconfig": kubeconfig or os.environ.get("KUBECONFIG"),
        "context": config.get("kubernetes:context"),
    }
    return kube_config, tuple(CHARTS[key].addon for key in enabled)


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "[secret]"
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _age(timestamp: str) -> str:
    try:
        when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "unknown"
    seconds = int((datetime.now(UTC) - when).total_seconds())
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def _short(err: BaseException) -> str:
    return str(err).splitlines()[0][:160] if str(err) else type(err).__name__


if __name__ == "__main__":
    sys.exit(main())
