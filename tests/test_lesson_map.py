"""notebooks/README.md stays true: its notebook table lists every notebook, and its tutorial map points at sections that
exist and cites every lesson of the tutorials dalle_kit grew from.

A map row cites notebook sections as ``NN §k`` (the markdown heading ``## k.`` of notebook ``NN_*.ipynb``), ``NN §k.j``
(``### k.j``), ``NN §k-m`` (sections k to m) and lists such as ``NN §1-2, 4-5``. Tutorial headings are cited as
「heading」 in the first column; ``tests/data/tutorial_lessons.json`` holds the headings (copied from the tutorials,
which are not in the repository).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
README = NOTEBOOKS / "README.md"
LESSONS = Path(__file__).resolve().parent / "data" / "tutorial_lessons.json"
MAP_HEADING = "## From the DALL·E tutorials to today's API"

_NUM = r"\d+(?:\.\d+)?"
_ITEM = rf"{_NUM}(?:-{_NUM})?\b"
REF = re.compile(rf"\b(\d{{2}}) §({_ITEM}(?:, ?(?!\d+ §){_ITEM})*)")
CITE = re.compile(r"「([^」]+)」")


def _split_table(text: str) -> list[list[str]]:
    """The rows of the first markdown table in ``text`` (header and separator left out), as lists of cells."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
        elif rows:
            break
    return rows[2:]


def _parts() -> tuple[str, str]:
    text = README.read_text(encoding="utf-8")
    assert MAP_HEADING in text, f"{README.name} has no section {MAP_HEADING!r}"
    table, _, tutorial_map = text.partition(MAP_HEADING)
    return table, tutorial_map


def notebook_rows() -> list[list[str]]:
    return _split_table(_parts()[0])


def map_rows() -> list[list[str]]:
    return _split_table(_parts()[1])


def row_name(row: list[str]) -> str:
    return f"map row {CITE.sub('', row[0]).strip()!r}"


@cache
def sections(number: str) -> set[str]:
    """The section numbers of notebook ``number``: '3' for a heading '## 3. ...', '1.2' for '### 1.2 ...'."""
    found = sorted(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    assert len(found) == 1, f"notebook {number}: expected one notebooks/{number}_*.ipynb, found {found}"
    nb = nbformat.read(found[0], as_version=4)
    numbers: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if (m := re.match(r"##\s+(\d+)\.", line)) or (m := re.match(r"###\s+(\d+\.\d+)\b", line)):
                numbers.add(m.group(1))
    return numbers


def expand(item: str) -> list[str]:
    """'3' -> ['3']; '1-3' -> ['1', '2', '3']; '2.1-2.3' -> ['2.1', '2.2', '2.3']."""
    if "-" not in item:
        return [item]
    first, last = item.split("-")
    if "." in first and "." in last and first.split(".")[0] == last.split(".")[0]:
        major = first.split(".")[0]
        return [f"{major}.{j}" for j in range(int(first.split(".")[1]), int(last.split(".")[1]) + 1)]
    assert "." not in first and "." not in last, f"a range across subsections cannot be checked: {item!r}"
    return [str(k) for k in range(int(first), int(last) + 1)]


def refs(text: str) -> list[tuple[str, str]]:
    """Every (notebook, section) a cell cites, ranges expanded."""
    return [(nb, section) for nb, items in REF.findall(text)
            for item in re.split(r", ?", items) for section in expand(item)]


def test_the_reference_parser_reads_every_form():
    assert refs("— 01 §8-9, 08 §2; at scale 08 §4") == [("01", "8"), ("01", "9"), ("08", "2"), ("08", "4")]
    assert refs("04 §1-2, 4-5 and 08 §2.1-2.2, 08 §1.3") == [
        ("04", "1"), ("04", "2"), ("04", "4"), ("04", "5"), ("08", "2.1"), ("08", "2.2"), ("08", "1.3")]


def test_every_notebook_is_in_the_notebook_table():
    listed = {re.sub(r"`", "", row[0]) for row in notebook_rows()}
    missing = [p.name for p in sorted(NOTEBOOKS.glob("*.ipynb")) if p.name not in listed]
    assert not missing, f"notebooks/README.md's notebook table has no row for {missing}"


def test_every_ready_row_of_the_notebook_table_exists():
    for row in notebook_rows():
        name = row[0].strip("`")
        if row[-1] == "ready":
            assert (NOTEBOOKS / name).is_file(), f"notebook table row {name!r} says ready, but there is no such file"


def test_the_map_exists_and_every_row_points_somewhere():
    rows = map_rows()
    assert len(rows) >= 20, f"the tutorial map has only {len(rows)} rows"
    for row in rows:
        assert len(row) == 3, f"{row_name(row)} has {len(row)} cells, not 3 (a '|' inside a cell?)"
        if row[2] != "nothing to teach":
            assert refs(row[2]), f"{row_name(row)} names no notebook section (NN §k) in its 'now' column"


@pytest.mark.parametrize("row", map_rows(), ids=lambda row: CITE.sub("", row[0]).strip()[:40])
def test_every_cited_section_exists(row):
    for number, section in refs(" | ".join(row)):
        have = sections(number)
        assert section in have, (f"{row_name(row)} cites {number} §{section}, but notebook {number} has no heading "
                                 f"for it (it has §{', §'.join(sorted(have, key=_order))})")


def _order(section: str) -> tuple[int, ...]:
    return tuple(int(p) for p in section.split("."))


def test_every_tutorial_heading_is_cited_in_the_map():
    data = json.loads(LESSONS.read_text(encoding="utf-8"))
    headings = {h: t["seed"] for t in data["tutorials"] for h in t["headings"]}
    cited = {c for row in map_rows() for c in CITE.findall(row[0])}
    missing = [f"{seed}: {h}" for h, seed in headings.items() if h not in cited]
    assert not missing, f"tutorial headings no map row cites as 「heading」: {missing}"
    unknown = sorted(cited - set(headings))
    assert not unknown, f"the map cites 「{'」「'.join(unknown)}」, which no tutorial has as a heading (a typo?)"
