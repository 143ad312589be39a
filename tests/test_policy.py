"""The guardrails policy pack: each policy passes and fails on real program inputs, the pack runs as
the Pulumi CLI runs it, and (with `make e2e`) `pulumi preview --policy-pack` enforces it."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import jsonschema
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from components.cluster_manager import API_VERSION, CRD_NAME, KIND, spec_schema, undeclared
from config.addons import DEFAULT_REPOSITORY
from config.loader import stack_config
from config.versions import DEFAULT_VERSION, RELEASES
from policy import rules
from policy.__main__ import PACK_NAME, policies
from providers.kube import APPLY, Kube, KubeError, RetryPolicy
from render import documents
from render.recording import Recording
from tests.conftest import PROJECT_DIR, STACKS, run_stack, run_values
from tests.e2e.pulumi_cli import as_new_stack

POLICY_DIR = PROJECT_DIR / "policy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RELEASE = "kubernetes:helm.sh/v3:Release"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
DIGEST = "sha256:" + "ab" * 32


def _resources(recording: Recording) -> list[rules.Resource]:
    """The program's resources as `make review` hands them to the policies."""
    return [
        rules.Resource(r.type, r.name, copy.deepcopy(dict(r.inputs)), r.urn, retain_on_delete=r.retain_on_delete)
        for r in recording.resources
        if r.custom
    ]


def _named(recording: Recording, name: str) -> rules.Resource:
    (found,) = [r for r in _resources(recording) if r.name == name]
    return found


def _check(policy: str, resource: rules.Resource, **settings: Any) -> list[str]:
    (rule,) = [r for r in rules.RULES if r.name == policy]
    return rule.check(resource, rule.settings(settings))


def _pack_config(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((POLICY_DIR / "config" / f"{stack}.json").read_text())
    return config


@pytest.fixture(scope="module")
def prod() -> Recording:
    return run_stack("prod")


@pytest.fixture
def operator(prod: Recording) -> rules.Resource:
    return _named(prod, "ocm-hub-operator-deployment")


@pytest.fixture
def cluster_manager(prod: Recording) -> rules.Resource:
    return _named(prod, "ocm-hub-cluster-manager")


@pytest.fixture(scope="module")
def registration() -> rules.Resource:
    """A real ManagedClusterRegistration, with the serialized provider the engine stores."""
    # offline, as every render: no hub to list vela's secrets, the entry is planned from config
    recording = run_values({"registration": {"clusters": [{"name": "edge-1", "labels": {"tier": "edge"}}]}})
    return _named(recording, "ocm-hub-cluster-edge-1")


def _release(**props: Any) -> rules.Resource:
    base = {"chart": "cluster-proxy", "version": "0.11.0", "repositoryOpts": {"repo": rules.UPSTREAM_CHARTS}}
    return rules.Resource(RELEASE, "addon", {**base, **props})


def _container(resource: rules.Resource) -> dict[str, Any]:
    container: dict[str, Any] = resource.props["spec"]["template"]["spec"]["containers"][0]
    return container


# --- the example stacks ----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_example_stacks_pass_with_their_policy_config(stack: str) -> None:
    findings = rules.evaluate(_resources(run_stack(stack)), _pack_config(stack))
    assert [(f.policy, f.resource.name, f.message) for f in findings] == []


def test_dev_needs_its_teardown_allowance(dev_recording: Recording) -> None:
    findings = rules.evaluate(_resources(dev_recording), {})
    assert {(f.policy, f.resource.name) for f in findings} == {
        ("fleet-teardown-protection", "ocm-hub-operator-deployment"),
        ("fleet-teardown-protection", "ocm-hub-operator-clustermanagers-crd"),
        ("fleet-teardown-protection", "ocm-hub-cluster-manager"),
    }


def test_staging_mirror_must_be_allowed() -> None:
    findings = rules.evaluate(_resources(run_stack("staging")), {})
    assert {f.policy for f in findings} == {"helm-repository-allowed"}
    assert len(findings) == 3
    assert "https://charts.example.com/open-cluster-management" in findings[0].message


@pytest.mark.parametrize("stack", STACKS)
def test_every_example_stack_has_a_valid_policy_config(stack: str) -> None:
    config = _pack_config(stack)
    by_name = {rule.name: rule for rule in rules.RULES}
    for name, entry in config.items():
        if name == "all":
            assert entry in rules.LEVELS
            continue
        assert name in by_name, f"{stack}: unknown policy {name}"
        schema = {
            "type": "object",
            "properties": {**by_name[name].config, "enforcementLevel": {"enum": list(rules.LEVELS)}},
            "additionalProperties": False,
        }
        jsonschema.validate(entry, {"anyOf": [{"enum": list(rules.LEVELS)}, schema]})


# --- image-tag-pinned ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("quay.io/open-cluster-management/registration-operator:v1.3.1", None),
        (f"quay.io/open-cluster-management/registration-operator@{DIGEST}", None),
        (f"mirror.local:5000/ocm/registration-operator:v1.3.1@{DIGEST}", None),
        ("quay.io/open-cluster-management/registration-operator", "has no tag or digest, so it pulls :latest"),
        ("mirror.local:5000/ocm/registration-operator", "has no tag or digest, so it pulls :latest"),
        ("quay.io/open-cluster-management/registration-operator:latest", "uses the moving tag :latest"),
    ],
)
def test_image_references(image: str, problem: str | None) -> None:
    assert rules.image_problem(image) == problem


