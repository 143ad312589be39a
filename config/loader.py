"""Reading the `ocm-hub:` config namespace, from the Pulumi runtime or a Pulumi.<stack>.yaml file.

Both paths produce the same `RawConfig`, so `pulumi up` and `make render` accept and reject
exactly the same inputs with exactly the same messages.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from config import safe_yaml
from config.checks import Problem, check
from config.stack import StackConfig
from config.urls import HIDDEN_INPUT
from config.wire import whole_numbers

NAMESPACE = "ocm-hub"
SECRET_PLACEHOLDER = "[secret]"
SECRETS_ALLOWED = "only values under addons.<addon>.values may be secret"
MAX_SHOWN = 80  # longer values and keys are shortened in messages
MAX_ROUNDS = 8  # validation passes that set bad keys aside to reach the rules (each removes at least one)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class RawConfig:
    """Top-level keys of the namespace (prefix stripped), which of them hold secrets and where (the
    `secure:` leaves of a stack file; the engine says only which top-level keys), and warnings about
    keys that were left out."""

    values: Mapping[str, Any]
    secret_keys: frozenset[str] = field(default_factory=frozenset)
    secret_paths: frozenset[Path_] = field(default_factory=frozenset)
    warnings: tuple[str, ...] = ()


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
    """Validate raw config into a StackConfig, or raise ConfigError naming every bad key.

    Schema and rule problems are reported together: keys the schema refuses are set aside and the
    rest validated again, so the rules run on everything that is well-formed."""
    values: dict[str, Any] = json.loads(json.dumps(dict(raw.values)))  # a private copy to set keys aside
    problems = _secret_problems(raw)
    set_aside: list[Path_] = []
    cfg: StackConfig | None = None
    for _ in range(MAX_ROUNDS):
        try:
            cfg = StackConfig.model_validate(values)
            break
        except ValidationError as err:
            found = [_from_pydantic(e) for e in err.errors()]
            problems += [p for p in found if p not in problems]
            removed = [_remove(values, tuple(e["loc"])) for e in err.errors()]
            set_aside += [path for path in removed if path is not None]
            if not any(removed):
                break
    if cfg is not None:
        shown = {p.path for p in problems}
        problems += [
            p
            for p in check(cfg)
            if p.path not in shown and not any(p.path[: len(aside)] == aside for aside in set_aside)
        ]
    if problems:
        raise ConfigError(problems, raw.secret_keys)
    assert cfg is not None  # no problems means the schema accepted the values
    return cfg


def _secret_problems(raw: RawConfig) -> list[Problem]:
    """Secrets belong in Helm values only: elsewhere a value must be read to be validated and rendered."""
    paths = raw.secret_paths or {(key,) for key in raw.secret_keys}
    return [
        Problem(path, f"is a secret (`secure:`); {SECRETS_ALLOWED}", None, False)
        for path in sorted(paths, key=str)
        if not (path[0] == "addons" and (len(path) == 1 or (len(path) >= 4 and path[2] == "values")))
    ]


def _remove(values: dict[str, Any], loc: Path_) -> Path_ | None:
    """Take the value at a pydantic error location (or the deepest part of it that exists: a missing
    required key takes its item) out of `values`, so the next pass validates the rest. Returns what the
    rules must not speak about any more (a whole list once an item is gone: its indexes moved)."""
    parts = [part for part in loc if part != "[key]"]
    container: Any = values
    parent: Any = None
    depth = 0
    for part in parts:
        if not _has(container, part):
            break
        parent, container, depth = container, container[part], depth + 1
    if parent is None:
        return None
    del parent[parts[depth - 1]]
    return tuple(parts[: depth - 1] if isinstance(parent, list) else parts[:depth])


def _has(container: Any, part: str | int) -> bool:
    if isinstance(container, dict):
        return part in container
    return isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container)


def from_pulumi() -> RawConfig:
    """The namespace as the engine handed it to this program (structured values arrive as JSON)."""
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = set(runtime_config.get_config_secret_keys_env())
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    warnings: list[str] = []
    for full_key, value in merged.items():
        key = _our_key(str(full_key), "the stack config", warnings)
        if key is None:
            continue
        values[key] = _decode(value)
        if runtime_config.is_config_secret(full_key) or full_key in secret:
            secrets.add(key)
    return RawConfig(values, frozenset(secrets), warnings=tuple(warnings))


def stack_config(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file, every namespace, as Pulumi reads it: a file whose top level
    or `config` is not a mapping is refused naming the file, as Pulumi refuses to load it. Every reader
    of a stack file (render, review, make status) goes through here."""
    try:
        document = safe_yaml.load(path.read_text(), str(path))
    except safe_yaml.YamlLimitError as err:
        raise ConfigError([Problem((), str(err), None, False)]) from None
    except yaml.YAMLError as err:
        raise ConfigError([Problem((), f"{path} is not valid YAML: {err}", None, False)]) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(
            [
                Problem(
                    (),
                    f"{path}: a stack file is a mapping (keys such as `config:`), and Pulumi refuses to load one "
                    f"whose top level is {_kind(document)}",
                    None,
                    False,
                )
            ]
        )
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError([Problem((), f"{path}: `config` must be a mapping, not {_kind(config)}", None, False)])
    return config


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else f"a scalar ({_short(json.dumps(value, default=str))})"


