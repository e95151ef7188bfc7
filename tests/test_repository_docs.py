"""The repository stands alone: its docs exist, and every citation of them names something that is there.

Code and docs cite `docs/domain.md §N` and `docs/architecture.md, non-negotiable N` (docs/contributing.md,
"Comments"). A renumbered section or a dropped rule would leave those citations pointing at the wrong text, and
a reference to a briefing file outside the repository points at nothing a user can read.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Written so that this file does not match its own patterns.
OUTSIDE_REFERENCE = re.compile(r"\.\./shared|/work[/]shared|\b(?:DOMAIN|ARCHITECTURE|STYLE)\.md\b")
DOCS_PATH = re.compile(r"\bdocs/([\w.-]+?\.md)\b")
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")
# "docs/domain.md §3", "docs/domain.md §2–§3", "docs/domain.md §4 and §6", "[domain.md](domain.md) §7".
DOMAIN_CITATION = re.compile(r"\bdomain\.md\)?((?:\s*(?:,|;|and|or|–|-)?\s*§\d+)+)")
SECTION_NUMBER = re.compile(r"§(\d+)")
NON_NEGOTIABLE = re.compile(r"\bnon-negotiables?\s+(\d+)")
DOMAIN_HEADING = re.compile(r"^## (\d+)\. ", re.MULTILINE)
RULE_ITEM = re.compile(r"^(\d+)\. ", re.MULTILINE)


@cache
def tracked_files() -> tuple[Path, ...]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    listed = subprocess.run([git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return tuple(ROOT / name for name in listed.decode().split("\0") if name)


def texts(*suffixes: str) -> Iterator[tuple[Path, str]]:
    """(path, text) of each tracked text file that still exists (another change may have deleted it)."""
    for path in tracked_files():
        if suffixes and path.suffix not in suffixes:
            continue
        try:
            yield path, path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            continue  # binary, or gone from the working tree


def where(path: Path, text: str, match: re.Match[str]) -> str:
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}: {match.group(0)!r}"


def domain_sections() -> list[int]:
    return [int(n) for n in DOMAIN_HEADING.findall((DOCS / "domain.md").read_text(encoding="utf-8"))]


def non_negotiables() -> list[int]:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## Non-negotiables\n", 1)[1].split("\n## ", 1)[0]
    return [int(n) for n in RULE_ITEM.findall(section)]


def domain_citations(text: str) -> Iterator[tuple[re.Match[str], int]]:
    for match in DOMAIN_CITATION.finditer(text):
        for number in SECTION_NUMBER.findall(match.group(1)):
            yield match, int(number)


def test_no_file_refers_to_briefings_outside_the_repository() -> None:
    found = [
        where(path, text, match)
        for path, text in texts()
        if path.name != "uv.lock"
        for match in OUTSIDE_REFERENCE.finditer(text)
    ]
    assert not found, "cite docs/domain.md, docs/architecture.md or docs/contributing.md instead:\n" + "\n".join(found)


def test_every_docs_path_mentioned_exists() -> None:
    mentioned = [(path, text, m) for path, text in texts(".py", ".md") for m in DOCS_PATH.finditer(text)]
    assert mentioned, "the pattern finds no docs/ path at all: it is broken"
    missing = [where(path, text, m) for path, text, m in mentioned if not (DOCS / m.group(1)).is_file()]
    assert not missing, "no such file in docs/:\n" + "\n".join(missing)


def test_every_markdown_link_to_a_page_resolves() -> None:
    missing = [
        where(path, text, m)
        for path, text in texts(".md")
        for m in MARKDOWN_LINK.finditer(text)
        if "://" not in m.group(1) and not (path.parent / m.group(1)).is_file()
    ]
    assert not missing, "link to a page that does not exist:\n" + "\n".join(missing)


def test_domain_sections_are_numbered_one_by_one() -> None:
    sections = domain_sections()
    assert sections == list(range(1, len(sections) + 1)), sections
    assert len(sections) >= 9, "code cites §1–§9 of docs/domain.md"


def test_every_domain_citation_names_an_existing_section() -> None:
    sections = set(domain_sections())
    citations = [(path, text, m, n) for path, text in texts(".py", ".md") for m, n in domain_citations(text)]
    assert len(citations) > 20, "the pattern finds (almost) no citation: it is broken"
    wrong = [f"{where(path, text, m)} (§{n})" for path, text, m, n in citations if n not in sections]
    assert not wrong, f"docs/domain.md has sections {sorted(sections)}; these cite others:\n" + "\n".join(wrong)


def test_domain_md_refers_only_to_its_own_sections() -> None:
    text = (DOCS / "domain.md").read_text(encoding="utf-8")
    sections = set(domain_sections())
    wrong = [
        where(DOCS / "domain.md", text, m) for m in SECTION_NUMBER.finditer(text) if int(m.group(1)) not in sections
    ]
    assert not wrong, "\n".join(wrong)


def test_non_negotiables_are_numbered_one_by_one() -> None:
    rules = non_negotiables()
    assert rules == list(range(1, len(rules) + 1)), rules
    assert len(rules) >= 9, "code cites non-negotiables 1–9"


def test_every_non_negotiable_citation_names_an_existing_rule() -> None:
    count = len(non_negotiables())
    citations = [(path, text, m) for path, text in texts(".py", ".md") for m in NON_NEGOTIABLE.finditer(text)]
    assert len(citations) > 10, "the pattern finds (almost) no citation: it is broken"
    wrong = [where(path, text, m) for path, text, m in citations if not 1 <= int(m.group(1)) <= count]
    assert not wrong, f"docs/architecture.md lists {count} non-negotiables; these cite others:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(docs/domain.md §3)", [3]),
        ("docs/domain.md §2–§3 (income)", [2, 3]),
        ("docs/domain.md §4 and §6 (households without labour)", [4, 6]),
        ("([domain.md](domain.md) §7)", [7]),
        ("docs/domain.md §9.", [9]),
        ("docs/domain.md; thresholds", []),
    ],
)
def test_domain_citations_are_read_as_written(text: str, expected: list[int]) -> None:
    assert [n for _, n in domain_citations(text)] == expected
