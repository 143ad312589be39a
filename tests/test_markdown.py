"""Every Markdown file renders as CommonMark (markdown-it, the parser GitHub-like renderers follow): no
fenced block left open, none closed early by a fence meant to be nested in it, no relative link to a
file that is not there. A README whose second half shows as one code block is a bug a reader sees first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

PROJECT_DIR = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".venv", ".e2e", ".git", "node_modules", ".pulumi-state", "venv"}
MARKDOWN = sorted(
    path
    for path in PROJECT_DIR.rglob("*.md")
    if not SKIPPED_DIRS.intersection(path.relative_to(PROJECT_DIR).parts)
    and "releases" not in path.relative_to(PROJECT_DIR).parts[:2]  # upstream's files, copied unchanged
)
FENCE = re.compile(r"^ {0,3}(?P<markup>`{3,}|~{3,})(?P<info>.*)$")
LINK_TARGET = re.compile(r"^(?!https?:|mailto:|#)(?P<path>[^#?]+)")


def fences(tokens: list[Token]) -> list[Token]:
    found = []
    for token in tokens:
        if token.type == "fence":
            found.append(token)
        found += fences(token.children or [])
    return found


def fence_problems(text: str) -> list[str]:
    """Fenced blocks that run to the end of the document, and fences nested in one that closes on them."""
    lines = text.splitlines()
    problems = []
    for token in fences(MarkdownIt("commonmark").parse(text)):
        assert token.map is not None
        start, end = token.map
        char, length = token.markup[0], len(token.markup)
        last = lines[end - 1] if end - 1 > start else ""
        closing = FENCE.match(last)
        if (
            closing is None
            or closing["markup"][0] != char
            or len(closing["markup"]) < length
            or closing["info"].strip()
        ):
            problems.append(f"line {start + 1}: the fenced block opened here is never closed")
        for offset, line in enumerate(token.content.splitlines(), start=start + 2):
            nested = FENCE.match(line)
            if nested and nested["markup"][0] == char and len(nested["markup"]) >= length and nested["info"].strip():
                problems.append(
                    f"line {offset}: a fence opens inside the block of line {start + 1}, whose fence ({token.markup}) "
                    "is not longer: the nested block's closing fence ends the outer one"
                )
    return problems


def broken_links(path: Path, text: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(text)
    targets = [
        child.attrs.get("href") for token in tokens for child in token.children or [] if child.type == "link_open"
    ]
    missing = []
    for target in targets:
        match = LINK_TARGET.match(str(target or ""))
        if match and not (path.parent / match["path"]).exists():
            missing.append(str(target))
    return missing


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_every_fenced_block_is_closed_where_it_was_meant_to_be(path: Path) -> None:
    assert fence_problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_relative_links_name_files_that_exist(path: Path) -> None:
    assert broken_links(path, path.read_text(encoding="utf-8")) == []


def test_an_unclosed_fence_is_found() -> None:
    assert fence_problems("# t\n\n```sh\nmake up\n") == ["line 3: the fenced block opened here is never closed"]


def test_a_fence_nested_in_one_of_the_same_length_is_found() -> None:
    text = "```\n## report\n  ```diff\n  +a\n  ```\n```\n"
    assert any("a fence opens inside the block of line 1" in p for p in fence_problems(text))


def test_a_longer_outer_fence_nests_cleanly() -> None:
    assert fence_problems("````markdown\n## report\n  ```diff\n  +a\n  ```\n````\n") == []


def headings(text: str) -> list[tuple[int, str]]:
    tokens = MarkdownIt("commonmark").parse(text)
    return [(int(t.tag[1]), tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"]


def test_the_readme_is_a_user_guide() -> None:
    """The sections a user looks for, in the order they need them, and the outputs right under the checks
    that read them."""
    found = headings((PROJECT_DIR / "README.md").read_text(encoding="utf-8"))
    sections = [title for level, title in found if level == 2]
    wanted = ["Prerequisites", "Quick start", "Configuration", "Registering", "Is it working?", "Composition",
              "Troubleshooting", "Performance"]  # fmt: skip
    positions = [next((i for i, title in enumerate(sections) if title.startswith(w)), -1) for w in wanted]
    assert -1 not in positions, sections
    assert positions == sorted(positions), sections
    checks = found.index((2, "Is it working?"))
    assert found[checks + 1] == (3, "Outputs"), found[checks : checks + 2]


def test_section_references_name_a_section() -> None:
    """A "see *X*" in the README points a reader at a heading that exists (a moved section leaves none)."""
    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    titles = [title for _, title in headings(text)]
    named = re.findall(r"see \*([^*]+)\*", " ".join(text.split()))
    assert named
    assert [name for name in named if not any(title.startswith(name) for title in titles)] == []