def test_untagged_operator_image_is_flagged(operator: rules.Resource) -> None:
    assert _check("image-tag-pinned", operator) == []
    _container(operator)["image"] = "quay.io/open-cluster-management/registration-operator"
    assert _check("image-tag-pinned", operator) == [
        "spec.template.spec.containers[registration-operator].image "
        "quay.io/open-cluster-management/registration-operator has no tag or digest, so it pulls :latest"
    ]


def test_cluster_manager_image_left_to_the_crd_default_is_flagged(cluster_manager: rules.Resource) -> None:
    assert _check("image-tag-pinned", cluster_manager) == []
    del cluster_manager.props["spec"]["workImagePullSpec"]
    assert _check("image-tag-pinned", cluster_manager) == [
        "spec.workImagePullSpec is not set, so the CRD's untagged default image (:latest) runs"
    ]


def test_klusterlet_images_of_a_registration_are_checked(registration: rules.Resource) -> None:
    assert _check("image-tag-pinned", registration) == []
    props = copy.deepcopy(dict(registration.props))
    props["spec"]["images"]["work"] = "quay.io/open-cluster-management/work:latest"
    changed = rules.Resource(registration.type, registration.name, props)
    assert _check("image-tag-pinned", changed) == [
        "spec.images.work quay.io/open-cluster-management/work:latest uses the moving tag :latest"
    ]
    flat = rules.Resource(registration.type, registration.name, {"images": props["spec"]["images"]})
    assert _check("image-tag-pinned", flat) == [
        "images.work quay.io/open-cluster-management/work:latest uses the moving tag :latest"
    ]


# --- fleet-teardown-protection -----------------------------------------------------------------------


def test_operator_without_skip_remove_crds_is_flagged_unless_teardown_is_allowed(operator: rules.Resource) -> None:
    assert _check("fleet-teardown-protection", operator) == []
    _container(operator)["args"] = ["/registration-operator", "hub"]
    (message,) = _check("fleet-teardown-protection", operator)
    assert "without --skip-remove-crds" in message
    assert _check("fleet-teardown-protection", operator, allowTeardown=True) == []


