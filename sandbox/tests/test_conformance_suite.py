"""make conformance's view of OCM's e2e suite: its command line, the deselected specs, its reports by
label, the table, the summary line and the merged JUnit file."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from sandbox.conformance import suite

DATA = Path(__file__).resolve().parent / "data"
SUITE = "ocm E2E Suite"
TARGET = suite.Target(Path("/k/hub"), Path("/k/managed-1"), "v1.2.1")


def entry(
    containers: list[str],
    text: str,
    state: str = "passed",
    *,
    labels: list[list[str]] | None = None,
    leaf_labels: list[str] | None = None,
    seconds: float = 1.0,
    node: str = "It",
    failure: str = "",
) -> dict[str, Any]:
    """One entry of a Ginkgo v2 JSON report, with the keys v2.27 writes."""
    found: dict[str, Any] = {
        "ContainerHierarchyTexts": containers,
        "ContainerHierarchyLabels": labels if labels is not None else [[] for _ in containers],
        "LeafNodeType": node,
        "LeafNodeLabels": leaf_labels or [],
        "LeafNodeText": text,
        "State": state,
        "RunTime": int(seconds * 1e9),
    }
    if failure:
        found["Failure"] = {"Message": failure, "Location": {"FileName": "test/e2e/x_test.go", "LineNumber": 7}}
    return found


def write_report(path: Path, entries: list[dict[str, Any]], special: list[str] | None = None) -> Path:
    path.write_text(
        json.dumps(
            [{"SuiteDescription": SUITE, "RunTime": 5e9, "SpecialSuiteFailureReasons": special, "SpecReports": entries}]
        ),
        encoding="utf-8",
    )
    return path


def test_the_command_line_is_upstreams_with_the_selection_the_images_and_both_reports() -> None:
    selection = suite.Selection("Default", "!klusterlet-hosted", "Default", skip=("A spec (with) [brackets].",))
    args = suite.argv(Path("/bin/ocm-e2e"), TARGET, selection, Path("/r/junit.xml"), Path("/r/report.json"))
    assert args[0] == "/bin/ocm-e2e"
    assert "-hub-kubeconfig=/k/hub" in args
    assert "-managed-kubeconfig=/k/managed-1" in args
    assert "-klusterlet-deploy-mode=Default" in args
    assert "-nil-executor-validating=true" in args
    assert "-registration-image=quay.io/open-cluster-management/registration:v1.2.1" in args
    assert "-work-image=quay.io/open-cluster-management/work:v1.2.1" in args
    assert "-singleton-image=quay.io/open-cluster-management/registration-operator:v1.2.1" in args
    assert "-ginkgo.label-filter=!klusterlet-hosted" in args
    assert "-ginkgo.junit-report=/r/junit.xml" in args
    assert "-ginkgo.json-report=/r/report.json" in args
    assert "-ginkgo.flake-attempts=2" in args
    assert "-ginkgo.skip=^ocm E2E Suite A spec \\(with\\) \\[brackets\\]\\.$" in args
    assert not [arg for arg in args if arg.startswith(("-ginkgo.focus", "-expected-image-tag"))]
    assert "-ginkgo.dry-run" not in args
    assert "-ginkgo.dry-run" in suite.argv(Path("b"), TARGET, selection, Path("j"), Path("r"), dry_run=True)


def test_no_label_filter_selects_every_label() -> None:
    args = suite.argv(Path("b"), TARGET, suite.Selection("all", "", "Default"), Path("j"), Path("r"))
    assert not [arg for arg in args if arg.startswith(("-ginkgo.label-filter", "-ginkgo.skip"))]


def test_a_pass_on_the_hub_makes_the_hub_its_managed_cluster_and_checks_image_tags() -> None:
    """As upstream's one-cluster setup, where BeforeSuite finds the klusterlet operator on the hub."""
    selection = suite.Selection("Hub", "", "Default", focus=("Loopback x",), on_hub=True)
    args = suite.argv(Path("b"), TARGET, selection, Path("j"), Path("r"))
    assert "-managed-kubeconfig=/k/hub" in args
    assert "-expected-image-tag=v1.2.1" in args
    assert "-ginkgo.focus=^ocm E2E Suite Loopback x$" in args


