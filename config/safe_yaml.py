"""YAML with bounds: every YAML ocm-hub reads (stack files, kubeconfigs, charts' values, shipped manifests)
goes through here, so a small hostile file cannot stall or crash a render, a review or a deploy.

PyYAML shares one node per anchor, so "a billion laughs" costs nothing to parse and everything to
use (JSON encoding, validation and rendering expand every alias). The bounds are checked on the
node graph before any Python object is built: document size, nesting depth and the number of nodes
with every alias expanded; a cycle of aliases is refused outright.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 100
MAX_NODES = 100_000  # also with aliases expanded; a 1,000-cluster stack file has about 15,000
# libyaml when present (fast, and its composer would crash on deep nesting: `_scan` runs first).
_BASE: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
_NODE = (yaml.ScalarEvent, yaml.AliasEvent, *_OPEN)


class YamlLimitError(ValueError):
    """The document is over a bound; the message names the source and the bound, never its content."""


def _scan(text: str, source: str) -> None:
    """Size, depth and node count from the event stream, which libyaml produces without recursing."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"{source}: YAML is {len(text)} bytes; at most {MAX_BYTES}")
    parser = _BASE(text)
    depth = nodes = 0
    try:
        while (event := parser.get_event()) is not None:
            if isinstance(event, _NODE):
                nodes += 1
                if nodes > MAX_NODES:
                    raise YamlLimitError(f"{source}: YAML has more than {MAX_NODES} nodes")
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlLimitError(f"{source}: YAML nests deeper than {MAX_DEPTH} levels")
            elif isinstance(event, _CLOSE):
                depth -= 1
    finally:
        parser.dispose()


def _expanded(node: Node, source: str) -> None:
    """Size and depth of the document as its aliases expand it, computed once per shared node."""
    sizes: dict[int, tuple[int, int]] = {}
    open_: set[int] = set()

    def visit(current: Node, level: int) -> tuple[int, int]:
        key = id(current)
        if level > MAX_DEPTH or (key in sizes and level + sizes[key][1] - 1 > MAX_DEPTH):
            raise YamlLimitError(f"{source}: YAML nests deeper than {MAX_DEPTH} levels through its aliases")
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise YamlLimitError(f"{source}: YAML alias refers to a node that contains it")
        open_.add(key)
        children: list[Node] = []
        if isinstance(current, SequenceNode):
            children = list(current.value)
        elif isinstance(current, MappingNode):
            children = [item for pair in current.value for item in pair]
        count, height = 1, 0
        for child in children:
            child_count, child_height = visit(child, level + 1)
            count += child_count
            height = max(height, child_height)
            if count > MAX_NODES:
                raise YamlLimitError(
                    f"{source}: YAML expands to more than {MAX_NODES} nodes through its aliases (anchors and *references)"
                )
        open_.discard(key)
        sizes[key] = (count, height + 1)
        return sizes[key]

    visit(node, 1)


def load(text: str, source: str) -> Any:
    """One document (None when empty); YamlLimitError or yaml.YAMLError when it cannot be used."""
    _scan(text, source)
    loader = _BASE(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded(node, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_all(text: str, source: str) -> Iterator[Any]:
    """Every document of a multi-document stream, each bounded as `load` bounds one."""
    _scan(text, source)
    loader = _BASE(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            _expanded(node, source)
            yield loader.construct_document(node)
    finally:
        loader.dispose()