def test_cluster_manager_must_be_retained_or_protected(cluster_manager: rules.Resource) -> None:
    assert cluster_manager.retain_on_delete is True
    assert _check("fleet-teardown-protection", cluster_manager) == []
    dropped = rules.Resource(cluster_manager.type, cluster_manager.name, cluster_manager.props, retain_on_delete=False)
    (message,) = _check("fleet-teardown-protection", dropped)
    assert "neither retainOnDelete nor protected" in message
    protected = rules.Resource(dropped.type, dropped.name, dropped.props, retain_on_delete=False, protect=True)
    assert _check("fleet-teardown-protection", protected) == []
    assert _check("fleet-teardown-protection", dropped, allowTeardown=True) == []


def test_retention_unknown_to_the_cli_is_not_guessed(prod: Recording) -> None:
    crd = _named(prod, "ocm-hub-operator-clustermanagers-crd")
    unknown = rules.Resource(crd.type, crd.name, crd.props, retain_on_delete=None)
    assert _check("fleet-teardown-protection", unknown) == []
    assert _check("fleet-teardown-protection", rules.Resource(crd.type, crd.name, crd.props, retain_on_delete=False))


# --- cluster-auto-approval-disabled ------------------------------------------------------------------


def test_auto_approval_is_flagged_unless_allowed(cluster_manager: rules.Resource) -> None:
    assert _check("cluster-auto-approval-disabled", cluster_manager) == []
    gates = cluster_manager.props["spec"]["registrationConfiguration"]["featureGates"]
    gates.append({"feature": "ManagedClusterAutoApproval", "mode": "Disable"})
    assert _check("cluster-auto-approval-disabled", cluster_manager) == []
    gates[-1]["mode"] = "Enable"
    (message,) = _check("cluster-auto-approval-disabled", cluster_manager)
    assert "ManagedClusterAutoApproval" in message
    assert _check("cluster-auto-approval-disabled", cluster_manager, allowAutoApproval=True) == []


def test_auto_approval_from_the_program_config_is_flagged() -> None:
    recording = run_values(
        {
            "clusterManager": {
                "registration": {
                    "featureGates": {"ManagedClusterAutoApproval": "Enable"},
                    "autoApproveUsers": ["system:serviceaccount:open-cluster-management:agent-registration-bootstrap"],
                }
            }
        }
    )
    findings = rules.evaluate(_resources(recording), {})
    assert [(f.policy, f.resource.name) for f in findings] == [
        ("cluster-auto-approval-disabled", "ocm-hub-cluster-manager")
    ]


# --- helm-chart-version-pinned and helm-repository-allowed -------------------------------------------


@pytest.mark.parametrize(
    ("version", "violations"),
    [("0.11.0", 0), ("v1.4.0-rc.1", 0), (rules.UNKNOWN, 0), (None, 1), ("", 1), ("^0.11.0", 1), ("0.11.x", 1)],
)
def test_chart_version_must_be_exact(version: Any, violations: int) -> None:
    assert len(_check("helm-chart-version-pinned", _release(version=version))) == violations


def test_chart_repositories_must_be_allowed() -> None:
    assert _check("helm-repository-allowed", _release(), allowedRepositories=[rules.UPSTREAM_CHARTS]) == []
    mirror = _release(repositoryOpts={"repo": "https://charts.example.com/ocm/"})
    assert _check("helm-repository-allowed", mirror, allowedRepositories=["https://charts.example.com/ocm"]) == []
    (message,) = _check("helm-repository-allowed", mirror, allowedRepositories=[rules.UPSTREAM_CHARTS])
    assert "comes from https://charts.example.com/ocm, which is not an allowed repository" in message
    oci = _release(chart="oci://ghcr.io/acme/charts/cluster-proxy", repositoryOpts={})
    assert rules.chart_repository(oci.props) == "oci://ghcr.io/acme/charts"
    assert _check("helm-repository-allowed", oci, allowedRepositories=["oci://ghcr.io/acme/charts"]) == []
    local = _release(chart="./charts/cluster-proxy", repositoryOpts={})
    assert _check("helm-repository-allowed", local, allowedRepositories=[]) == []