@pytest.mark.parametrize(
    "text",
    [
        "Create klusterlet CR Created klusterlet without managed cluster name",
        "Loopback registration [development] Should register the hub as a managed cluster",
        "odd $name ^with {all} of .+*?|\\ them",
    ],
)
def test_a_skip_pattern_matches_its_spec_and_nothing_else(text: str) -> None:
    """Go's RE2 and Python agree on these escapes (punctuation only; RE2 refuses `\\ `)."""
    pattern = re.compile(suite.exact(text))
    assert pattern.match(f"{SUITE} {text}")
    assert not pattern.match(f"{SUITE} {text} and more")
    assert not pattern.match(f"{SUITE} prefix {text}")
    assert "\\ " not in suite.exact(text).replace("\\\\", "")


def test_every_spec_named_has_a_reason_and_one_place() -> None:
    assert suite.DESELECTED
    assert suite.ON_THE_HUB
    assert not set(suite.DESELECTED) & set(suite.ON_THE_HUB)
    assert all(len(reason) > 40 for reason in [*suite.DESELECTED.values(), *suite.ON_THE_HUB.values()])


def test_a_report_gives_each_spec_its_labels_state_and_time(tmp_path: Path) -> None:
    path = write_report(
        tmp_path / "r.json",
        [
            entry([], "", node="BeforeSuite", seconds=30),
            entry(["Placement"], "Should schedule", labels=[["placement", "sanity-check"]], seconds=2.5),
            entry(["Work agent", "With Job"], "runs it", "skipped", labels=[["work-agent"], []]),
            entry(["Lease"], "goes unknown", "failed", labels=[["addon-lease"]], leaf_labels=["slow"], failure="boom"),
            entry(["Admission webhook"], "rejects", "pending"),
            entry(["Timeouts"], "ran out", "timedout"),
            entry([], "", node="AfterSuite"),
        ],
    )
    report = suite.parse_report(path)
    assert [(s.text, s.labels, s.state) for s in report.specs] == [
        ("Placement Should schedule", ("placement", "sanity-check"), "passed"),
        ("Work agent With Job runs it", ("work-agent",), "skipped"),
        ("Lease goes unknown", ("addon-lease", "slow"), "failed"),
        ("Admission webhook rejects", (), "skipped"),
        ("Timeouts ran out", (), "failed"),
    ]
    assert report.specs[0].seconds == 2.5
    assert report.specs[2].failure == "boom (test/e2e/x_test.go:7)"
    assert report.suite_failures == ()
    assert report.failed
    assert report.seconds == 5.0


def test_a_failed_before_suite_fails_the_run_even_with_no_spec_failed(tmp_path: Path) -> None:
    path = write_report(
        tmp_path / "r.json",
        [entry([], "", "failed", node="BeforeSuite", failure="hub not ready"), entry(["P"], "x", "skipped")],
        special=["Interrupted by User"],
    )
    report = suite.parse_report(path)
    assert report.count(suite.FAILED) == 0
    assert report.suite_failures == ("[BeforeSuite] hub not ready (test/e2e/x_test.go:7)", "Interrupted by User")
    assert report.failed
    assert suite.failures(report)[0].startswith("suite: [BeforeSuite] hub not ready")


