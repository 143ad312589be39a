"""Label and field selectors with the server's grammar, so list filters behave as they will in a cluster."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, Json, bad_request

_KEY = r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"\s*({_KEY})\s+(in|notin)\s*\(([^()]*)\)\s*")
_COMPARE = re.compile(rf"\s*({_KEY})\s*(==|=|!=|>|<)\s*({_VALUE})\s*")
_EXISTS = re.compile(rf"\s*(!?)\s*({_KEY})\s*")
_VALUE_ONLY = re.compile(_VALUE)


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    """One of: exists, !, =, !=, in, notin, >, <."""
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        match self.operator:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case _:
                if not present or not re.fullmatch(r"-?\d+", value):
                    return False
                bound = int(self.values[0])
                return int(value) > bound if self.operator == ">" else int(value) < bound


def _split(text: str) -> list[str]:
    """Split on the commas between requirements, not those inside `in (a,b)`."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _parse_requirement(text: str, selector: str) -> Requirement:
    def fail() -> ApiError:
        return bad_request(f"unable to parse requirement: invalid label selector: {selector!r}")

    if match := _SET.fullmatch(text):
        values = tuple(value.strip() for value in match.group(3).split(","))
        if not match.group(3).strip() or not all(_VALUE_ONLY.fullmatch(value) for value in values):
            raise fail()
        return Requirement(match.group(1), match.group(2), values)
    if match := _COMPARE.fullmatch(text):
        operator = "=" if match.group(2) == "==" else match.group(2)
        if operator in (">", "<") and not re.fullmatch(r"-?\d+", match.group(3)):
            raise fail()
        return Requirement(match.group(1), operator, (match.group(3),))
    if match := _EXISTS.fullmatch(text):
        return Requirement(match.group(2), "!" if match.group(1) else "exists")
    raise fail()


@dataclass(frozen=True)
class LabelSelector:
    """A parsed `labelSelector`: every requirement must hold."""

    requirements: tuple[Requirement, ...]

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        if not text.strip():
            return cls(())
        return cls(tuple(_parse_requirement(part, text) for part in _split(text)))

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement.matches(labels) for requirement in self.requirements)


@dataclass(frozen=True)
class FieldSelector:
    """A parsed `fieldSelector`: only the field labels the resource supports, like the server."""

    terms: tuple[tuple[str, bool, str], ...]
    """(field, wanted equal?, value)."""

    @classmethod
    def parse(cls, text: str, supported: tuple[str, ...] = ()) -> FieldSelector:
        allowed = ("metadata.name", "metadata.namespace", *supported)
        terms = []
        for part in (part for part in text.split(",") if part.strip()):
            match = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*", part)
            if not match:
                raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
            if match.group(1) not in allowed:
                raise bad_request(f'field label not supported: "{match.group(1)}"')
            terms.append((match.group(1), match.group(2) != "!=", match.group(3)))
        return cls(tuple(terms))

    def matches(self, obj: Json) -> bool:
        return all((_field(obj, path) == value) == equal for path, equal, value in self.terms)


def _field(obj: Json, path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)