def from_file(path: Path) -> RawConfig:
    """The namespace from a stack file, read as Pulumi reads it. `secure:` values cannot be decrypted
    here: each becomes a placeholder and is remembered by its key path."""
    config = stack_config(path)
    values: dict[str, Any] = {}
    secret_paths: list[Path_] = []
    warnings: list[str] = []
    problems: list[Problem] = []
    for full_key, value in config.items():
        text = str(full_key)
        if ":" not in text:
            problems.append(
                Problem(
                    (),
                    f"{path}: config key {_short(text)!r} has no namespace, and Pulumi refuses such a file: "
                    f"keys are `<namespace>:<name>` (ocm-hub's: {NAMESPACE}:{_short(text)})",
                    None,
                    False,
                )
            )
            continue
        key = _our_key(text, str(path), warnings)
        if key is None:
            continue
        if key in values:
            problems.append(
                Problem((key,), f"is set twice in {path} (as {NAMESPACE}:{key} and {NAMESPACE}:config:{key})")
            )
            continue
        values[key] = _decode(encode(_placeholders(value, (key,), secret_paths)))
    if problems:
        raise ConfigError(problems)
    secret_keys = frozenset(str(p[0]) for p in secret_paths)
    return RawConfig(values, secret_keys, frozenset(secret_paths), tuple(warnings))


def _our_key(full_key: str, source: str, warnings: list[str]) -> str | None:
    """The key within ocm-hub's namespace (Pulumi's legacy `ocm-hub:config:<key>` too), or None for
    another namespace: one that looks like a typo of ours is warned about, since it is ignored."""
    namespace, _, key = full_key.partition(":")
    if namespace == NAMESPACE:
        return key.removeprefix("config:") or None
    if difflib.get_close_matches(namespace, [NAMESPACE], n=1, cutoff=0.8):
        warnings.append(
            f"{source}: config key {_short(full_key)!r} is ignored: its namespace {_short(namespace)!r} is not "
            f"{NAMESPACE}; did you mean {NAMESPACE}:{_short(key.removeprefix('config:'))}?"
        )
    return None


def _placeholders(value: Any, path: Path_, found: list[Path_]) -> Any:
    """`value` with every `secure:` leaf replaced by the placeholder, its path noted: no ciphertext
    goes further than this."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            found.append(path)
            return SECRET_PLACEHOLDER
        return {key: _placeholders(item, (*path, str(key)), found) for key, item in value.items()}
    if isinstance(value, list):
        return [_placeholders(item, (*path, index), found) for index, item in enumerate(value)]
    return value


def encode(value: Any) -> str:
    """A config value as the engine hands it to a program: a string, structured values as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _decode(value: Any) -> Any:
    """Pulumi passes every config value as a string; objects and lists are JSON inside it, and a YAML
    boolean arrives as `true` or `false` (which is all a switch at the top level accepts)."""
    if value in ("true", "false"):
        return value == "true"
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


def _from_pydantic(error: Any) -> Problem:
    loc = _aliased(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(StackConfig, loc[:-1])
        return Problem(loc, f"is not a known key; allowed here: {', '.join(allowed)}", None, False)
    if kind == "missing":
        return Problem(loc, "is required", None, False)
    if kind == HIDDEN_INPUT:
        return Problem(loc, _message(error), None, False)
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
                current = model_in(info.annotation)
                continue
            found = [f for f in current.model_fields.values() if f.alias == part]
            current = model_in(found[0].annotation) if found else None
        elif isinstance(part, str):
            current = None
        spelled.append(part)
    return tuple(spelled)


def _message(error: Any) -> str:
    """pydantic's message in stack-file words: no class names ("instance of AddonsConfig")."""
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = re.sub(r" or instance of \w+", "", message)
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
        current = model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted((info.alias or name) for name, info in current.model_fields.items())
    return []


def model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside `X`, `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_in(arg)
        if found is not None:
            return found
    return None


def _format(problem: Problem, secret_keys: frozenset[str]) -> str:
    path = _path(problem.path)
    if not problem.show_value:
        return f"{path}: {problem.message}"
    top = problem.path[0] if problem.path else None
    shown = SECRET_PLACEHOLDER if top in secret_keys else _short(json.dumps(problem.value, default=str))
    return f"{path}: {problem.message} (got {shown})"


def _short(text: str) -> str:
    """A value or key as a message shows it: long ones cut, saying how long they were."""
    if len(text) <= MAX_SHOWN:
        return text
    return f"{text[: MAX_SHOWN - 20]}… ({len(text)} characters)"


def _path(parts: tuple[str | int, ...]) -> str:
    text = NAMESPACE + ":"
    for index, part in enumerate(parts):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += _short(part) if index == 0 else f".{_short(part)}"
    return text if parts else NAMESPACE
