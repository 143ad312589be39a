"""`make conformance` (see sandbox/conformance/__init__.py):

    python -m sandbox.conformance [--labels FILTER] [--installs ocm-hub,helm] [--dir DIR] [--keep]
    python -m sandbox.conformance leg INSTALL --dir DIR [--labels FILTER] [--keep]   (one install; internal)

Exit codes: 0 every selected spec passed on every install and both passed the same specs; 1 otherwise;
2 bad arguments or a stale deselection list.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from providers.kube import Kube
from sandbox import clusters, kubelet, tools
from sandbox.clusters import STATE_DIR_ENV
from sandbox.conformance import installs, suite
from sandbox.conformance.installs import InstallError, log

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALLS = ("ocm-hub", "helm")
DEFAULT_DIR = REPO_ROOT / ".e2e" / "conformance"
RESULT = "result.json"
# A pass of the suite may take this long; upstream's default Eventually is 90 s per step.
SUITE_TIMEOUT = 3 * 60 * 60
PROGRESS_SECONDS = 60
HOSTED_LABEL = "klusterlet-hosted"
# The suite's own image the kubelet must run (tools.CONFORMANCE_TOOLS builds it): its template addon's
# agent, addon-framework's example, which copies ConfigMaps from the hub; simulated by kwok, the
# template addon's specs time out waiting for the copies (measured).
SUITE_POD_TOOLS = ("helloworld_helm",)


def ocm_version() -> str:
    """The release the local kubelet runs: the version OCM's binaries were built at."""
    return tools.select(["registration"])[0].version()


def suite_binary() -> Path:
    return tools.ensure([tools.OCM_E2E])[tools.OCM_E2E]


def selections(labels: str) -> list[suite.Selection]:
    """The suite's passes, as upstream's e2e and e2e-hosted jobs plus one for the specs written for its
    one-cluster setup: every spec but those with Default klusterlets on managed-1; the hosted ones with
    Hosted klusterlets (they skip themselves in any other mode); ON_THE_HUB with the hub as the suite's
    managed cluster. DESELECTED in none."""
    user = f" && ({labels})" if labels else ""
    deselected = tuple(suite.DESELECTED)
    return [
        suite.Selection("Default", f"!{HOSTED_LABEL}{user}", "Default", skip=(*deselected, *suite.ON_THE_HUB)),
        suite.Selection("Hosted", f"{HOSTED_LABEL}{user}", "Hosted", skip=deselected),
        suite.Selection("Hub", labels, "Default", focus=tuple(suite.ON_THE_HUB), skip=deselected, on_hub=True),
    ]


def notes() -> dict[str, str]:
    """Why a spec is skipped in the merged results when it is one of ours."""
    return {
        **{text: f"deselected: {reason}" for text, reason in suite.DESELECTED.items()},
        **{text: f"needs the hub as its managed cluster: {reason}" for text, reason in suite.ON_THE_HUB.items()},
    }


def dry_run(binary: Path, selection: suite.Selection, workdir: Path) -> suite.Report:
    """The specs a selection runs, listed by Ginkgo without running them."""
    workdir.mkdir(parents=True, exist_ok=True)
    target = suite.Target(workdir / "none", workdir / "none", ocm_version())
    json_report = workdir / f"dry-run-{selection.name}.json"
    cmd = suite.argv(binary, target, selection, workdir / f"dry-run-{selection.name}.xml", json_report, dry_run=True)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"the suite's dry run failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return suite.parse_report(json_report)


@dataclass(frozen=True)
class PassResult:
    name: str
    json_report: str
    junit: str
    exit_code: int
    setup_flake: str = ""  # the first attempt's BeforeSuite failure, when the second attempt got past it


class Progress:
    """Says every PROGRESS_SECONDS how far a pass of the suite is, from its log (Ginkgo's -v output ends
    each spec with `•` when it passed, `S` when skipped, and names `[FAILED]`)."""

    def __init__(self, label: str, log_path: Path) -> None:
        self._label = label
        self._log = log_path
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(PROGRESS_SECONDS):
            try:
                lines = self._log.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                continue
            done = sum(1 for line in lines if line.startswith(("• ", "S ")))
            failed = sum(1 for line in lines if line.startswith("• [FAILED]"))
            log(f"{self._label}: {done} specs done, {failed} failed ({time.monotonic() - self._started:.0f}s)")


