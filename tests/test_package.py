"""The multi-language component package: the schema the engine gets from `package/__main__.py` has every
argument and output of OcmHub, each described, and the typed args mirror the validated config exactly."""

from __future__ import annotations

import json
import sys
import typing
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pulumi
import pulumi_kubernetes as k8s
import pytest
from pydantic import BaseModel

from components import OcmHub
from config.args import OcmHubArgs
from config.derive import described
from config.loader import load_args
from config.stack import StackConfig
from render import recording
from tests.component_host import component_host, secret
from tests.conftest import run_values

TOKEN = "ocm-hub:index:OcmHub"
PROVIDER_TYPE = "pulumi:providers:kubernetes"
PROVIDER_REF = f"urn:pulumi:dev::platform::{PROVIDER_TYPE}::hub-cluster::hub-cluster-id"
KUBECONFIG = "apiVersion: v1\nkind: Config\n"
# The same arguments, as a TypeScript program writes them and as a Python one does.
PACKAGE_ARGS: dict[str, Any] = {
    "operator": {"replicas": 1},
    "addons": {"clusterProxy": {"enabled": True}},
    "registration": {"clusters": [{"name": "edge-1", "labels": {"platform": "edge"}, "import": False}]},
    "hubKubeconfig": secret(KUBECONFIG),
}
PYTHON_ARGS: OcmHubArgs = {
    "operator": {"replicas": 1},
    "addons": {"cluster_proxy": {"enabled": True}},
    "registration": {"clusters": [{"name": "edge-1", "labels": {"platform": "edge"}, "import_": False}]},
    "hub_kubeconfig": pulumi.Output.secret(KUBECONFIG),
}
HubRun = tuple[str, dict[str, Any], recording.Recording]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    """The schema as the engine reads it: GetSchema from the plugin process, over gRPC."""
    with component_host() as host:
        return dict(json.loads(host.schema()))


@pytest.fixture(scope="module")
def hub_via_package() -> HubRun:
    with component_host() as host:
        urn, state = host.construct(TOKEN, "platform-ocm", PACKAGE_ARGS, providers={"kubernetes": PROVIDER_REF})
        return urn, state, host.recording


def _provider() -> k8s.Provider:
    """The caller's provider; under the recording mocks its reference is PROVIDER_REF."""
    return k8s.Provider("hub-cluster", kubeconfig=KUBECONFIG)


def _annotations(typed: type) -> dict[str, Any]:
    """Evaluated already (config/args.py has no postponed annotations, for the schema analyzer)."""
    return dict(typed.__annotations__)