@pytest.mark.parametrize("content", ["", "{}", "not json"])
def test_a_report_that_is_not_ginkgos_is_an_error_naming_it(tmp_path: Path, content: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json"):
        suite.parse_report(path)
    with pytest.raises(ValueError, match=r"missing\.json"):
        suite.parse_report(tmp_path / "missing.json")


def test_a_real_report_of_the_suite_is_read(tmp_path: Path) -> None:
    """An excerpt of a report the v1.2.1 suite wrote against the local clusters (trimmed, not edited)."""
    report = suite.parse_report(DATA / "ginkgo-report.json")
    by_text = {spec.text: spec for spec in report.specs}
    placement = by_text["Placement Should schedule successfully"]
    assert placement.labels == ("placement", "sanity-check")
    assert placement.state == suite.PASSED
    assert placement.seconds > 1
    lease = by_text[
        "Addon Health Check Checking managed cluster status to update addon status "
        "Should update addon status to unknown if managed cluster stops to update its lease"
    ]
    assert lease.state == suite.FAILED
    assert lease.failure.startswith("Unexpected error:")
    assert "not found" in lease.failure
    assert lease.failure.endswith("(test/e2e/addon_lease_test.go:253)")  # not gomega's own file
    assert report.suite_failures == ()


def test_the_passes_of_one_install_merge_into_each_spec_once() -> None:
    hosted = suite.Spec("Delete hosted klusterlet", ("klusterlet-hosted",), suite.SKIPPED, 0)
    default = suite.Report((hosted, suite.Spec("Placement x", ("placement",), suite.PASSED, 3)), seconds=10)
    second = suite.Report(
        (suite.Spec("Delete hosted klusterlet", ("klusterlet-hosted",), suite.PASSED, 4),),
        ("[AfterSuite] x",),
        seconds=5,
    )
    merged = suite.merge([default, second])
    assert {(s.text, s.state) for s in merged.specs} == {
        ("Delete hosted klusterlet", suite.PASSED),
        ("Placement x", suite.PASSED),
    }
    assert merged.suite_failures == ("[AfterSuite] x",)
    assert merged.seconds == 15


def test_two_specs_with_one_text_stay_two() -> None:
    """The suite has them (v1beta1 and v1beta2 ManagedClusterSetBinding webhook specs): told apart by where
    they are declared."""
    twins = [suite.Spec("Binding denies", (), suite.PASSED, 1, location=f"webhook_test.go:{line}") for line in (10, 20)]
    assert len(suite.merge([suite.Report(tuple(twins))]).specs) == 2


def report_of(*specs: tuple[str, tuple[str, ...], str, float]) -> suite.Report:
    return suite.Report(tuple(suite.Spec(text, labels, state, seconds) for text, labels, state, seconds in specs))


def test_each_label_counts_its_specs_a_spec_of_two_labels_in_both() -> None:
    report = report_of(
        ("a", ("placement", "sanity-check"), suite.PASSED, 2),
        ("b", ("work-agent", "sanity-check"), suite.FAILED, 3),
        ("c", ("klusterlet",), suite.SKIPPED, 0),
        ("d", (), suite.PASSED, 1.5),
        ("e", ("brand-new",), suite.PASSED, 1),
    )
    rows = suite.tally_by_label(report)
    assert list(rows) == ["sanity-check", "placement", "work-agent", "klusterlet", "brand-new", suite.NO_LABEL]
    assert rows["sanity-check"] == suite.Tally(1, 1, 0, 5)
    assert rows["placement"] == suite.Tally(1, 0, 0, 2)
    assert rows[suite.NO_LABEL] == suite.Tally(1, 0, 0, 1.5)
    assert suite.total(report) == suite.Tally(3, 1, 1, 7.5)
    assert suite.summary_line(report) == "conformance: 3 passed, 1 failed, 1 skipped of 5"


def test_the_table_has_a_row_per_label_and_a_column_group_per_install() -> None:
    ocm_hub = report_of(("a", ("placement", "sanity-check"), suite.PASSED, 2), ("b", (), suite.FAILED, 90))
    helm = report_of(("a", ("placement", "sanity-check"), suite.PASSED, 3), ("b", (), suite.PASSED, 4))
    lines = suite.table({"ocm-hub": ocm_hub, "helm": helm}).splitlines()
    assert "ocm-hub" in lines[0]
    assert "helm" in lines[0]
    assert lines[1].split() == ["label", *["passed", "failed", "skipped", "seconds"] * 2]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:] if not line.startswith("-")}
    assert rows["sanity-check"] == ["1", "0", "0", "2", "1", "0", "0", "3"]
    assert rows["placement"] == ["1", "0", "0", "2", "1", "0", "0", "3"]
    assert lines[-1].split() == ["every", "spec", "1", "1", "0", "92", "2", "0", "0", "7"]
    assert "(no label)" in lines[-3]