def test_repository_credentials_are_never_echoed() -> None:
    leaky = _release(repositoryOpts={"repo": "https://robot:hunter2@charts.example.com/ocm"})
    (message,) = _check("helm-repository-allowed", leaky, allowedRepositories=[rules.UPSTREAM_CHARTS])
    assert "hunter2" not in message
    assert "https://charts.example.com/ocm" in message
    (credential,) = _check("no-plaintext-credentials", leaky)
    assert credential.startswith("repositoryOpts.repo holds a URL with a password in clear text")


# --- hub-workload-hardening --------------------------------------------------------------------------


def test_operator_keeps_upstream_hardening(operator: rules.Resource) -> None:
    namespaces = list(rules.HUB_NAMESPACES)
    assert _check("hub-workload-hardening", operator, namespaces=namespaces) == []
    context = _container(operator)["securityContext"]
    del context["readOnlyRootFilesystem"]
    context["allowPrivilegeEscalation"] = True
    del _container(operator)["resources"]["requests"]["memory"]
    (message,) = _check("hub-workload-hardening", operator, namespaces=namespaces)
    assert message == (
        "spec.template.spec.containers[registration-operator]: readOnlyRootFilesystem is not true, "
        "allowPrivilegeEscalation is not false, no memory request (upstream OCM sets all of these)"
    )
    assert _check("hub-workload-hardening", operator, namespaces=["elsewhere"]) == []


