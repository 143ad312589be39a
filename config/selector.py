"""Kubernetes label selectors, parsed as the API server parses `?labelSelector=` (apimachinery
pkg/labels/selector.go: its lexer, its grammar and NewRequirement's checks), so a selector the hub
would refuse is refused at render time with the API server's own reason.

    selector    ::= requirement ("," requirement)*
    requirement ::= ["!"] KEY [ ("in" | "notin") "(" values ")" | ("=" | "==" | "!=" | ">" | "<") VALUE ]
"""

from __future__ import annotations

import re

_SPECIAL = frozenset("=!(),><")
_TOKENS = frozenset({"!", "!=", "(", ")", ",", "=", "==", ">", "<", "in", "notin"})
_IDENTIFIER = "identifier"
_END = ""
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def qualified_name_problem(key: str) -> str | None:
    """Why `key` is not a label key (IsQualifiedName: [DNS-1123 subdomain prefix "/"] name), or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return "its prefix must be a DNS-1123 subdomain (lowercase alphanumerics, '-', '.'; at most 253)"
    if not name or len(name) > 63 or not _NAME.match(name):
        return "its name must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
    return None


def _lex(text: str) -> list[tuple[str, str]]:
    """(kind, literal) tokens: kind is the token itself for operators and keywords, else `identifier`."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t\r\n":
            i += 1
        elif char in _SPECIAL:
            j, found = i, ""
            while j < len(text) and text[j] in _SPECIAL:
                if text[i : j + 1] in _TOKENS:
                    found = text[i : j + 1]
                elif found:
                    break
                j += 1
            if not found:
                raise ValueError(f"unexpected {text[i:j]!r}")
            tokens.append((found, found))
            i += len(found)
        else:
            j = i
            while j < len(text) and text[j] not in _SPECIAL and text[j] not in " \t\r\n":
                j += 1
            word = text[i:j]
            tokens.append((word if word in ("in", "notin") else _IDENTIFIER, word))
            i = j
    tokens.append((_END, "end of string"))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.position = 0

    def peek(self, values: bool = True) -> tuple[str, str]:
        kind, literal = self.tokens[self.position]
        return (_IDENTIFIER if values and kind in ("in", "notin") else kind), literal

    def take(self, values: bool = True) -> tuple[str, str]:
        token = self.peek(values)
        self.position += 1
        return token

    def selector(self) -> None:
        while True:
            kind, literal = self.peek()
            if kind == _END:
                return
            if kind not in (_IDENTIFIER, "!"):
                raise ValueError(f"found {literal!r}, expected: !, identifier, or end of string")
            self.requirement()
            kind, literal = self.take()
            if kind == _END:
                return
            if kind != ",":
                raise ValueError(f"found {literal!r}, expected: ',' or end of string")
            if self.peek()[0] not in (_IDENTIFIER, "!"):
                raise ValueError(f"found {self.peek()[1]!r}, expected: identifier after ','")

    def requirement(self) -> None:
        kind, key = self.take()
        negated = kind == "!"
        if negated:
            kind, key = self.take()
        if kind != _IDENTIFIER:
            raise ValueError(f"found {key!r}, expected: identifier")
        problem = qualified_name_problem(key)
        if problem:
            raise ValueError(f"key {key!r} is not a label key: {problem}")
        if negated or self.peek()[0] in (_END, ","):
            return
        operator, literal = self.take(values=False)
        if operator in ("in", "notin"):
            values = self.value_set()
        elif operator in ("=", "==", "!=", ">", "<"):
            values = [self.exact_value()]
        else:
            raise ValueError(f"found {literal!r}, expected: in, notin, =, ==, !=, gt, lt")
        for value in values:
            if operator in (">", "<") and not re.match(r"^[+-]?\d+$", value):
                raise ValueError(f"for {operator!r}, the value must be an integer (got {value!r})")
            if len(value) > 63 or not _LABEL_VALUE.match(value):
                raise ValueError(
                    f"value {value!r} of {key!r} is not a label value (at most 63 alphanumerics, '-', '_', '.')"
                )

    def value_set(self) -> list[str]:
        kind, literal = self.take()
        if kind != "(":
            raise ValueError(f"found {literal!r}, expected: '('")
        values: list[str] = []
        while True:
            kind, literal = self.take()
            if kind == ")" and not values:
                return [""]
            if kind == _IDENTIFIER:
                values.append(literal)
                kind, literal = self.peek()
                if kind == ")":
                    self.take()
                    return values
                if kind != ",":
                    raise ValueError(f"found {literal!r}, expected: ',' or ')'")
                self.take()
                if self.peek()[0] == ")":
                    self.take()
                    return [*values, ""]
            elif kind == ",":
                values.append("")
                if self.peek()[0] == ")":
                    self.take()
                    return values
            else:
                raise ValueError(f"found {literal!r}, expected: ',', ')' or identifier")

    def exact_value(self) -> str:
        kind, literal = self.peek()
        if kind in (_END, ","):
            return ""
        self.take()
        if kind != _IDENTIFIER:
            raise ValueError(f"found {literal!r}, expected: identifier")
        return literal


def selector_problem(text: str) -> str | None:
    """Why the API server would refuse `text` as a label selector, or None."""
    try:
        _Parser(text).selector()
    except ValueError as err:
        return str(err)
    return None