def test_a_label_one_install_never_ran_shows_dashes() -> None:
    table = suite.table({"x": report_of(("a", ("addon",), suite.PASSED, 1)), "y": report_of()})
    (addon,) = [line for line in table.splitlines() if line.startswith("addon")]
    assert addon.split() == ["addon", "1", "0", "0", "1", "-", "-", "-", "-"]


def test_a_stale_name_is_an_error() -> None:
    listed = report_of(
        ("Create klusterlet CR Created klusterlet without managed cluster name", ("klusterlet",), suite.SKIPPED, 0)
    )
    suite.check_names(listed, ["Create klusterlet CR Created klusterlet without managed cluster name"])
    with pytest.raises(ValueError, match="not in the suite"):
        suite.check_names(listed, ["Create klusterlet CR Renamed"])


def test_the_junit_file_has_each_spec_once_per_install_and_why_one_was_skipped(tmp_path: Path) -> None:
    ocm_hub = suite.Report(
        (
            suite.Spec("Placement x", ("placement", "sanity-check"), suite.PASSED, 2.5),
            suite.Spec("Klusterlet y", ("klusterlet",), suite.SKIPPED, 0),
            suite.Spec("Work z", (), suite.FAILED, 90, "Timed out (test/e2e/work_test.go:9)"),
        ),
        ("[AfterSuite] cleanup failed",),
        seconds=100,
    )
    helm = suite.Report((suite.Spec("Placement x", ("placement", "sanity-check"), suite.PASSED, 3),), seconds=3)
    out = tmp_path / "out" / "junit.xml"
    suite.write_junit({"ocm-hub": ocm_hub, "helm": helm}, {"Klusterlet y": "deselected: deletes managed-1"}, out)
    root = ET.parse(out).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("5", "2", "1")
    first, second = root.findall("testsuite")
    assert (first.get("name"), second.get("name")) == ("ocm-hub: ocm E2E Suite", "helm: ocm E2E Suite")
    cases = {case.get("name"): case for case in first.findall("testcase")}
    assert set(cases) == {
        "[suite]",
        "[It] Placement x [placement, sanity-check]",
        "[It] Klusterlet y [klusterlet]",
        "[It] Work z",
    }
    assert cases["[It] Placement x [placement, sanity-check]"].get("time") == "2.500"
    assert cases["[It] Klusterlet y [klusterlet]"].find("skipped").get("message") == "deselected: deletes managed-1"  # type: ignore[union-attr]
    assert cases["[It] Work z"].find("failure").text == "Timed out (test/e2e/work_test.go:9)"  # type: ignore[union-attr]
    assert cases["[suite]"].find("failure").get("message") == "[AfterSuite] cleanup failed"  # type: ignore[union-attr]


def test_a_dry_run_proves_the_skip_and_focus_patterns_select_what_they_name() -> None:
    selection = suite.Selection("Hub", "", "Default", focus=("a",), skip=("b",), on_hub=True)
    suite.check_selection(report_of(("a", (), suite.PASSED, 0), ("b", (), suite.SKIPPED, 0)), selection)
    with pytest.raises(ValueError, match=r"would run specs it skips: \['b'\]"):
        suite.check_selection(report_of(("a", (), suite.PASSED, 0), ("b", (), suite.PASSED, 0)), selection)
    with pytest.raises(ValueError, match=r"does not focus on: \['c'\]"):
        suite.check_selection(report_of(("a", (), suite.PASSED, 0), ("c", (), suite.PASSED, 0)), selection)


def test_a_spec_that_passed_only_on_its_second_attempt_is_named_as_flaky(tmp_path: Path) -> None:
    retried = {**entry(["Webhook"], "accepts an authorized user"), "NumAttempts": 2}
    failed_twice = {**entry(["Webhook"], "forbids", "failed", failure="403"), "NumAttempts": 2}
    report = suite.parse_report(write_report(tmp_path / "r.json", [retried, failed_twice, entry(["A"], "b")]))
    assert [spec.attempts for spec in report.specs] == [2, 2, 1]
    assert suite.flaky(report) == ["Webhook accepts an authorized user: passed on attempt 2"]
    assert suite.total(report) == suite.Tally(2, 1, 0, 3.0)


