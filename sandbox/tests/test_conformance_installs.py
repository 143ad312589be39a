"""What make conformance calls a ready hub and a Joined and Available cluster, how it times both
installs, and the table of times with their ratio."""

from __future__ import annotations

import copy
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox import images, kubelet, tools
from sandbox.conformance import installs, suite
from sandbox.conformance.__main__ import SUITE_POD_TOOLS, selections, stack_lines, times_table

HUB = "open-cluster-management-hub"


def deployment(
    name: str, *, ready: int = 1, replicas: int = 1, generation: int = 2, observed: int = 2
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
        },
    }


def ready_hub() -> dict[str, dict[str, Any]]:
    """The objects of a ready hub, by API path."""
    objects: dict[str, dict[str, Any]] = {
        installs.CLUSTER_MANAGER: {
            "metadata": {"generation": 3},
            "spec": {"workConfiguration": {"featureGates": [{"feature": "ManifestWorkReplicaSet", "mode": "Disable"}]}},
            "status": {
                "observedGeneration": 3,
                "conditions": [
                    {"type": "Applied", "status": "True"},
                    {"type": "ValidFeatureGates", "status": "True"},
                    {"type": "HubRegistrationDegraded", "status": "False"},
                    {"type": "HubPlacementDegraded", "status": "False"},
                    {"type": "Progressing", "status": "False"},
                ],
            },
        }
    }
    for name in (*installs.HUB_DEPLOYMENTS, "work-controller"):
        objects[f"/apis/apps/v1/namespaces/{HUB}/deployments/cluster-manager-{name}"] = deployment(name)
    return objects


def reason(objects: dict[str, dict[str, Any]]) -> str | None:
    return installs.hub_not_ready(objects.get)


def test_a_hub_is_ready_as_the_suite_checks_it() -> None:
    assert reason(ready_hub()) is None


def test_no_cluster_manager_or_an_unobserved_generation_is_not_ready() -> None:
    objects = ready_hub()
    assert reason({}) == "no ClusterManager"
    objects[installs.CLUSTER_MANAGER]["status"]["observedGeneration"] = 2
    assert reason(objects) == "ClusterManager generation not observed yet"


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("Applied", "False", "ClusterManager Applied is False"),
        ("ValidFeatureGates", "False", "ClusterManager ValidFeatureGates is False"),
        ("Progressing", "True", "ClusterManager Progressing is True"),
        ("HubRegistrationDegraded", "Unknown", "ClusterManager HubRegistrationDegraded is Unknown"),
    ],
)
def test_each_condition_the_suite_checks_holds_the_hub_back(kind: str, status: str, expected: str) -> None:
    objects = ready_hub()
    for condition in objects[installs.CLUSTER_MANAGER]["status"]["conditions"]:
        if condition["type"] == kind:
            condition["status"] = status
    assert reason(objects) == expected


def test_a_deployment_not_rolled_out_holds_the_hub_back() -> None:
    path = f"/apis/apps/v1/namespaces/{HUB}/deployments/cluster-manager-placement-controller"
    for broken in (
        deployment("p", ready=0),  # what the suite alone would call ready when status.replicas is 0 too
        deployment("p", observed=1),  # the controller has not seen the new template
        None,
    ):
        objects = ready_hub()
        if broken is None:
            del objects[path]
        else:
            objects[path] = broken
        assert reason(objects) == "Deployment cluster-manager-placement-controller not rolled out"


def test_the_work_controller_counts_once_manifestworkreplicaset_is_on() -> None:
    objects = ready_hub()
    del objects[f"/apis/apps/v1/namespaces/{HUB}/deployments/cluster-manager-work-controller"]
    assert reason(objects) is None
    enabled = copy.deepcopy(objects)
    enabled[installs.CLUSTER_MANAGER]["spec"]["workConfiguration"]["featureGates"][0]["mode"] = "Enable"
    assert reason(enabled) == "Deployment cluster-manager-work-controller not rolled out"


def test_a_cluster_counts_once_accepted_joined_and_available() -> None:
    conditions = [{"type": name, "status": "True"} for name in installs.CLUSTER_CONDITIONS]
    assert installs.cluster_ready({"status": {"conditions": conditions}})
    conditions[1]["status"] = "Unknown"
    assert not installs.cluster_ready({"status": {"conditions": conditions}})
    assert not installs.cluster_ready(None)


def test_the_join_is_timed_from_the_registration_its_install_starts() -> None:
    """ocm-hub's registration creates the ManagedCluster first, so its appearance starts the clock; Helm's
    starts with `helm install klusterlet` (the agents create the ManagedCluster later)."""
    watch = installs.Watch.__new__(installs.Watch)
    watch.times = installs.Times(hub_ready=20.0, cluster_seen=25.0, cluster_ready=31.0)
    watch.join_started = None
    assert watch.durations() == {"hub_ready": 20.0, "joined_available": 6.0}
    watch.join_started = 21.0
    assert watch.durations() == {"hub_ready": 20.0, "joined_available": 10.0}
    watch.times = installs.Times(hub_ready=20.0)
    with pytest.raises(installs.InstallError, match="never became ready"):
        watch.durations()


def test_the_times_table_shows_both_installs_and_their_ratio() -> None:
    table = times_table(
        {
            "ocm-hub": {"times": {"hub_ready": 30.0, "joined_available": 8.0}},
            "helm": {"times": {"hub_ready": 20.0, "joined_available": 10.0}},
        }
    )
    lines = table.splitlines()
    assert lines[0].split() == ["ocm-hub", "helm", "ratio"]
    assert lines[2].split()[-3:] == ["30.0s", "20.0s", "1.50x"]
    assert lines[3].split()[-3:] == ["8.0s", "10.0s", "0.80x"]


