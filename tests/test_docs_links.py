"""README.md and docs/*.md: every relative Markdown link resolves, and the pages stay short.

A link is `[text](target)` or `![alt](target)` outside code blocks and code spans. A relative
target must name an existing file or folder (relative to the page that links it); a `#anchor`
must be the GitHub-style slug of a heading in the target page (the page itself for `(#anchor)`).
http(s) and mailto links are not checked. README.md has at most 250 lines, each docs page 300.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250
DOCS_MAX_LINES = 300

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = ("http://", "https://", "mailto:")


def outside_code_blocks(text: str):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
                continue
            if mark[0] == fence[0] and len(mark) >= len(fence) and not line.strip()[len(mark):].strip():
                fence = None
                continue
        if fence is None:
            yield number, line


def prose_lines(text: str):
    """The lines outside fenced code blocks, with code spans blanked."""
    for number, line in outside_code_blocks(text):
        yield number, CODE_SPAN.sub(lambda s: " " * len(s.group(0)), line)


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every Markdown link and image outside code."""
    return [(n, m.group(1)) for n, line in prose_lines(text) for m in LINK.finditer(line)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: markup dropped, lower case, punctuation removed,
    spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # a link keeps its text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    kept = "".join(c for c in text if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's slug, duplicates numbered as GitHub does (`-1`, `-2`, ...)."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in outside_code_blocks(text):
        h = HEADING.match(line)
        if h:
            base = slug(h.group(2))
            n = seen.get(base, 0)
            out.add(base if n == 0 else f"{base}-{n}")
            seen[base] = n + 1
    return out


def broken_links(page: Path) -> list[str]:
    """`page:line: target (why)` for every relative link of `page` that does not resolve."""
    text = page.read_text(encoding="utf-8")
    out = []
    for number, target in links(text):
        if not target or target.lower().startswith(EXTERNAL):
            continue
        path_part, _, anchor = target.partition("#")
        dest = (page.parent / path_part).resolve() if path_part else page
        where = f"{page.name}:{number}: {target}"
        if not dest.exists():
            out.append(f"{where} (no such file)")
            continue
        if anchor:
            if dest.is_dir() or dest.suffix.lower() != ".md":
                out.append(f"{where} (an anchor into a file that is no Markdown page)")
            elif anchor not in anchors(dest.read_text(encoding="utf-8")):
                out.append(f"{where} (no heading makes #{anchor})")
    return out


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_relative_link_resolves():
    broken = [b for page in pages() for b in broken_links(page)]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_pages_are_short():
    too_long = []
    for page in pages():
        limit = README_MAX_LINES if page.name == "README.md" and page.parent == ROOT else DOCS_MAX_LINES
        n = len(page.read_text(encoding="utf-8").splitlines())
        if n > limit:
            too_long.append(f"{page.relative_to(ROOT)}: {n} lines (at most {limit})")
    assert not too_long, "\n".join(too_long)


def test_no_link_leaves_the_repository():
    outside = [f"{page.name}:{n}: {t}" for page in pages() for n, t in links(page.read_text(encoding="utf-8"))
               if t and not t.lower().startswith(EXTERNAL) and not t.startswith("#")
               and ROOT not in ((page.parent / t.partition("#")[0]).resolve().parents)]
    assert not outside, "links outside the repository:\n" + "\n".join(outside)


# The checker itself: it must find what is broken, and only that.

def test_checker_finds_broken_links_and_anchors(tmp_path: Path):
    (tmp_path / "other.md").write_text("# Other page\n\n## Speed and memory (quick profile, 2-core machine)\n\n"
                                       "## The proposed method (`random_cl`, `distance_cl`)\n## Same\n## Same\n")
    (tmp_path / "figure.png").write_bytes(b"png")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## A section: 6 strategies × 3 seeds\n\n"
        "[fine](other.md) ![fine](figure.png) [fine](#page) [fine](#a-section-6-strategies--3-seeds)\n"
        "[fine](other.md#speed-and-memory-quick-profile-2-core-machine)\n"
        "[fine](other.md#the-proposed-method-random_cl-distance_cl) [fine](other.md#same-1)\n"
        "[ignored](https://example.com/missing.md) [ignored](mailto:a@b.c)\n"
        "`[ignored](in-a-code-span.md)`\n"
        "```\n[ignored](in-a-code-block.md)\n```\n"
        "[broken](missing.md) ![broken](missing.png)\n"
        "[broken](other.md#no-such-heading) [broken](#nowhere) [broken](figure.png#x)\n")
    found = broken_links(page)
    assert [b.split(": ", 1)[1] for b in found] == [
        "missing.md (no such file)",
        "missing.png (no such file)",
        "other.md#no-such-heading (no heading makes #no-such-heading)",
        "#nowhere (no heading makes #nowhere)",
        "figure.png#x (an anchor into a file that is no Markdown page)",
    ], found
    assert all(b.startswith("page.md:13: ") or b.startswith("page.md:14: ") for b in found), found


@pytest.mark.parametrize("heading, anchor", [
    ("What a run reports (`metrics/summary.json`, Table 2's DVC metric)",
     "what-a-run-reports-metricssummaryjson-table-2s-dvc-metric"),
    ("Precision: fp32 or bf16 (`precision`)", "precision-fp32-or-bf16-precision"),
    ("2. Rounds as DVC stages", "2-rounds-as-dvc-stages"),
    ("Natural-image benchmarks: MixCIFAR60 and the offline stand-in",
     "natural-image-benchmarks-mixcifar60-and-the-offline-stand-in"),
])
def test_slug_is_githubs(heading: str, anchor: str):
    assert slug(heading) == anchor
