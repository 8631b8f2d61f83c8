"""README's results are copies of the committed results files, never numbers typed by hand.

README's Table 2 (header `| Acquisition | ...`) must equal `results/mixmnist-quick/table2.md` cell
for cell in the columns it shows, and README's claims table (header `| Claim | ...`) must give
every claim the verdict `results/mixmnist-quick/claims.md` gives it. A new grid that changes the
results files without README (or the other way round) fails here.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "results" / "mixmnist-quick"


def tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table in `text`: its rows (header first, the |---| row dropped) as cells."""
    found, rows = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                rows.append(cells)
        elif rows:
            found.append(rows)
            rows = []
    return found


def table_headed(text: str, first: str) -> list[list[str]]:
    matches = [t for t in tables(text) if t[0][0] == first]
    assert len(matches) == 1, f"expected one table headed {first!r}, found {len(matches)}"
    return matches[0]


def strategy_name(cell: str) -> str:
    """README may add a remark in parentheses after a strategy's name: 'EAOA (ours, ...)'."""
    return re.sub(r"\s*\((ours|not)[^)]*\)$", "", cell)


def claim_verdicts(text: str) -> dict[str, str]:
    """claims.md: the verdict (the bold line under each `## ID: ...` heading) by claim ID, and
    each target's (`- T1, ...: met` / `**missed**`)."""
    verdicts, claim = {}, None
    for line in text.splitlines():
        heading = re.match(r"## ([^:]+):", line)
        if heading:
            claim = heading.group(1)
        bold = re.fullmatch(r"\*\*(holds|fails|inconclusive|met|missed)\*\*", line.strip())
        if bold and claim and claim not in verdicts:
            verdicts[claim] = bold.group(1)
        target = re.match(r"- (T\d), .*?: (?:\*\*)?(missed|met)\b", line)
        if target:
            verdicts[target.group(1)] = target.group(2)
    return verdicts


def test_readme_table2_is_a_copy_of_the_committed_table():
    readme = table_headed((ROOT / "README.md").read_text(), "Acquisition")
    committed = table_headed((FOLDER / "table2.md").read_text(), "Acquisition")
    columns = {name: i for i, name in enumerate(committed[0])}
    missing = [c for c in readme[0] if c not in columns]
    assert not missing, f"README's Table 2 has columns table2.md lacks: {missing}"
    rows = {row[0]: row for row in committed[1:]}
    assert len(readme) - 1 == len(rows), "README's Table 2 must list every strategy of table2.md"
    for row in readme[1:]:
        name = strategy_name(row[0])
        assert name in rows, f"README's Table 2 row {row[0]!r} is not in table2.md"
        for header, cell in zip(readme[0][1:], row[1:]):
            assert cell == rows[name][columns[header]], (
                f"README's Table 2, {name} / {header}: {cell!r}, table2.md says "
                f"{rows[name][columns[header]]!r} (copy the committed table)")


def test_readme_claims_table_gives_each_claim_its_committed_verdict():
    readme = table_headed((ROOT / "README.md").read_text(), "Claim")
    verdicts = claim_verdicts((FOLDER / "claims.md").read_text())
    assert {"C1", "C2", "C3", "C4", "C5"} <= set(verdicts), sorted(verdicts)
    verdict_column = readme[0].index("Verdict")
    shown = {}
    for row in readme[1:]:
        claim = row[0].split()[0].strip("*")
        shown[claim] = row[verdict_column].strip("*")
    assert {"C1", "C2", "C3", "C4", "C5"} <= set(shown), "README's claims table lists C1-C5"
    for claim, verdict in shown.items():
        assert claim in verdicts, f"README's claims table names {claim!r}, claims.md has no such claim"
        assert verdict == verdicts[claim], (
            f"README says {claim} {verdict}, claims.md says {verdicts[claim]}")