def test_a_before_suite_that_failed_before_any_spec_is_a_setup_failure(tmp_path: Path) -> None:
    before = entry([], "", "failed", node="BeforeSuite", failure="cluster conditions are not ready")
    failed_setup = suite.parse_report(write_report(tmp_path / "a.json", [before, entry(["A"], "b", "skipped")]))
    assert suite.setup_failure(failed_setup) == "[BeforeSuite] cluster conditions are not ready (test/e2e/x_test.go:7)"
    after = entry([], "", "failed", node="AfterSuite", failure="cleanup")
    ran = suite.parse_report(write_report(tmp_path / "b.json", [entry(["A"], "b"), after]))
    assert suite.setup_failure(ran) is None
    only_after = suite.parse_report(write_report(tmp_path / "c.json", [after, entry(["A"], "b", "skipped")]))
    assert suite.setup_failure(only_after) is None


# The suite binary as run_pass runs it: a dry run copies $FAKE_DIR/dry.json to its JSON report, the n-th
# real run $FAKE_DIR/run<n>.json (the last one there when n is past it).
FAKE_SUITE = r"""#!{python}
import os, shutil, sys
fake = os.environ["FAKE_DIR"]
report = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("-ginkgo.json-report="))
if "-ginkgo.dry-run" in sys.argv:
    shutil.copy(os.path.join(fake, "dry.json"), report)
    sys.exit(0)
runs = os.path.join(fake, "runs")
n = int(open(runs).read()) + 1 if os.path.exists(runs) else 1
open(runs, "w").write(str(n))
name = "run%d.json" % n if os.path.exists(os.path.join(fake, "run%d.json" % n)) else sorted(
    f for f in os.listdir(fake) if f.startswith("run") and f.endswith(".json"))[-1]
shutil.copy(os.path.join(fake, name), report)
print("ran", name)
sys.exit(0 if "passed" in open(report).read() else 1)
"""


@pytest.mark.parametrize("second", ["passes", "fails again"])
def test_a_pass_whose_before_suite_failed_runs_once_more_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second: str
) -> None:
    from sandbox.conformance import __main__ as conformance

    fake = tmp_path / "fake"
    fake.mkdir()
    binary = fake / "ocm-e2e"
    binary.write_text(FAKE_SUITE.format(python=sys.executable))
    binary.chmod(0o755)
    monkeypatch.setenv("FAKE_DIR", str(fake))
    monkeypatch.setattr(conformance, "ocm_version", lambda: "v1.2.1")
    before = entry([], "", "failed", node="BeforeSuite", failure="conditions are not ready")
    write_report(fake / "dry.json", [entry(["Hosted"], "deletes the klusterlet")])
    write_report(fake / "run1.json", [before, entry(["Hosted"], "deletes the klusterlet", "skipped")])
    if second == "passes":
        write_report(fake / "run2.json", [entry(["Hosted"], "deletes the klusterlet")])
    out = tmp_path / "out"
    selection = suite.Selection("Hosted", "klusterlet-hosted", "Hosted")
    result = conformance.run_pass(binary, TARGET, selection, out, "ocm-hub")
    assert result is not None
    assert (fake / "runs").read_text() == "2", "run once more, and only once"
    assert (out / "Hosted.attempt1.json").is_file()
    assert (out / "Hosted.attempt1.log").is_file()
    final = suite.parse_report(Path(result.json_report))
    if second == "passes":
        assert result.setup_flake == "[BeforeSuite] conditions are not ready (test/e2e/x_test.go:7)"
        assert (result.exit_code, final.failed) == (0, False)
    else:
        assert result.setup_flake == "", "failed on both attempts: a failure, not a flake"
        assert (result.exit_code, suite.failures(final)) == (1, [f"suite: {suite.setup_failure(final)}"])
