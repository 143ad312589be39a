"""OCM's e2e suite as `make conformance` runs it: its command line, the specs it does not select (one
list, each with its measured reason), and what its reports say, by label.

The suite (open-cluster-management.io/ocm@v1.2.1 test/e2e, built by sandbox.tools as `ocm-e2e`) is a
Ginkgo v2 test binary. Its JSON report (`-ginkgo.json-report`) is what is read here: it names each
spec's labels as data, where the JUnit report only appends them to the spec's name. The JUnit reports
are kept too, merged into one file for CI (`merge_junit`).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The labels of the suite's specs, in the order the table shows them (`-ginkgo.dry-run` of v1.2.1).
LABELS = (
    "sanity-check",
    "placement",
    "validating-webhook",
    "work-agent",
    "registration-taint",
    "klusterlet",
    "klusterlet-hosted",
    "addon",
    "addon-lease",
    "addon-manager",
    "addon-conversion",
    "manifestworkreplicaset",
)
# The labels this project must pass at least (issue 25).
REQUIRED_LABELS = ("sanity-check", "placement", "validating-webhook", "registration-taint", "klusterlet")
NO_LABEL = "(no label)"
SUITE_DESCRIPTION = "ocm E2E Suite"
# Ginkgo's states: a spec that did not pass or skip failed, whatever the way.
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
SKIP_STATES = frozenset({"skipped", "pending"})
# Ginkgo runs a failed spec once more (-ginkgo.flake-attempts). Some specs act on what they created a
# moment before with no wait: "Should accept the request when updating the clusterset of a managed
# cluster by authorized user" uses a ServiceAccount's token right after binding its role, and on the
# 2 shared cores the API server's RBAC cache lagged (403, measured once on the Helm install, 0.6 s). A
# spec that passes only on its second attempt is reported as flaky by name (`flaky`), never hidden.
FLAKE_ATTEMPTS = 2
# Ginkgo does not retry a BeforeSuite: a pass whose BeforeSuite failed before any spec ran is run once more
# (measured once at 10dd029: ocm-hub's Hosted pass, the universal agent's approved CSR never reached it
# within the suite's 90 s; the same pass alone right after passed). `setup_failure` says when, and the
# run names it as flaky too (`make conformance` prints `FLAKY ... BeforeSuite`).
SETUP_ATTEMPTS = 2

# Specs named by their full text (containers and the spec's own text, as Ginkgo joins them). A name
# no longer in the suite is an error (`check_names`), so neither list can go stale.
#
# Written for upstream's setup, one cluster that is both the hub and the suite's managed cluster: each
# reads or writes on the hub what an agent keeps on its managed cluster (measured on the local clusters,
# where the suite's managed cluster is managed-1). They run in a pass of their own whose managed
# cluster is the hub, with a klusterlet operator there installed the way each install installs one.
ON_THE_HUB: dict[str, str] = {
    "Manage the managed cluster addons Create one managed cluster addon and make sure it is available": (
        "writes the addon's Lease on the hub (framework CreateManagedClusterAddOnLease uses the hub client), "
        "where no agent of the suite's cluster reads it: Available never comes (90 s timeout)"
    ),
    "Manage the managed cluster addons Create one managed cluster addon and make sure it is available in Hosted mode": (
        "the same Lease on the hub as the spec above: Available never comes (90 s timeout)"
    ),
    "Addon Health Check Checking managed cluster status to update addon status "
    "Should update addon status to unknown if managed cluster stops to update its lease": (
        "its cleanup deletes on the hub the namespace it created on the managed cluster "
        "(addon_lease_test.go:252): 404, the spec fails in AfterEach"
    ),
    "Enable addon management feature gate Template type addon should be functioning": (
        "looks for the addon's hub kubeconfig Secret on the hub; the addon's agent writes it on its managed "
        "cluster (90 s timeout); its container is Ordered, so its failure skips the 7 specs after it"
    ),
    "ManagedNamespace ManagedClusterSet with ManagedNamespaces "
    "should cleanup previously managed namespaces when removed from cluster set": (
        "managed-1 runs two klusterlets of the same hub (its own and the suite's), whose agents label the "
        "same namespaces: managed-1's own, whose cluster has no managed namespaces, sets the hub's label to "
        "false on what the suite's sets true (pkg/registration/spoke/managedcluster/managed_namespace_reconcile.go)"
    ),
    "Loopback registration [development] Should register the hub as a managed cluster": (
        "registers the hub itself: it creates a ClusterClaim on the hub, whose CRD only a klusterlet installs "
        "(404 from the hub, 90 s timeout)"
    ),
}
# Specs not selected at all, each with the reason measured on the local clusters: passed to every pass
# as `-ginkgo.skip`, shown in the README and by `make conformance`.
DESELECTED: dict[str, str] = {
    "Create klusterlet CR Created klusterlet without managed cluster name": (
        "takes the first ManagedCluster whose name lacks the prefix `e2e-` for the one its klusterlet "
        "registered (klusterlet_test.go): both installs register managed-1, so the spec times out waiting for "
        "managed-1's klusterlet to report its hub connection, then its cleanup deletes managed-1 (measured); "
        "upstream's hub has no cluster but the suite's own"
    ),
}


@dataclass(frozen=True)
class Spec:
    """One spec of a report: its full text, labels, what became of it, how long it took."""

    text: str
    labels: tuple[str, ...]
    state: str  # PASSED, FAILED or SKIPPED
    seconds: float
    failure: str = ""
    # Where the spec is declared (file:line): two specs of the suite share their full text.
    location: str = ""
    attempts: int = 1  # how many times Ginkgo ran it (more than one: it failed before)


@dataclass(frozen=True)
class Report:
    """One run of the suite: its specs, and the suite-level nodes (BeforeSuite, AfterSuite...) that failed."""

    specs: tuple[Spec, ...]
    suite_failures: tuple[str, ...] = ()
    seconds: float = 0.0

    def count(self, state: str) -> int:
        return sum(1 for spec in self.specs if spec.state == state)

    @property
    def failed(self) -> bool:
        return bool(self.suite_failures) or self.count(FAILED) > 0

    def passed_texts(self) -> frozenset[str]:
        return frozenset(spec.text for spec in self.specs if spec.state == PASSED)


@dataclass(frozen=True)
class Tally:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    def add(self, spec: Spec) -> Tally:
        return Tally(
            self.passed + (spec.state == PASSED),
            self.failed + (spec.state == FAILED),
            self.skipped + (spec.state == SKIPPED),
            self.seconds + spec.seconds,
        )

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.passed + other.passed,
            self.failed + other.failed,
            self.skipped + other.skipped,
            self.seconds + other.seconds,
        )


@dataclass(frozen=True)
class Selection:
    """One pass of the suite: a Ginkgo label filter ("" for every label), specs focused by name (none: every
    spec the filter selects), specs skipped by name, the mode of the klusterlets the suite creates
    (-klusterlet-deploy-mode), and whether its managed cluster is the hub itself (as upstream's)."""

    name: str
    label_filter: str
    klusterlet_mode: str
    focus: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    on_hub: bool = False


@dataclass(frozen=True)
class Target:
    """Where the suite runs: the hub and the managed cluster whose klusterlet operator it uses, and the
    release of OCM's images there."""

    hub_kubeconfig: Path
    managed_kubeconfig: Path
    ocm_version: str


def image(name: str, version: str) -> str:
    """An OCM image as upstream publishes it; the local kubelet runs the binary built at that tag."""
    return f"quay.io/open-cluster-management/{name}:{version}"


def go_regexp_quote(text: str) -> str:
    """Quote text for Go's regexp (RE2), which refuses escapes of anything but punctuation."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


def exact(text: str) -> str:
    """A `-ginkgo.focus`/`-ginkgo.skip` pattern matching exactly one spec: Ginkgo matches it against the
    suite's description and the spec's full text, joined by a space."""
    return f"^{go_regexp_quote(f'{SUITE_DESCRIPTION} {text}')}$"


def argv(
    binary: Path, target: Target, selection: Selection, junit: Path, json_report: Path, *, dry_run: bool = False
) -> list[str]:
    """The suite's command line, as upstream's test/e2e-test.mk runs it (-nil-executor-validating=true and
    the three images of the release), with the selection and the two reports.

    -expected-image-tag only when the hub is the suite's managed cluster: with it, BeforeSuite checks the
    klusterlet operator Deployment on the *hub* (open-cluster-management/klusterlet, e2e_suite_test.go
    validateKlusterletImageTags), which only upstream's one-cluster setup has. The images are checked in
    every pass anyway: every klusterlet the suite creates runs the images given here, and the local
    kubelet runs only the build whose version their tag names."""
    managed = target.hub_kubeconfig if selection.on_hub else target.managed_kubeconfig
    args = [
        str(binary),
        f"-hub-kubeconfig={target.hub_kubeconfig}",
        f"-managed-kubeconfig={managed}",
        f"-klusterlet-deploy-mode={selection.klusterlet_mode}",
        "-nil-executor-validating=true",
        f"-registration-image={image('registration', target.ocm_version)}",
        f"-work-image={image('work', target.ocm_version)}",
        f"-singleton-image={image('registration-operator', target.ocm_version)}",
        "-ginkgo.no-color",
        f"-ginkgo.flake-attempts={FLAKE_ATTEMPTS}",
        "-ginkgo.v",
        f"-ginkgo.junit-report={junit}",
        f"-ginkgo.json-report={json_report}",
    ]
    if selection.on_hub:
        args.append(f"-expected-image-tag={target.ocm_version}")
    if selection.label_filter:
        args.append(f"-ginkgo.label-filter={selection.label_filter}")
    args += [f"-ginkgo.focus={exact(text)}" for text in sorted(selection.focus)]
    args += [f"-ginkgo.skip={exact(text)}" for text in sorted(selection.skip)]
    if dry_run:
        args.append("-ginkgo.dry-run")
    return args


def _labels(spec: Mapping[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for group in [*(spec.get("ContainerHierarchyLabels") or []), spec.get("LeafNodeLabels") or []]:
        found += [label for label in group or [] if label not in found]
    return tuple(found)


def _text(spec: Mapping[str, Any]) -> str:
    return " ".join(t for t in [*(spec.get("ContainerHierarchyTexts") or []), spec.get("LeafNodeText", "")] if t)


def _location(spec: Mapping[str, Any]) -> str:
    where = spec.get("LeafNodeLocation") or {}
    return f"{where.get('FileName', '')}:{where.get('LineNumber', '')}" if where else ""


def _state(ginkgo_state: str) -> str:
    if ginkgo_state == PASSED:
        return PASSED
    return SKIPPED if ginkgo_state in SKIP_STATES else FAILED


MESSAGE_LINES = 4
# A frame of the suite's own source in a Go stack trace: where a failure is, gomega's frames aside.
SUITE_FRAME = re.compile(r"(test/(?:e2e|framework)/[\w/.-]+\.go:\d+)")


def _failure(spec: Mapping[str, Any]) -> str:
    """The failure's first lines and the line of the suite's source it happened at."""
    failure = spec.get("Failure") or {}
    lines = [line.strip() for line in str(failure.get("Message") or "").splitlines() if line.strip()]
    message = " ".join(lines[:MESSAGE_LINES])
    location = failure.get("Location") or {}
    frame = SUITE_FRAME.search(str(location.get("FullStackTrace") or ""))
    where = frame.group(1) if frame else f"{location.get('FileName', '')}:{location.get('LineNumber', '')}".strip(":")
    return f"{message} ({where})" if where else message


def parse_report(path: Path) -> Report:
    """A Ginkgo JSON report: its specs (It nodes) and the suite-level nodes that failed. A report that is
    missing or not Ginkgo's is an error naming the file."""
    try:
        suites = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: no readable Ginkgo JSON report ({err})") from None
    if not isinstance(suites, list):
        raise ValueError(f"{path}: not a Ginkgo JSON report (a list of suite reports)")
    specs: list[Spec] = []
    suite_failures: list[str] = []
    seconds = 0.0
    for suite in suites:
        seconds += float(suite.get("RunTime") or 0) / 1e9
        for entry in suite.get("SpecReports") or []:
            state = _state(str(entry.get("State", "")))
            if entry.get("LeafNodeType") == "It":
                failure = _failure(entry) if state == FAILED else ""
                runtime = float(entry.get("RunTime") or 0) / 1e9
                attempts = int(entry.get("NumAttempts") or 1)
                specs.append(Spec(_text(entry), _labels(entry), state, runtime, failure, _location(entry), attempts))
            elif state == FAILED:
                suite_failures.append(f"[{entry.get('LeafNodeType')}] {_failure(entry)}")
        for reason in suite.get("SpecialSuiteFailureReasons") or []:
            suite_failures.append(str(reason))
    return Report(tuple(specs), tuple(suite_failures), seconds)


def setup_failure(report: Report) -> str | None:
    """The BeforeSuite failure of a run in which no spec ran because of it, else None."""
    if report.count(PASSED) or report.count(FAILED):
        return None
    return next((failure for failure in report.suite_failures if failure.startswith("[BeforeSuite]")), None)


def check_names(dry_run: Report, names: Iterable[str]) -> None:
    """Every spec named here must be a spec of the suite (a dry run lists them all)."""
    texts = {spec.text for spec in dry_run.specs}
    stale = sorted(set(names) - texts)
    if stale:
        raise ValueError(
            f"specs named in sandbox/conformance/suite.py that are not in the suite (renamed or removed upstream?): {stale}"
        )


def named() -> list[str]:
    """Every spec this module names."""
    return [*DESELECTED, *ON_THE_HUB]


def check_selection(dry_run: Report, selection: Selection) -> None:
    """A dry run of the selection runs none of the specs it skips and, when it focuses, only those: the
    patterns are quoted for Go's regexp here, so this is where a quoting mistake would show."""
    run = {spec.text for spec in dry_run.specs if spec.state == PASSED}
    if leaked := sorted(run & set(selection.skip)):
        raise ValueError(f"the {selection.name} pass would run specs it skips: {leaked}")
    if selection.focus and (stray := sorted(run - set(selection.focus))):
        raise ValueError(f"the {selection.name} pass would run specs it does not focus on: {stray}")


def merge(reports: Sequence[Report]) -> Report:
    """The runs of one install (a Default and a Hosted selection) as one: each spec once, with the result
    of the run that selected it (a spec no run selected stays skipped)."""
    by_spec: dict[tuple[str, str], Spec] = {}
    for report in reports:
        for spec in report.specs:
            key = (spec.text, spec.location)
            if key not in by_spec or by_spec[key].state == SKIPPED:
                by_spec[key] = spec
    failures = tuple(failure for report in reports for failure in report.suite_failures)
    return Report(tuple(by_spec.values()), failures, sum(report.seconds for report in reports))


def tally_by_label(report: Report) -> dict[str, Tally]:
    """Per label (a spec with two labels counts in both), then NO_LABEL; labels with no spec are left out."""
    rows: dict[str, Tally] = {}
    extra = sorted({label for spec in report.specs for label in spec.labels} - set(LABELS))
    for label in (*LABELS, *extra):
        specs = [spec for spec in report.specs if label in spec.labels]
        if specs:
            rows[label] = _sum(specs)
    unlabelled = [spec for spec in report.specs if not spec.labels]
    if unlabelled:
        rows[NO_LABEL] = _sum(unlabelled)
    return rows


def _sum(specs: Iterable[Spec]) -> Tally:
    total = Tally()
    for spec in specs:
        total = total.add(spec)
    return total


def total(report: Report) -> Tally:
    return _sum(report.specs)


def summary_line(report: Report) -> str:
    t = total(report)
    return f"conformance: {t.passed} passed, {t.failed} failed, {t.skipped} skipped of {len(report.specs)}"


COLUMNS = ("passed", "failed", "skipped", "seconds")


def _cells(tally: Tally | None) -> list[str]:
    if tally is None:
        return ["-"] * len(COLUMNS)
    return [str(tally.passed), str(tally.failed), str(tally.skipped), f"{tally.seconds:.0f}"]


def table(reports: Mapping[str, Report]) -> str:
    """One table: a row per label, for each install its specs passed, failed, skipped and the seconds
    they took; the last row counts every spec once."""
    tallies = {install: tally_by_label(report) for install, report in reports.items()}
    found = {label for rows in tallies.values() for label in rows}
    order = [label for label in (*LABELS, NO_LABEL) if label in found] + sorted(found - {*LABELS, NO_LABEL})
    rows = [[label] + [cell for install in reports for cell in _cells(tallies[install].get(label))] for label in order]
    rows.append(["every spec"] + [cell for report in reports.values() for cell in _cells(total(report))])
    first = max(len(row[0]) for row in [["label"], *rows])
    width = max(len(column) for column in COLUMNS)
    group = len(COLUMNS) * (width + 1) - 1

    def line(label: str, cells: Sequence[str]) -> str:
        groups = [cells[i : i + len(COLUMNS)] for i in range(0, len(cells), len(COLUMNS))]
        return (label.ljust(first) + "".join("   " + " ".join(c.rjust(width) for c in g) for g in groups)).rstrip()

    installs = "".ljust(first) + "".join("   " + name.center(group) for name in reports)
    head = line("label", list(COLUMNS) * len(reports))
    rule = "-" * len(head)
    body = [line(row[0], row[1:]) for row in rows]
    return "\n".join([installs.rstrip(), head, rule, *body[:-1], rule, body[-1]])


def failures(report: Report) -> list[str]:
    """What failed, one entry each: suite-level nodes first, then specs with their message."""
    found = [f"suite: {failure}" for failure in report.suite_failures]
    found += [f"{spec.text}: {spec.failure}" for spec in report.specs if spec.state == FAILED]
    return found


def flaky(report: Report) -> list[str]:
    """The specs that passed only after a failed attempt, with how many attempts they took."""
    return [
        f"{spec.text}: passed on attempt {spec.attempts}"
        for spec in report.specs
        if spec.state == PASSED and spec.attempts > 1
    ]


def write_junit(reports: Mapping[str, Report], notes: Mapping[str, str], out: Path) -> None:
    """One JUnit file: a test suite per install, each spec once with its result (the passes merged, as in
    the table), named as Ginkgo names it (`[It] <text> [labels]`); a skipped spec's message says why
    when `notes` does."""
    root = ET.Element("testsuites")
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    seconds = 0.0
    for install, report in reports.items():
        tally = total(report)
        suite_element = ET.SubElement(
            root,
            "testsuite",
            name=f"{install}: {SUITE_DESCRIPTION}",
            tests=str(len(report.specs) + len(report.suite_failures)),
            failures=str(tally.failed + len(report.suite_failures)),
            skipped=str(tally.skipped),
            time=f"{report.seconds:.3f}",
        )
        for failure in report.suite_failures:
            case = ET.SubElement(suite_element, "testcase", name="[suite]", classname=install, time="0")
            ET.SubElement(case, "failure", message=failure.splitlines()[0] if failure else "").text = failure
        for spec in report.specs:
            labels = f" [{', '.join(spec.labels)}]" if spec.labels else ""
            case = ET.SubElement(
                suite_element,
                "testcase",
                name=f"[It] {spec.text}{labels}",
                classname=install,
                time=f"{spec.seconds:.3f}",
            )
            if spec.state == FAILED:
                ET.SubElement(case, "failure", message=spec.failure[:200]).text = spec.failure
            elif spec.state == SKIPPED:
                ET.SubElement(case, "skipped", message=notes.get(spec.text, "skipped"))
        counts["tests"] += int(suite_element.get("tests", "0"))
        counts["failures"] += int(suite_element.get("failures", "0"))
        counts["skipped"] += tally.skipped
        seconds += report.seconds
    for key, value in counts.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    out.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)