def run_pass(
    binary: Path,
    target: suite.Target,
    selection: suite.Selection,
    out: Path,
    install: str,
    prepare: Callable[[], None] = lambda: None,
) -> PassResult | None:
    """One pass of the suite (`prepare` first), or None when its selection selects no spec."""
    selected = dry_run(binary, selection, out)
    if not any(spec.state == suite.PASSED for spec in selected.specs):
        return None
    prepare()
    json_report, junit, log_path = (
        out / f"{selection.name}.json",
        out / f"{selection.name}.xml",
        out / f"{selection.name}.log",
    )
    cmd = suite.argv(binary, target, selection, junit, json_report)
    count = sum(1 for spec in selected.specs if spec.state == suite.PASSED)
    log(f"{install}: the suite's {selection.name} pass, {count} specs (log: {log_path})")
    first_failure = ""
    for attempt in range(1, suite.SETUP_ATTEMPTS + 1):
        with log_path.open("w", encoding="utf-8") as output, Progress(f"{install} {selection.name}", log_path):
            try:
                proc = subprocess.run(
                    cmd, cwd=out, stdout=output, stderr=subprocess.STDOUT, timeout=SUITE_TIMEOUT, check=False
                )
                code = proc.returncode
            except subprocess.TimeoutExpired:
                code = -1
                log(f"{install}: the {selection.name} pass did not finish within {SUITE_TIMEOUT}s")
        try:
            failure = suite.setup_failure(suite.parse_report(json_report))
        except ValueError:  # no report: said as the pass's failure when the reports are read
            failure = None
        if failure is None:
            return PassResult(selection.name, str(json_report), str(junit), code, first_failure)
        if attempt == suite.SETUP_ATTEMPTS:
            break
        first_failure = failure
        for path in (json_report, junit, log_path):  # the first attempt's files stay beside the second's
            if path.exists():
                path.rename(path.with_name(f"{path.stem}.attempt{attempt}{path.suffix}"))
        log(f"{install}: the {selection.name} pass's BeforeSuite failed, running the pass once more: {failure}")
    return PassResult(selection.name, str(json_report), str(junit), code)


# --- one install, in a process whose OCM_HUB_E2E_DIR is its own ------------------------------------


@contextlib.contextmanager
def suite_bootstrap(managed_kubeconfig: Path, hub_kubeconfig: Path) -> Iterator[None]:
    """The suite's own bootstrap kubeconfig in place of ocm-hub's while it runs (see `leg`), ocm-hub's
    Secret put back afterwards, whatever happened."""
    managed = Kube.from_file(str(managed_kubeconfig))
    path = f"/api/v1/namespaces/{installs.AGENT_NAMESPACE}/secrets/{installs.BOOTSTRAP_SECRET}"
    saved = managed.request("GET", path)
    own = base64.b64encode(installs.admin_bootstrap_kubeconfig(hub_kubeconfig)).decode()
    managed.request("PATCH", path, body={"data": {"kubeconfig": own}}, content_type="application/merge-patch+json")
    try:
        yield
    finally:
        managed.request(
            "PATCH", path, body={"data": saved.get("data") or {}}, content_type="application/merge-patch+json"
        )
        log("ocm-hub: managed-1's bootstrap-hub-kubeconfig is ocm-hub's again")


