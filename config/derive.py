"""Everything the stack config's models describe, written from them: `python -m config.derive`.

The pydantic models are the one place a key is declared and described (the docstring under each field). From
them this writes config/args.py (the TypedDict mirror the component package's schema analyzer reads: it wants
real classes with a docstring under each key) and the README's configuration tables, between marker comments.
`--check` only says whether either is stale; tests/test_derive.py fails when one is.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from config.loader import model_in
from config.model import ResourceRequirements, Seconds, Toleration
from config.stack import StackConfig

ROOT = Path(__file__).resolve().parents[1]
ARGS_PATH = ROOT / "config" / "args.py"
README_PATH = ROOT / "README.md"
# Kubernetes' own shapes: one README row each, described by the field that holds them.
ONE_ROW: frozenset[type[BaseModel]] = frozenset({ResourceRequirements, Toleration})
OCM_HUB_ARGS_DOC = (
    "Arguments of the OcmHub component: a stack's `ocm-hub:` config, plus how registration reaches the hub."
)
# A component argument that is no stack key: how registration reaches a hub the composing program made.
HUB_KUBECONFIG_DOC = "Hub kubeconfig (contents, kept secret) for registration; default: the stack's kubernetes: config."
# Defaults the SDK docs leave unsaid: none, or an empty list or map.
_NOTHING_TO_SAY = ("—", "`[]`", "`{}`")
# README table name -> the top-level keys it holds; "main" holds the rest.
TABLES: dict[str, tuple[str, ...]] = {"main": (), "addons": ("addons",), "registration": ("registration",)}

_ARGS_HEADER = '''"""`OcmHubArgs`: the stack configuration as typed component arguments, for programs that compose OcmHub.

Written by `python -m config.derive` from the pydantic models (config/model.py, addons.py, registration.py,
stack.py): edit those, not this file. One TypedDict per model, with its name, field names and descriptions, so a
Python caller gets type checking and the Pulumi schema analyzer infers the component package's schema from these
classes (the string after each key is its description). The models stay the single validator: OcmHub validates
these arguments exactly as `pulumi up` validates a stack file. Keys are snake_case here and camelCase in the
schema and in Pulumi.<stack>.yaml. Durations (a number of seconds or a string such as "10m") are typed Any, since
the schema has no unions.
"""

from typing import Any, TypedDict

import pulumi
'''


def described(text: str | None, where: str) -> str:
    """One line of prose: docstrings wrap at 120 columns, descriptions must not (SDK docs, table cells)."""
    if not text or not text.strip():
        raise ValueError(f"{where} has no description: write a docstring under it")
    return " ".join(text.split())


def _models(model: type[BaseModel], seen: dict[type[BaseModel], None] | None = None) -> list[type[BaseModel]]:
    """Every model reachable from `model`, each after the models its fields use (the mirror has no forward
    references: the schema analyzer evaluates its annotations)."""
    seen = {} if seen is None else seen
    for field in model.model_fields.values():
        inner = model_in(field.annotation)
        if inner is not None and inner not in seen:
            _models(inner, seen)
    seen[model] = None
    return list(seen)


def _python_type(annotation: Any) -> str:
    """The type a caller passes: the validated type without its constraints; every Literal here is of strings."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _python_type(args[0])
    if origin in (typing.Union, types.UnionType):
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _python_type(inner)
    if origin is Literal:
        assert all(isinstance(arg, str) for arg in args), annotation
        return "str"
    if origin is list:
        return f"list[{_python_type(args[0])}]"
    if origin is dict:
        return f"dict[{_python_type(args[0])}, {_python_type(args[1])}]"
    if annotation is Any:
        return "Any"
    if annotation in (str, bool, int):
        return str(annotation.__name__)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation.__name__
    raise TypeError(f"no argument type for {annotation!r}: teach config.derive._python_type")


def _is_seconds(field: FieldInfo) -> bool:
    return field.metadata == list(typing.get_args(Seconds)[1:])


def _typed_class(model: type[BaseModel]) -> str:
    name = "OcmHubArgs" if model is StackConfig else model.__name__
    doc = OCM_HUB_ARGS_DOC if model is StackConfig else described(model.__doc__, model.__name__)
    lines = [f"class {name}(TypedDict, total=False):", f'    """{doc}"""', ""]
    for key, field in model.model_fields.items():
        seconds = _is_seconds(field)
        doc = described(field.description, f"{model.__name__}.{key}")
        default = _default(_value(None, key, field), seconds)
        if default not in _NOTHING_TO_SAY:
            doc += f" Default: {default}."  # the schema has no defaults: the SDK docs say them here
        lines += [f"    {key}: {'Any' if seconds else _python_type(field.annotation)}", f'    """{doc}"""']
    if model is StackConfig:
        lines += ["    hub_kubeconfig: pulumi.Input[str]", f'    """{HUB_KUBECONFIG_DOC}"""']
    return "\n".join(lines) + "\n"