def test_root_user_is_not_non_root(operator: rules.Resource) -> None:
    operator.props["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
    (message,) = _check("hub-workload-hardening", operator, namespaces=list(rules.HUB_NAMESPACES))
    assert "runAsNonRoot is not true" in message


# --- no-plaintext-credentials ------------------------------------------------------------------------


def test_registration_holds_references_only(registration: rules.Resource) -> None:
    assert "__provider" in registration.props  # the serialized provider, which holds no credential
    assert _check("no-plaintext-credentials", registration) == []
    props = {**registration.props, "kubeconfig": "apiVersion: v1\nkind: Config\n", "bootstrapToken": JWT}
    messages = _check("no-plaintext-credentials", rules.Resource(registration.type, registration.name, props))
    assert [m.split(" in clear text")[0] for m in messages] == [
        "kubeconfig holds a credential (kubeconfig)",
        "bootstrapToken holds a bearer token (JWT)",
    ]
    assert not any(JWT in m for m in messages)


def test_credentials_in_helm_values_and_env_are_flagged(operator: rules.Resource) -> None:
    values = {
        "auth": {"password": "hunter2", "existingSecret": "addon-auth"},
        "imagePullSecrets": ["mirror-pull-secret"],
        "agentImagePullSecret": "mirror-pull-secret",
        "tls": {"key": "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"},
    }
    messages = _check("no-plaintext-credentials", _release(values=values))
    assert [m.split(" in clear text")[0] for m in messages] == [
        "values.auth.password holds a credential (password)",
        "values.tls.key holds a private key",
    ]
    assert not any("hunter2" in m or "MIIE" in m for m in messages)
    env = _container(operator)["env"]
    env.append({"name": "HUB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "hub", "key": "password"}}})
    assert _check("no-plaintext-credentials", operator) == []
    env.append({"name": "HUB_PASSWORD", "value": "hunter2"})
    (message,) = _check("no-plaintext-credentials", operator)
    assert message.startswith("spec.template.spec.containers[0].env[3].value holds a credential (HUB_PASSWORD)")


def test_secret_data_is_the_place_for_credentials() -> None:
    secret = rules.Resource(
        rules.SECRET,
        "pull",
        {
            "metadata": {"name": "pull", "annotations": {"example.com/copy-from-secret": "vela-system/x"}},
            "stringData": {"password": "hunter2"},
        },
    )
    assert _check("no-plaintext-credentials", secret) == []
    secret.props["metadata"]["annotations"]["example.com/token"] = JWT
    (message,) = _check("no-plaintext-credentials", secret)
    assert message.startswith("metadata.annotations.example.com/token holds a bearer token (JWT)")


def test_provider_configuration_is_not_a_resource_input() -> None:
    provider = rules.Resource("pulumi:providers:kubernetes", "hub", {"kubeconfig": "apiVersion: v1\nusers: []\n"})
    assert _check("no-plaintext-credentials", provider) == []


# --- policy config and enforcement -------------------------------------------------------------------


def test_enforcement_levels_come_from_the_policy_config(dev_recording: Recording) -> None:
    resources = _resources(dev_recording)
    assert {f.enforcement for f in rules.evaluate(resources, {})} == {"mandatory"}
    assert {f.enforcement for f in rules.evaluate(resources, {"all": "advisory"})} == {"advisory"}
    assert rules.evaluate(resources, {"fleet-teardown-protection": "disabled"}) == []
    levels = rules.evaluate(
        resources, {"all": "advisory", "fleet-teardown-protection": {"enforcementLevel": "remediate"}}
    )
    assert {f.enforcement for f in levels} == {"remediate"}


# --- the pack through pulumi-policy ------------------------------------------------------------------


def _args(resource: rules.Resource, config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    """The arguments pulumi-policy builds for a resource, with its unknown-checking proxies."""
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    props = unknown_checking_proxy(copy.deepcopy(dict(resource.props)))
    return ResourceValidationArgs(resource.type, props, f"urn:{resource.name}", resource.name, options, None, config)


def _validate(policy_name: str, args: ResourceValidationArgs) -> list[str]:
    (policy,) = [p for p in policies() if isinstance(p, ResourceValidationPolicy) and p.name == policy_name]
    reported: list[str] = []

    def report_violation(message: str, _urn: str | None = None) -> None:
        reported.append(message)

    policy.validate(args, report_violation)
    return reported


def test_pack_declares_every_rule_with_its_level_and_schema() -> None:
    declared = {p.name: p for p in policies()}
    assert list(declared) == [rule.name for rule in rules.RULES]
    fleet = declared["fleet-teardown-protection"]
    assert fleet.enforcement_level == EnforcementLevel.MANDATORY
    assert fleet.config_schema is not None
    assert fleet.config_schema.properties == {"allowTeardown": {"type": "boolean", "default": False}}


def test_policies_run_on_pulumi_policy_arguments(operator: rules.Resource, cluster_manager: rules.Resource) -> None:
    _container(operator)["args"] = ["/registration-operator", "hub"]
    (message,) = _validate("fleet-teardown-protection", _args(operator))
    assert "without --skip-remove-crds" in message
    assert _validate("fleet-teardown-protection", _args(operator, {"allowTeardown": True})) == []
    assert _validate("hub-workload-hardening", _args(operator)) == []
    assert _validate("image-tag-pinned", _args(cluster_manager)) == []


def test_unknown_values_during_preview_do_not_stop_a_policy(operator: rules.Resource) -> None:
    _container(operator)["image"] = UNKNOWN_STRING_VALUE
    _container(operator)["env"].append({"name": "API_TOKEN", "value": "plain-token-value"})
    assert _validate("image-tag-pinned", _args(operator)) == []
    (message,) = _validate("no-plaintext-credentials", _args(operator))
    assert "API_TOKEN" in message


LAUNCHES = {
    # pulumi-language-python's RunPlugin: `python <pack dir> <engine address>`
    "language host": lambda address: [sys.executable, "-u", str(POLICY_DIR), address],
    # the legacy pulumi-analyzer-policy-python plugin: `python -m pulumi.policy <engine address> <pack dir>`
    "analyzer plugin": lambda address: [sys.executable, "-u", "-m", "pulumi.policy", address, str(POLICY_DIR)],
}


@pytest.fixture(params=sorted(LAUNCHES))
def analyzer(request: pytest.FixtureRequest) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack started as the CLI starts it; it prints its gRPC port, then serves the engine."""
    proc = subprocess.Popen(
        LAUNCHES[request.param]("127.0.0.1:1"), cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().decode().strip()
        if not port.isdigit():
            assert proc.stderr is not None
            proc.kill()
            pytest.fail(f"the pack did not start: {port}\n{proc.stderr.read().decode()}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait()


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(value, struct)
    return struct


def test_pack_serves_the_engine(analyzer: analyzer_pb2_grpc.AnalyzerStub, operator: rules.Resource) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    assert info.name == PACK_NAME
    assert [p.name for p in info.policies] == [rule.name for rule in rules.RULES]
    _container(operator)["args"] = ["/registration-operator", "hub"]
    request = analyzer_pb2.AnalyzeRequest(
        type=DEPLOYMENT,
        properties=_struct(dict(operator.props)),
        urn="urn:pulumi:prod::ocm-hub::kubernetes:apps/v1:Deployment::ocm-hub-operator-deployment",
        name="ocm-hub-operator-deployment",
        options=analyzer_pb2.AnalyzerResourceOptions(),
    )
    (diagnostic,) = analyzer.Analyze(request, timeout=30).diagnostics
    assert diagnostic.policyName == "fleet-teardown-protection"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    allow = analyzer_pb2.PolicyConfig(
        enforcementLevel=analyzer_pb2.MANDATORY, properties=_struct({"allowTeardown": True})
    )
    analyzer.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={"fleet-teardown-protection": allow}))
    assert list(analyzer.Analyze(request, timeout=30).diagnostics) == []


def test_pack_runs_in_the_project_virtualenv() -> None:
    project = yaml.safe_load((POLICY_DIR / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    assert (POLICY_DIR / project["runtime"]["options"]["virtualenv"]).resolve() == Path(sys.prefix).resolve()


# --- with the real CLI (make e2e) ------------------------------------------------------------------

UNSAFE_STACK = """\
config:
  ocm-hub:allowTeardown: true
  ocm-hub:clusterManager:
    registration:
      featureGates:
        ManagedClusterAutoApproval: Enable
"""


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The CLI and pulumi-kubernetes plugin `make e2e-tools` built, offline, with a local file backend."""
    from sandbox import tools

    missing = tools.missing(tools.UP_TOOLS)
    if missing:
        pytest.fail(f"not built: {missing}; run `make e2e-tools`", pytrace=False)
    tools.install_kubernetes_plugin()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PULUMI_")}
    env.update(tools.pulumi_env(Path(sys.prefix) / "bin" / "python"))
    state = tmp_path_factory.mktemp("state")
    env.update({"PULUMI_BACKEND_URL": state.as_uri(), "PULUMI_CONFIG_PASSPHRASE": "policy-e2e"})
    return env


@pytest.fixture(scope="module")
def hub_kubeconfig() -> Iterator[Path]:
    from sandbox import clusters

    reused = clusters.is_healthy("hub")
    kubeconfigs = clusters.start(["hub"])
    try:
        yield kubeconfigs["hub"]
    finally:
        if not reused:
            clusters.stop(["hub"])


def _launcher(pack: Path) -> Path:
    """The pack as an executable the CLI starts directly (it still reads PulumiPolicy.yaml beside it).

    A pack directory is started through the Python language host's RunPlugin, and the host built here
    (v3.68, the last whose source the module proxy serves) predates the program info newer CLIs send
    instead of `program`: it runs `python ''` in the project directory, i.e. the program itself
    (hack/DEVELOPMENT.md). Users' hosts run the directory as it is.
    """
    launcher = pack / "run-pack"
    launcher.write_text(f'#!/bin/sh\ncd "$(dirname "$0")" && exec {sys.executable} -u -m pulumi.policy "$1" .\n')
    launcher.chmod(0o755)
    return launcher


def _with_local_mirror(pack_config: Path, tmp: Path, mirror: str) -> Path:
    """The stack's pack config with the local clusters' chart repository listed as an allowed mirror, as
    a team lists its own: the previews take their charts from it (there is no internet here)."""
    config = json.loads(pack_config.read_text())
    rule = config.setdefault("helm-repository-allowed", {})
    rule["allowedRepositories"] = [*rule.get("allowedRepositories", [DEFAULT_REPOSITORY]), mirror]
    path = tmp / pack_config.name
    path.write_text(json.dumps(config))
    return path


def _ocm_version(stack_file: Path) -> str:
    return str(stack_config(stack_file).get("ocm-hub:ocmVersion", DEFAULT_VERSION))


CRD_API = "apiextensions.k8s.io/v1"


def _cluster_manager(stack: str) -> dict[str, Any]:
    """The stack's ClusterManager as the preview sends it."""
    (found,) = [doc for doc in documents.objects(run_stack(stack)) if doc["kind"] == KIND]
    return {key: found[key] for key in ("apiVersion", "kind", "metadata", "spec")}


def _accepted(kube: Kube, cluster_manager: dict[str, Any]) -> bool | None:
    """Whether the hub's API server takes the ClusterManager (a server-side dry-run, as pulumi-kubernetes previews);
    None while it serves no ClusterManager yet."""
    path = kube.path(API_VERSION, KIND, cluster_manager["metadata"]["name"])
    query = {"fieldManager": "ocm-hub-e2e-probe", "force": "true", "dryRun": "All"}
    try:
        kube.request("PATCH", path, query, body=cluster_manager, content_type=APPLY)
    except KubeError as err:
        if err.status == 404:
            return None
        if "field not declared in schema" not in str(err):
            raise
        return False
    return True


@contextlib.contextmanager
def _hub_crd_at(kubeconfig: Path, version: str, stack: str) -> Iterator[None]:
    """The hub's ClusterManager CRD at `version` for the duration (whatever ran on the hub before: the CRD is
    retained on delete), then as it was. Returns once the API server answers `stack`'s ClusterManager as that
    CRD says."""
    kube = Kube.from_file(str(kubeconfig), retry=RetryPolicy(attempts=1))
    path = kube.path(CRD_API, "CustomResourceDefinition", CRD_NAME)
    wanted = {
        key: value for key, value in RELEASES[version].operator_objects("cluster-manager")[0].items() if key != "status"
    }
    saved = kube.get(CRD_API, "CustomResourceDefinition", CRD_NAME)
    if saved is None:
        kube.create(wanted)
    else:
        kube.put(path, {**saved, "spec": wanted["spec"]})
    try:
        cluster_manager = _cluster_manager(stack)
        expected = not undeclared(cluster_manager["spec"], spec_schema(wanted), "spec")
        deadline = time.monotonic() + 30
        while _accepted(kube, cluster_manager) != expected:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the hub's API server did not take {version}'s ClusterManager CRD within 30 s", pytrace=False
                )
            time.sleep(0.2)
        yield
    finally:
        if saved is None:
            kube.delete(CRD_API, "CustomResourceDefinition", CRD_NAME)
            deadline = time.monotonic() + 60
            while kube.get(CRD_API, "CustomResourceDefinition", CRD_NAME) is not None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {CRD_NAME}, created for the preview, still present 60 s after its delete")
                time.sleep(0.2)
        else:
            current = kube.get(CRD_API, "CustomResourceDefinition", CRD_NAME) or saved
            metadata = {**saved["metadata"], "resourceVersion": current["metadata"]["resourceVersion"]}
            kube.put(path, {**saved, "metadata": metadata})


def _preview(tmp: Path, env: dict[str, str], stack: str, stack_file: str, pack_config: Path | None) -> str:
    """`pulumi preview --policy-pack` of a copy of the project with `stack_file`; its exit status and output."""
    project = tmp / "project"
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    for name in listed.stdout.splitlines():
        is_other_stack = name.startswith("Pulumi.") and name != "Pulumi.yaml"
        if (PROJECT_DIR / name).is_file() and not is_other_stack:
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_DIR / name, project / name)
    (project / ".venv").symlink_to(PROJECT_DIR / ".venv")
    (project / f"Pulumi.{stack}.yaml").write_text(stack_file)
    from sandbox import local_stack  # addon charts from the local clusters' repository: no internet here

    mirror = local_stack.require_chart_repository()
    # The stack at its own OCM release, as its reviewer previews it (a preview runs no OCM binary).
    runtime = dataclasses.replace(
        local_stack.Runtime.serving(mirror), ocm_version=_ocm_version(project / f"Pulumi.{stack}.yaml")
    )
    (project / f"Pulumi.{stack}.yaml").write_text(local_stack.rewritten(project / f"Pulumi.{stack}.yaml", runtime))
    subprocess.run(["pulumi", "stack", "init", stack, "--non-interactive"], cwd=project, env=env, check=True)
    args = ["pulumi", "preview", "--stack", stack, "--non-interactive", "--color", "never"]
    args += ["--policy-pack", str(_launcher(project / "policy"))]
    if pack_config is not None:
        args += ["--policy-pack-config", str(_with_local_mirror(pack_config, tmp, mirror))]
    proc = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False)
    return f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"


@pytest.mark.e2e
@pytest.mark.parametrize("stack", STACKS)
def test_cli_preview_passes_every_example_stack(
    stack: str, tmp_path: Path, cli_env: dict[str, str], hub_kubeconfig: Path
) -> None:
    """On a hub at the stack's release, as the stack's own hub is when a change to it is reviewed."""
    stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    env = {**cli_env, "KUBECONFIG": str(hub_kubeconfig)}
    with _hub_crd_at(hub_kubeconfig, _ocm_version(stack_file), stack):
        result = _preview(
            tmp_path, env, stack, as_new_stack(stack_file.read_text()), POLICY_DIR / "config" / f"{stack}.json"
        )
    assert result.startswith("exit 0\n"), result
    assert PACK_NAME in result


@pytest.mark.e2e
def test_cli_preview_of_an_upgrade_that_sets_a_new_field_names_the_field_and_the_two_steps(
    tmp_path: Path, cli_env: dict[str, str], hub_kubeconfig: Path
) -> None:
    """staging (v1.3.1, placement feature gates) on a hub that still runs v1.2.1's CRD: the API server would
    refuse the preview's dry-run of the ClusterManager; ocm-hub says why and what to do."""
    stack_file = PROJECT_DIR / "Pulumi.staging.yaml"
    env = {**cli_env, "KUBECONFIG": str(hub_kubeconfig)}
    with _hub_crd_at(hub_kubeconfig, "v1.2.1", "staging"):
        result = _preview(
            tmp_path, env, "upgrade", as_new_stack(stack_file.read_text()), POLICY_DIR / "config" / "staging.json"
        )
    assert result.startswith("exit 1\n"), result
    assert "does not declare spec.placementConfiguration, which this stack sets at OCM v1.3.1" in result, result
    assert "ocmVersion v1.3.1 alone first (pulumi up)" in result, result
    assert "typed patch" not in result, result


@pytest.mark.e2e
def test_cli_preview_fails_an_unsafe_stack_naming_policy_and_resource(
    tmp_path: Path, cli_env: dict[str, str], hub_kubeconfig: Path
) -> None:
    env = {**cli_env, "KUBECONFIG": str(hub_kubeconfig)}
    result = _preview(tmp_path, env, "unsafe", UNSAFE_STACK, None)
    assert not result.startswith("exit 0\n"), result
    for policy, resource in [
        ("fleet-teardown-protection", "ocm-hub-operator-deployment"),
        ("cluster-auto-approval-disabled", "ocm-hub-cluster-manager"),
    ]:
        assert policy in result, result
        assert resource in result, result
    assert "mandatory" in result