def leg(install: str, out: Path, labels: str, keep: bool) -> int:
    """One install on fresh local clusters of its own: install (timed), the suite's passes, the result in
    out/result.json. The clusters are stopped at the end unless `keep`."""
    import sandbox  # here: the sandbox reads OCM_HUB_E2E_DIR, this leg's own, when first imported

    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"install": install, "times": None, "passes": [], "error": None}
    binary = suite_binary()
    try:
        log(f"{install}: fresh local clusters in {sandbox.STATE_DIR}")
        sandbox.stop()
        # Nothing of an earlier run: its Pulumi state and local-stack marker would describe clusters
        # that are gone (measured: `make up` then saw 15 resources unchanged and failed on a release).
        shutil.rmtree(sandbox.STATE_DIR, ignore_errors=True)
        os.environ[kubelet.EXTRA_TOOLS_ENV] = ",".join(SUITE_POD_TOOLS)  # make up's start() inherits it
        paths = sandbox.start(build=True)
        hub, managed = paths["hub"], paths["managed-1"]
        install_log = out / "install.log"
        charts: installs.Charts | None = None
        if install == "ocm-hub":
            result["times"] = installs.install_ocm_hub(hub, sandbox.STATE_DIR, install_log)
        else:
            ocm = tools.select(["registration-operator"])[0]
            source = tools.module_dir(ocm)
            charts = installs.Charts(
                tools.ensure(["helm"])["helm"],
                source / "deploy" / "cluster-manager" / "chart" / "cluster-manager",
                source / "deploy" / "klusterlet" / "chart" / "klusterlet",
                ocm.version(),
            )
            result["times"] = installs.install_helm(charts, hub, managed, sandbox.STATE_DIR, install_log)
        log(f"{install}: {result['times']}")
        target = suite.Target(hub, managed, ocm_version())
        bootstrap = suite_bootstrap(managed, hub) if install == "ocm-hub" else contextlib.nullcontext()

        def hub_as_managed() -> None:
            if charts is None:
                installs.ocm_hub_klusterlet_on_hub(hub, ocm_version())
            else:
                installs.helm_klusterlet_on_hub(charts, hub, sandbox.STATE_DIR, install_log)

        if install == "ocm-hub":
            result["stack_before"] = installs.hub_gates(hub)
        with bootstrap:
            for selection in selections(labels):
                prepare = hub_as_managed if selection.on_hub else (lambda: None)
                passed = run_pass(binary, target, selection, out, install, prepare)
                if passed is not None:
                    result["passes"].append(asdict(passed))
        if install == "ocm-hub":  # what the suite left on the hub, and whether `make up` would see it
            result["stack_after"] = installs.hub_gates(hub)
            result["preview"] = installs.preview_ocm_hub(sandbox.STATE_DIR, install_log)
            installs.reapply_ocm_hub(sandbox.STATE_DIR, install_log)
            result["stack_reapplied"] = installs.hub_gates(hub)
    except (InstallError, sandbox.ClusterError) as err:
        result["error"] = str(err)
        log(f"{install}: {err}")
    except BaseException as err:  # recorded, so the run's table says this install broke off
        result["error"] = f"{type(err).__name__}: {err}"
        raise
    finally:
        (out / RESULT).write_text(json.dumps(result, indent=2), encoding="utf-8")
        if not keep:
            sandbox.stop()
    return 0 if result["error"] is None else 1


# --- the whole run ----------------------------------------------------------------------------------