def args_source() -> str:
    """config/args.py as the models declare it."""
    return "\n\n".join([_ARGS_HEADER, *(_typed_class(model) for model in _models(StackConfig))])


@dataclass(frozen=True)
class Row:
    key: str  # as Pulumi.<stack>.yaml spells it, below ocm-hub:
    default: str
    description: str


def _rows(model: type[BaseModel], instance: BaseModel | None, prefix: str) -> Iterator[Row]:
    """One row per leaf key. A model's keys are expanded below its own; sibling keys of one model with equal
    defaults share rows (`addons.{clusterProxy,…}.enabled`); list items are `key[]`."""
    fields = model.model_fields
    values = {name: _value(instance, name, field) for name, field in fields.items()}
    done: set[str] = set()
    for name, field in fields.items():
        if name in done:
            continue
        key, value = field.alias or name, values[name]
        inner = model_in(field.annotation)
        if inner is None or inner in ONE_ROW:
            description = described(field.description, f"{model.__name__}.{name}")
            default = "required" if field.is_required() else _default(value, _is_seconds(field))
            yield Row(f"{prefix}{key}", default, description)
            continue
        twins = [
            other for other, twin in fields.items() if model_in(twin.annotation) is inner and values[other] == value
        ]
        done.update(twins)
        keys = [fields[twin].alias or twin for twin in twins]
        joined = keys[0] if len(keys) == 1 else "{" + ",".join(keys) + "}"
        listed = typing.get_origin(field.annotation) is list
        yield from _rows(inner, None if listed else value, f"{prefix}{joined}{'[]' if listed else ''}.")


def _value(instance: BaseModel | None, name: str, field: FieldInfo) -> Any:
    """What a key holds when the stack leaves it out: from the enclosing default, else the field's own."""
    if instance is not None:
        return getattr(instance, name)
    return None if field.is_required() else field.get_default(call_default_factory=True)


def _default(value: Any, seconds: bool) -> str:
    """A default as a stack file writes it."""
    if value is None:
        return "—"
    if seconds:
        text = "".join(f"{amount}{unit}" for amount, unit in zip(_hms(value), "hms", strict=True) if amount)
    elif isinstance(value, BaseModel):
        text = _flow(value.model_dump(by_alias=True, exclude_defaults=True))
    elif isinstance(value, str):
        text = value
    else:
        text = _flow(value)
    return f"`{text}`"


def _hms(seconds: int) -> tuple[int, int, int]:
    return seconds // 3600, seconds % 3600 // 60, seconds % 60


def _flow(value: Any) -> str:
    return str(yaml.safe_dump(value, default_flow_style=True, width=1000)).strip().removesuffix("\n...").strip()


def tables() -> dict[str, str]:
    """The README's configuration tables by name, as Markdown."""
    grouped: dict[str, list[Row]] = {name: [] for name in TABLES}
    for row in _rows(StackConfig, StackConfig(), ""):
        top = row.key.split(".")[0]
        name = next((name for name, keys in TABLES.items() if top in keys), "main")
        grouped[name].append(row)
    header = ["| key | default | meaning |", "|---|---|---|"]
    return {
        name: "\n".join(header + [f"| `{r.key}` | {r.default} | {_cell(r.description)} |" for r in rows])
        for name, rows in grouped.items()
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- config table {name}: written by python -m config.derive -->", f"<!-- end of config table {name} -->"


def readme_text(readme: str) -> str:
    """`readme` with each configuration table between its markers replaced by the models' version."""
    for name, table in tables().items():
        begin, end = _markers(name)
        if readme.count(begin) != 1 or readme.count(end) != 1:
            raise ValueError(f"README.md needs the markers {begin} and {end}, once each")
        head, rest = readme.split(begin)
        _, tail = rest.split(end)
        readme = f"{head}{begin}\n{table}\n{end}{tail}"
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.derive", description=__doc__)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if either file is stale")
    options = parser.parse_args(argv)
    wanted = {ARGS_PATH: args_source(), README_PATH: readme_text(README_PATH.read_text())}
    stale = [path for path, text in wanted.items() if path.read_text() != text]
    if options.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} is stale: run python -m config.derive", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