def test_an_install_that_never_got_ready_has_no_time_and_no_ratio() -> None:
    table = times_table({"ocm-hub": {"times": None}, "helm": {"times": {"hub_ready": 20.0, "joined_available": 1.0}}})
    assert table.splitlines()[2].split()[-2:] == ["-", "20.0s"]


def test_the_passes_default_hosted_and_on_the_hub_share_the_label_filter_and_skip_the_deselected() -> None:
    default, hosted, on_hub = selections("sanity-check || klusterlet")
    assert (default.label_filter, default.klusterlet_mode) == (
        "!klusterlet-hosted && (sanity-check || klusterlet)",
        "Default",
    )
    assert (hosted.label_filter, hosted.klusterlet_mode) == (
        "klusterlet-hosted && (sanity-check || klusterlet)",
        "Hosted",
    )
    assert (on_hub.label_filter, on_hub.focus, on_hub.on_hub) == (
        "sanity-check || klusterlet",
        tuple(suite.ON_THE_HUB),
        True,
    )
    for selection in (default, hosted, on_hub):
        assert set(suite.DESELECTED) <= set(selection.skip)
    assert set(suite.ON_THE_HUB) <= set(default.skip)
    assert not default.on_hub
    assert not hosted.on_hub
    assert selections("")[0].label_filter == "!klusterlet-hosted"


def test_a_preview_is_read_down_to_its_plan() -> None:
    output = "Previewing update (dev):\n\n    pulumi:pulumi:Stack ocm-hub-dev\n\nResources:\n    ~ 1 to update\n    18 unchanged\n\nerror: no terminal\n"
    assert installs.preview_summary(output) == "~ 1 to update, 18 unchanged"
    refreshed = "Refreshing (dev):\n\nResources:\n    ~ 1 updated\n\nDuration: 2s\n\n" + output
    assert installs.preview_summary(refreshed) == "~ 1 to update, 18 unchanged", "the preview's, not the refresh's"
    assert installs.preview_summary("error: the local clusters did not start\n") == (
        "no plan (error: the local clusters did not start)"
    )


def test_the_stack_lines_show_the_gates_the_suite_left_and_what_make_up_would_do() -> None:
    lines = stack_lines(
        {
            "stack_before": {"registrationConfiguration": ["DefaultClusterSet=Enable"]},
            "stack_after": {
                "registrationConfiguration": ["DefaultClusterSet=Enable", "ClusterImporter=Enable"],
                "workConfiguration": ["ManifestWorkReplicaSet=Enable"],
            },
            "preview": "~ 1 to update, 19 unchanged",
        }
    ).splitlines()
    assert lines[0].endswith("the stack's registrationConfiguration: DefaultClusterSet=Enable")
    assert "ClusterImporter=Enable; workConfiguration: ManifestWorkReplicaSet=Enable" in lines[1]
    assert lines[2].endswith("would do: ~ 1 to update, 19 unchanged")
    assert lines[3].endswith("after the next `make up`: not run")


def test_the_stack_lines_say_whether_the_next_make_up_put_the_gates_back() -> None:
    before = {"registrationConfiguration": ["ClusterImporter=Disable"]}
    back = stack_lines({"stack_before": before, "stack_reapplied": before}).splitlines()
    assert back[3].endswith("after the next `make up`: the stack's again")
    left = stack_lines(
        {"stack_before": before, "stack_reapplied": {"registrationConfiguration": ["ClusterImporter=Enable"]}}
    ).splitlines()
    assert left[3].endswith("after the next `make up`: registrationConfiguration: ClusterImporter=Enable")


def test_the_kubelet_runs_the_suites_template_addon_agent_when_make_conformance_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The suite's template addon runs `quay.io/open-cluster-management/addon-examples:latest
    /helloworld_helm agent`; the kubelet runs it only when told to, and make conformance builds it."""
    container: dict[str, Any] = {
        "name": "agent",
        "image": "quay.io/open-cluster-management/addon-examples:latest",
        "args": ["/helloworld_helm", "agent", "--cluster-name=c1"],
    }
    monkeypatch.delenv(kubelet.EXTRA_TOOLS_ENV, raising=False)
    assert images.resolve_container(container, images.builds(kubelet.pod_tools())) is None
    monkeypatch.setenv(kubelet.EXTRA_TOOLS_ENV, ",".join(SUITE_POD_TOOLS))
    program = images.resolve_container(container, images.builds(kubelet.pod_tools()))
    assert program is not None
    assert program.tool == "helloworld_helm"
    assert program.argv == ("/helloworld_helm", "agent", "--cluster-name=c1")
    assert set(SUITE_POD_TOOLS) <= set(tools.CONFORMANCE_TOOLS)


def test_an_install_step_logs_each_line_with_its_seconds_and_names_the_log_when_it_fails(tmp_path: Path) -> None:
    log_path = tmp_path / "install.log"
    script = "import sys, time; print('first', flush=True); time.sleep(0.3); print('second'); sys.exit(3)"
    with pytest.raises(installs.InstallError, match=r"failed with 3 \(log: .*install\.log\)"):
        installs._run_logged([sys.executable, "-c", script], os.environ, log_path, 30)
    lines = log_path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("--- ")
    found = [re.fullmatch(r"\[\s*([\d.]+)s\] (first|second)", line) for line in lines[1:]]
    seconds = [float(match.group(1)) for match in found if match]
    assert len(seconds) == 2
    assert seconds[1] - seconds[0] >= 0.3


def test_an_install_step_that_outlasts_its_bound_is_stopped(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(installs.InstallError, match="did not finish within 1s"):
        installs._run_logged([sys.executable, "-c", "import time; time.sleep(60)"], os.environ, tmp_path / "l", 1)
    assert time.monotonic() - started < 10