def run_leg(install: str, out: Path, labels: str, keep: bool) -> dict[str, Any]:
    """One install's leg in a process of its own (its clusters in out/clusters), and what it recorded."""
    (out / RESULT).unlink(missing_ok=True)
    env = {**os.environ, STATE_DIR_ENV: str(out / "clusters")}
    cmd = [sys.executable, "-m", "sandbox.conformance", "leg", install, "--dir", str(out), "--labels", labels]
    if keep:
        cmd.append("--keep")
    subprocess.run(cmd, env=env, cwd=REPO_ROOT, check=False)
    try:
        loaded: dict[str, Any] = json.loads((out / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        loaded = {"install": install, "times": None, "passes": [], "error": "the install's process left no result"}
    return loaded


def report_of(result: dict[str, Any]) -> suite.Report:
    reports = []
    for entry in result["passes"]:
        try:
            reports.append(suite.parse_report(Path(entry["json_report"])))
        except ValueError as err:
            reports.append(suite.Report((), (f"{entry['name']} pass exited {entry['exit_code']}: {err}",)))
    if result.get("error"):
        reports.append(suite.Report((), (f"install: {result['error']}",)))
    return suite.merge(reports)


def times_table(results: dict[str, dict[str, Any]]) -> str:
    rows = [("time to a ready hub", "hub_ready"), ("registered cluster to Joined and Available", "joined_available")]
    names = list(results)
    head = f"{'':<44}" + "".join(f"{name:>10}" for name in names) + ("     ratio" if len(names) == 2 else "")
    lines = [head, "-" * len(head)]
    for title, key in rows:
        values = [(results[name].get("times") or {}).get(key) for name in names]
        cells = "".join(f"{value:>9.1f}s" if value is not None else f"{'-':>10}" for value in values)
        ratio = ""
        if len(values) == 2 and values[0] is not None and values[1]:
            ratio = f"{values[0] / values[1]:>9.2f}x"
        lines.append(f"{title:<44}{cells}{ratio}")
    return "\n".join(lines)


def stack_lines(result: dict[str, Any]) -> str:
    """The dev stack's ClusterManager gates before and after the suite, and what `make up` would do."""
    before, after = result.get("stack_before") or {}, result.get("stack_after") or {}

    def gates(found: dict[str, list[str]]) -> str:
        return "; ".join(f"{section}: {', '.join(items)}" for section, items in found.items()) or "none"

    reapplied = result.get("stack_reapplied")
    again = "not run" if reapplied is None else ("the stack's again" if reapplied == before else gates(reapplied))
    return (
        f"ClusterManager feature gates: the stack's {gates(before)}\n"
        f"  after the suite: {gates(after)}\n"
        f"  `make up` (its preview) would do: {result.get('preview', '?')}\n"
        f"  after the next `make up`: {again}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.conformance", description=__doc__)
    parser.add_argument("--labels", default="", help="a Ginkgo label filter (default: every label)")
    parser.add_argument("--installs", default=",".join(INSTALLS), help=f"comma-separated, of {', '.join(INSTALLS)}")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where the clusters, logs and reports go")
    parser.add_argument("--junit", type=Path, default=None, help="the JUnit file (default: DIR/junit.xml)")
    parser.add_argument("--keep", action="store_true", help="leave the clusters running afterwards")
    sub = parser.add_subparsers(dest="command")
    one = sub.add_parser("leg", help=argparse.SUPPRESS)
    one.add_argument("install", choices=INSTALLS)
    one.add_argument("--dir", type=Path, required=True)
    one.add_argument("--labels", default="")
    one.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "leg":
        return leg(args.install, args.dir.resolve(), args.labels, args.keep)

    chosen = [name.strip() for name in args.installs.split(",") if name.strip()]
    if not chosen or set(chosen) - set(INSTALLS):
        parser.error(f"--installs takes {', '.join(INSTALLS)}")
    base = args.dir.resolve()
    started = time.monotonic()
    # Everything both legs run, built once up front (each build says how long it takes).
    tools.ensure((*tools.CONFORMANCE_TOOLS, *tools.UP_TOOLS, *clusters.CLUSTER_TOOLS, *clusters.POD_TOOLS))
    binary = suite_binary()
    try:
        suite.check_names(dry_run(binary, suite.Selection("all", "", "Default"), base / "dry-run"), suite.named())
        for selection in selections(args.labels):
            suite.check_selection(dry_run(binary, selection, base / "dry-run"), selection)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stack_file = REPO_ROOT / f"Pulumi.{installs.STACK}.yaml"
    written = stack_file.read_bytes()
    results = {name: run_leg(name, base / name, args.labels, args.keep) for name in chosen}
    reports = {name: report_of(result) for name, result in results.items()}

    print()
    print(suite.table(reports))
    print()
    print(times_table(results))
    print()
    print("deselected (sandbox/conformance/suite.py DESELECTED):")
    for text, reason in sorted(suite.DESELECTED.items()):
        print(f"  - {text}: {reason}")
    print(f"run with the hub as the suite's managed cluster (ON_THE_HUB): {len(suite.ON_THE_HUB)} specs")
    if "stack_after" in results.get("ocm-hub", {}):
        print(stack_lines(results["ocm-hub"]))
    junit = args.junit or base / "junit.xml"
    suite.write_junit(reports, notes(), junit)
    print(f"JUnit: {junit}")
    failed = False
    for name, report in reports.items():
        for failure in suite.failures(report):
            print(f"FAILED ({name}) {failure}")
            failed = True
    for name, report in reports.items():
        for spec in suite.flaky(report):
            print(f"FLAKY ({name}) {spec}")
    for name, result in results.items():
        for entry in result["passes"]:
            if entry.get("setup_flake"):
                print(
                    f"FLAKY ({name}) the {entry['name']} pass's BeforeSuite, passed on attempt 2: {entry['setup_flake']}"
                )
    hub_leg = results.get("ocm-hub", {})
    if "stack_reapplied" in hub_leg and hub_leg["stack_reapplied"] != hub_leg.get("stack_before"):
        print("FAILED (ocm-hub) the next `make up` did not put the stack's ClusterManager feature gates back")
        failed = True
    if len(reports) == 2:
        first, second = (reports[name].passed_texts() for name in chosen)
        for text in sorted(first ^ second):
            print(f"DIFFERENT: passed on {chosen[0] if text in first else chosen[1]} only: {text}")
            failed = True
    if stack_file.read_bytes() != written:  # deploy's doing, not ours to undo: said, not hidden
        print(f"note: make up rewrote {stack_file.name} (a new stack's passphrase salt): `git diff {stack_file.name}`")
    print(f"took {time.monotonic() - started:.0f}s")
    print(suite.summary_line(reports[chosen[0]]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
