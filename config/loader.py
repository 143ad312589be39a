"""Reading the `ocm-hub:` config namespace, from the Pulumi runtime or a Pulumi.<stack>.yaml file.

Both paths produce the same `RawConfig`, so `pulumi up` and `make render` accept and reject
exactly the same inputs with exactly the same messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from config.checks import Problem, check
from config.stack import StackConfig

NAMESPACE = "ocm-hub"
SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class RawConfig:
    """Top-level keys of the namespace (prefix stripped) and which of them are secrets."""

    values: Mapping[str, Any]
    secret_keys: frozenset[str] = field(default_factory=frozenset)


class ConfigError(Exception):
    """Invalid stack configuration; the message lists every problem, one per line."""

    def __init__(self, problems: list[Problem], secret_keys: frozenset[str] = frozenset()) -> None:
        self.problems = problems
        lines = [_format(problem, secret_keys) for problem in problems]
        super().__init__(
            f"invalid {NAMESPACE} stack configuration ({len(lines)} problem{'s' if len(lines) != 1 else ''}):\n"
            + "\n".join(f"  - {line}" for line in lines)
        )


def load(raw: RawConfig) -> StackConfig:
    """Validate raw config into a StackConfig, or raise ConfigError naming every bad key."""
    try:
        cfg = StackConfig.model_validate(dict(raw.values))
    except ValidationError as err:
        raise ConfigError([_from_pydantic(e) for e in err.errors()], raw.secret_keys) from None
    problems = check(cfg)
    if problems:
        raise ConfigError(problems, raw.secret_keys)
    return cfg


def from_pulumi() -> RawConfig:
    """The namespace as the engine handed it to this program (structured values arrive as JSON)."""
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for full_key, value in merged.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE:
            continue
        values[key] = _decode(value)
        if runtime_config.is_config_secret(full_key) or full_key in runtime_config.get_config_secret_keys_env():
            secrets.add(key)
    return RawConfig(values, frozenset(secrets))


def from_file(path: Path) -> RawConfig:
    """The namespace from a stack file; `secure:` values cannot be decrypted here and become placeholders."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError([Problem((), f"{path} is not valid YAML: {err}", None, False)]) from None
    config = document.get("config") if isinstance(document, dict) else None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError([Problem((), f"{path}: `config` must be a mapping", None, False)])
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for full_key, value in config.items():
        namespace, _, key = str(full_key).partition(":")
        if namespace != NAMESPACE or not key:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = SECRET_PLACEHOLDER
            secrets.add(key)
        else:
            values[key] = _decode(encode(value))
    return RawConfig(values, frozenset(secrets))


def encode(value: Any) -> str:
    """A config value as the engine hands it to a program: a string, structured values as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _decode(value: Any) -> Any:
    """Pulumi passes every config value as a string; objects and lists are JSON inside it."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load_args(args: Mapping[str, Any]) -> StackConfig:
    """Validate OcmHub's arguments (snake_case keys, as config.args types them) exactly as a stack's config.
    Through the component package every number arrives as a double: 2.0 is read as 2."""
    return load(RawConfig(whole_numbers(args)))


def whole_numbers(value: Any) -> Any:
    """Numbers cross Pulumi's wire as doubles: read 600.0 back as 600, in nested values too."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def _from_pydantic(error: Any) -> Problem:
    loc = _aliased(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(StackConfig, loc[:-1])
        return Problem(loc, f"is not a known key; allowed here: {', '.join(allowed)}", None, False)
    if kind == "missing":
        return Problem(loc, "is required", None, False)
    if loc and loc[-1] == "[key]":
        return Problem(loc[:-1], _message(error), loc[-2] if len(loc) > 1 else None)
    return Problem(loc, _message(error), error.get("input"))


def _aliased(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Spell an error location with the camelCase keys of a stack file, whichever spelling the input used."""
    current: Any = StackConfig
    spelled: list[str | int] = []
    for part in loc:
        if isinstance(part, str) and isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part)
            if info is not None:
                spelled.append(info.alias or part)
                current = _model_in(info.annotation)
                continue
            found = [f for f in current.model_fields.values() if f.alias == part]
            current = _model_in(found[0].annotation) if found else None
        elif isinstance(part, str):
            current = None
        spelled.append(part)
    return tuple(spelled)


def _message(error: Any) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def _allowed_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """Walk the model along an error location to list the keys valid at that point."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # an index into a list of models: the keys are those of the item model
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        fields = {(info.alias or name): info for name, info in current.model_fields.items()}
        info = fields.get(str(part))
        if info is None:
            return []
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted((info.alias or name) for name, info in current.model_fields.items())
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside `X`, `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _format(problem: Problem, secret_keys: frozenset[str]) -> str:
    path = _path(problem.path)
    if not problem.show_value:
        return f"{path}: {problem.message}"
    top = problem.path[0] if problem.path else None
    shown = SECRET_PLACEHOLDER if top in secret_keys else json.dumps(problem.value, default=str)
    return f"{path}: {problem.message} (got {shown})"


def _path(parts: tuple[str | int, ...]) -> str:
    text = NAMESPACE + ":"
    for index, part in enumerate(parts):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += part if index == 0 else f".{part}"
    return text if parts else NAMESPACE
