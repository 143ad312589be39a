"""`make faults`: the reliability report. Counts, for the tracker, what the program refuses and what it
survives, and proves no credential escapes on the way:

- bad stack configs (hub, addons, registration) rejected with a message naming the key and what is allowed;
- malformed vela cluster Secrets rejected, one by one and all at once by discovery;
- injected API faults (429, 5xx, drops, slow answers and client timeouts, 409) survived by the provider's
  create, update and delete, with the end state on the fake clusters correct;
- a scan of every rendered output, output, log and error message above for the credential bytes.

Prints a table, writes the same as JSON to bench/results/faults.json, and exits 1 if anything was not
rejected (clearly), not survived, or leaked.

    python -m bench.faults
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import faults_api as api
from bench import faults_leaks as leaks
from bench import faults_rejects as rejects
from bench import fleet
from ocmhub_testing.pki import vela_fleet
from ocmhub_testing.registrations import TOKEN
from render import recording

RESULTS = Path(__file__).parent / "results" / "faults.json"
RENDER_CLUSTERS = 4
CONTROL = frozenset({"client_key base64", "client_cert base64", "vela token base64"})


def count(results: Iterable[rejects.Rejection]) -> dict[str, Any]:
    """tried / rejected / rejected with a clear message / the slowest rejection in milliseconds."""
    items = list(results)
    return {
        "tried": len(items),
        "rejected": sum(r.rejected for r in items),
        "clear": sum(r.rejected and r.clear for r in items),
        "slowest_ms": round(max((r.seconds for r in items), default=0.0) * 1000, 1),
    }


def survival(results: Iterable[api.FaultResult]) -> dict[str, dict[str, int]]:
    """tried / survived, per operation and in all."""
    items = list(results)
    groups: dict[str, list[api.FaultResult]] = {op: [r for r in items if r.op == op] for op in api.OPS}
    groups["all"] = items
    return {op: {"tried": len(group), "survived": sum(r.survived for r in group)} for op, group in groups.items()}


def one_line(problem: str) -> str:
    """A problem for a table row. A provider failure arrives as the server's traceback, whose last
    line says what went wrong; other messages keep every line."""
    lines = [line.strip() for line in problem.strip().splitlines() if line.strip()]
    traceback = "Traceback (most recent call last):"
    if len(lines) > 1 and lines[0].endswith(traceback):
        return lines[0].removesuffix(traceback) + lines[-1]
    return " ".join(lines)


def failures(report: Mapping[str, Any]) -> list[str]:
    """Everything that counts against the report, one line each."""
    found = [r["problem"] for r in report["configs"]["cases"] if r["problem"]]
    found += [r["problem"] for r in report["secrets"]["cases"] if r["problem"]]
    for result in report["faults"]["scenarios"]:
        if result["problems"]:
            found.append(f"{result['op']} / {result['kind']} ({result['request']}): " + "; ".join(result["problems"]))
    found += [f"fake hub: {e}" for e in report["faults"]["fake_errors"]]
    scan = report["leaks"]
    found += [f"{name} exited {status}" for name, status in scan["render_status"].items() if status]
    found += [f"leak: {leak['needle']} in {leak['artifact']}" for leak in scan["found"]]
    if scan["control_missed"]:
        found.append(f"the scanner did not find {', '.join(scan['control_missed'])} in the vela secrets themselves")
    return found


def build(
    configs: Sequence[tuple[rejects.ConfigCase, rejects.Rejection]],
    secrets: Sequence[rejects.Rejection],
    discovery: Sequence[rejects.Rejection],
    faults: api.ApiRun,
    artifacts: Mapping[str, str],
    control: Mapping[str, str],
    render_status: Mapping[str, int],
    needles: Mapping[str, str],
    seconds: float,
) -> dict[str, Any]:
    """The report as data (what faults.json holds); texts shown are redacted of every needle.

    `artifacts` are named `<category>: <what>`; `control` holds the vela secrets themselves, where the
    scanner must find the key, the certificate and the token, or the scan proves nothing."""

    def shown(text: str) -> str:
        return leaks.redact(one_line(text), needles)

    def rejection(r: rejects.Rejection) -> dict[str, Any]:
        return {"area": r.area, "case": r.case, "rejected": r.rejected, "clear": r.clear, "problem": shown(r.problem)}

    by_area = {area: [r for _, r in configs if r.area == area] for area in rejects.AREAS}
    found = leaks.scan(artifacts, needles)
    seen_in_secrets = {leak.needle for leak in leaks.scan(control, needles)}
    report: dict[str, Any] = {
        "configs": {
            **{area: count(results) for area, results in by_area.items()},
            "all": {**count(r for _, r in configs), "distinct": rejects.distinct(c for c, _ in configs)},
            "cases": [rejection(r) for _, r in configs],
        },
        "secrets": {
            "parse_secret": count(secrets),
            "discovery": count(discovery),
            "cases": [rejection(r) for r in [*secrets, *discovery]],
        },
        "faults": {
            "survived": survival(faults.results),
            "scenarios": [
                {
                    "op": r.op,
                    "kind": r.kind,
                    "request": r.request,
                    "fired": r.fired,
                    "survived": r.survived,
                    "seconds": r.seconds,
                    "problems": [shown(p) for p in r.problems],
                }
                for r in faults.results
            ],
            "fake_errors": [shown(e) for e in faults.fake_errors],
        },
        "leaks": {
            "artifacts": dict(Counter(name.split(":", 1)[0] for name in artifacts)),
            "needles": len(needles),
            "control_missed": sorted(CONTROL - seen_in_secrets),
            "found": [{"artifact": leak.artifact, "needle": leak.needle} for leak in found],
            "render_status": dict(render_status),
        },
        "seconds": round(seconds, 1),
    }
    report["failures"] = failures(report)
    report["ok"] = not report["failures"]
    return report


def table(report: Mapping[str, Any]) -> str:
    configs, secrets, faults, scan = report["configs"], report["secrets"], report["faults"], report["leaks"]
    lines = ["ocm-hub reliability report (make faults)", ""]
    lines.append(f"{'bad configs':<34}{'tried':>6}{'rejected':>10}{'clear message':>15}{'slowest':>10}")
    for area in (*rejects.AREAS, "all"):
        row = configs[area]
        label = f"all ({row['distinct']} distinct)" if area == "all" else area
        lines.append(
            f"  {label:<32}{row['tried']:>6}{row['rejected']:>10}{row['clear']:>15}{row['slowest_ms']:>8.1f}ms"
        )
    lines += ["", f"{'malformed vela secrets':<34}{'tried':>6}{'rejected':>10}{'clear message':>15}"]
    for key, label in (("parse_secret", "one by one (parse_secret)"), ("discovery", "all at once (discovery.plan)")):
        row = secrets[key]
        lines.append(f"  {label:<32}{row['tried']:>6}{row['rejected']:>10}{row['clear']:>15}")
    lines += [
        "",
        "injected API faults (provider over gRPC, fake hub and managed cluster; survived = end state correct)",
    ]
    width = max(len(s["request"]) for s in faults["scenarios"]) + 2
    lines.append(f"  {'op':<8}{'fault':<24}{'failed request':<{width}}{'fired':>5}  result")
    for s in faults["scenarios"]:
        result = f"{'survived' if s['survived'] else 'FAILED'} ({s['seconds']:.1f}s)"
        lines.append(f"  {s['op']:<8}{s['kind']:<24}{s['request']:<{width}}{s['fired']:>5}  {result}")
    survived = faults["survived"]
    lines.append(
        "  survived: " + ", ".join(f"{op} {survived[op]['survived']}/{survived[op]['tried']}" for op in survived)
    )
    scanned = ", ".join(f"{count} {category}" for category, count in sorted(scan["artifacts"].items()))
    lines += ["", f"secret-leak scan: {sum(scan['artifacts'].values())} artifacts ({scanned})"]
    lines.append(f"  scanned for {scan['needles']} credential strings: {len(scan['found'])} leaks found")
    lines += [
        "",
        f"{len(report['failures'])} not rejected clearly / not survived / leaked:"
        if report["failures"]
        else "all good",
    ]
    lines += [f"  - {line}" for line in report["failures"]]
    lines.append(f"\n{report['seconds']:.1f}s; JSON in {RESULTS.relative_to(recording.PROJECT_DIR)}")
    return "\n".join(lines)


def main() -> int:
    started = time.monotonic()
    stacks = sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in recording.PROJECT_DIR.glob("Pulumi.*.yaml")
    )
    with tempfile.TemporaryDirectory(prefix="ocm-hub-faults-") as workdir, ThreadPoolExecutor(1) as background:
        renders = background.submit(leaks.rendered_stacks, stacks)  # subprocesses, alongside the rest
        pki = fleet.pki(Path(workdir))
        cases = rejects.config_cases()
        configs = [(case, rejects.check_config(case)) for case in cases]
        malformed = rejects.secret_cases()
        secrets = [rejects.check_secret(case, pki) for case in malformed]
        discovery, discovery_error = rejects.check_discovery(malformed, pki)
        artifacts = leaks.rendered_with_secrets(pki, RENDER_CLUSTERS)
        faults = api.run_all(pki, Path(workdir))
        needles = leaks.needles(pki, {"vela token": TOKEN, **faults.tokens})
        control = {"vela secrets": json.dumps(vela_fleet(pki, 2))}
        rendered = renders.result()
    artifacts |= {name: text for name, (_, text) in rendered.items()}
    artifacts |= {f"errors: config {i} {r.case}": r.message for i, (_, r) in enumerate(configs)}
    artifacts |= {f"errors: secret {r.case}": r.message for r in secrets}
    artifacts["errors: discovery"] = discovery_error
    for r in faults.results:
        artifacts[f"outputs: {r.op} / {r.kind}"] = r.outputs
        if r.error:
            artifacts[f"errors: {r.op} / {r.kind}"] = r.error
    artifacts["logs: provider stderr"] = faults.log
    report = build(
        configs,
        secrets,
        discovery,
        faults,
        artifacts,
        control,
        {name: status for name, (status, _) in rendered.items()},
        needles,
        time.monotonic() - started,
    )
    print(table(report))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