def _model_for(typed: type) -> type[BaseModel]:
    """The pydantic model a TypedDict mirrors: the same name, in the config package."""
    if typed is OcmHubArgs:
        return StackConfig
    for module in ("config.model", "config.registration", "config.addons"):
        model = getattr(sys.modules[module], typed.__name__, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model
    raise AssertionError(f"no pydantic model named {typed.__name__} in config/")


def _inner(annotation: Any, wanted: Callable[[Any], bool]) -> Any:
    """The wanted type inside `T`, `T | None` or `list[T]`, if any."""
    if wanted(annotation):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner(arg, wanted)
        if found is not None:
            return found
    return None


def _nested(annotation: Any) -> type | None:
    return typing.cast(type | None, _inner(annotation, typing.is_typeddict))


def _model_nested(annotation: Any) -> type[BaseModel] | None:
    return typing.cast(
        type[BaseModel] | None, _inner(annotation, lambda t: isinstance(t, type) and issubclass(t, BaseModel))
    )


def _pairs(typed: type, seen: set[type] | None = None) -> Iterator[tuple[type, type[BaseModel]]]:
    seen = set() if seen is None else seen
    if typed in seen:
        return
    seen.add(typed)
    yield typed, _model_for(typed)
    for annotation in _annotations(typed).values():
        inner = _nested(annotation)
        if inner is not None:
            yield from _pairs(inner, seen)


def test_typed_args_mirror_the_config_models_key_for_key() -> None:
    pairs = list(_pairs(OcmHubArgs))
    assert len(pairs) == 16
    for typed, model in pairs:
        hints = _annotations(typed)
        keys = set(hints) - ({"hub_kubeconfig"} if typed is OcmHubArgs else set())
        assert keys == set(model.model_fields), typed.__name__
        for key in keys:
            typed_inner, model_inner = _nested(hints[key]), _model_nested(model.model_fields[key].annotation)
            assert (typed_inner is None) == (model_inner is None), f"{typed.__name__}.{key}"
            if typed_inner is not None:
                assert _model_for(typed_inner) is model_inner, f"{typed.__name__}.{key}"


def test_every_model_in_config_has_its_typed_mirror() -> None:
    mirrored = {model for _, model in _pairs(OcmHubArgs)}
    reachable: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [StackConfig]
    while pending:
        model = pending.pop()
        if model in reachable:
            continue
        reachable.add(model)
        pending += [m for f in model.model_fields.values() if (m := _model_nested(f.annotation))]
    assert reachable == mirrored


def test_args_validate_like_a_stack_file_and_round_trip() -> None:
    cfg = load_args({"operator": {"replicas": 2}, "registration": {"clusters": [{"name": "a", "import_": True}]}})
    assert cfg.operator.replicas == 2
    assert cfg.registration.clusters[0].import_ is True
    assert load_args(cfg.args()) == cfg
    rec = run_values({"operator": {"replicas": 2}})
    assert rec.by_name("ocm-hub-operator-deployment").inputs["spec"]["replicas"] == 2


def test_schema_has_every_argument_with_a_description(schema: dict[str, Any]) -> None:
    resource = schema["resources"][TOKEN]
    assert resource["isComponent"] is True
    assert resource["description"]
    inputs = resource["inputProperties"]
    expected = {info.alias or name for name, info in StackConfig.model_fields.items()} | {"hubKubeconfig"}
    assert set(inputs) == expected
    assert [key for key, prop in inputs.items() if not prop.get("description")] == []
    assert resource.get("requiredInputs", []) == []


def test_schema_has_every_output_with_a_description(schema: dict[str, Any]) -> None:
    rec = run_values({})
    resource = schema["resources"][TOKEN]
    assert set(resource["properties"]) == set(rec.outputs)
    assert [key for key, prop in resource["properties"].items() if not prop.get("description")] == []


def test_every_nested_type_and_property_is_described(schema: dict[str, Any]) -> None:
    types = schema["types"]
    assert len(types) >= 17  # the 15 nested config types and the two output types
    undescribed = [
        f"{token}.{key}"
        for token, definition in types.items()
        for key, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []
    assert [text for text in _descriptions(schema) if "\n " in text] == []  # no docstring indentation in SDK docs
    assert [token for token, definition in types.items() if not definition.get("description")] == []


def test_schema_descriptions_are_the_models_descriptions(schema: dict[str, Any]) -> None:
    """The models describe each key once; the schema a TypeScript or YAML program sees says the same."""
    resource, types = schema["resources"][TOKEN], schema["types"]
    for typed, model in _pairs(OcmHubArgs):
        properties = (
            resource["inputProperties"]
            if typed is OcmHubArgs
            else types[f"ocm-hub:index:{typed.__name__}"]["properties"]
        )
        for name, info in model.model_fields.items():
            wanted = described(info.description, f"{model.__name__}.{name}")
            assert properties[info.alias or name]["description"].startswith(wanted), f"{typed.__name__}.{name}"


def _descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield value
            else:
                yield from _descriptions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _descriptions(item)


def test_schema_keys_are_the_stack_files_keys(schema: dict[str, Any]) -> None:
    """A YAML or TypeScript program writes the same camelCase keys as Pulumi.<stack>.yaml."""
    types = schema["types"]
    cluster = types["ocm-hub:index:ClusterEntry"]["properties"]
    assert {"import", "managedClusterName", "clusterSet"} <= set(cluster)
    manager = types["ocm-hub:index:ClusterManagerConfig"]["properties"]
    assert {"deployMode", "addOnManager", "nodePlacement", "resourceRequirement"} == set(manager) - {
        "registration",
        "work",
        "placement",
    }


def test_a_program_in_another_language_gets_the_python_tree(hub_via_package: HubRun) -> None:
    """Construct through the plugin (as for TypeScript, Go, YAML) builds what Python builds: the same
    resources, each Kubernetes one on the caller's provider, the hub kubeconfig still secret."""
    urn, _, rec = hub_via_package
    assert urn == "urn:pulumi:dev::platform::pulumi:pulumi:Stack$ocm-hub:index:OcmHub::platform-ocm"

    def python_program() -> None:
        OcmHub("platform-ocm", PYTHON_ARGS, pulumi.ResourceOptions(providers={"kubernetes": _provider()}))

    direct = recording.run(python_program, project="platform", stack="dev")

    def tree(r: recording.Recording) -> set[tuple[str, str, str]]:
        return {(x.type, x.name, x.urn.split("::")[2]) for x in r.resources if x.type != PROVIDER_TYPE}

    assert tree(rec) == tree(direct)
    kube = [r for r in rec.resources if r.type.startswith("kubernetes:")]
    assert len(kube) >= 10
    assert {r.provider for r in kube} == {PROVIDER_REF}
    (registration,) = rec.of_type("pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration")
    assert "hubKubeconfig" in registration.secret_inputs
    assert registration.inputs["spec"]["labels"] == {"platform": "edge"}


def test_the_package_returns_the_outputs_under_their_schema_names(
    hub_via_package: HubRun, schema: dict[str, Any]
) -> None:
    _, state, _ = hub_via_package
    assert set(state) == set(schema["resources"][TOKEN]["properties"])
    assert state["ocmVersion"] == "v1.3.1"
    assert state["images"]["registration"] == "quay.io/open-cluster-management/registration:v1.3.1"
    assert state["addons"]["clusterProxy"]["enabled"] is True


def test_bad_arguments_fail_construct_naming_the_stack_key() -> None:
    with component_host() as host, pytest.raises(grpc.RpcError) as failure:
        host.construct(TOKEN, "bad", {"operator": {"replicas": 0}, "readinessTimeout": 1.5})
    message = str(failure.value.details())
    assert "ocm-hub:operator.replicas: input should be greater than or equal to 1 (got 0)\n" in message
    assert "ocm-hub:readinessTimeout:" in message


def test_discovery_through_the_package_says_it_registers_only_the_listed_clusters() -> None:
    """The plugin cannot list vela's Secrets (no plain hub credentials): a user is told, not left guessing."""
    with component_host() as host:
        host.construct(TOKEN, "fleet", {"registration": {"discover": True, "clusters": [{"name": "edge-1"}]}})
        registrations = host.recording.of_type("pulumi-python:dynamic/ocm-hub:ManagedClusterRegistration")
        messages = list(host.engine.messages)
    assert [r.name for r in registrations] == ["fleet-cluster-edge-1"]
    assert any("only registration.clusters are registered" in message for message in messages), messages
