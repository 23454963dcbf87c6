"""The bilingual glossary (#41): every lesson links it, each essay section it names holds its term, its names exist."""
from __future__ import annotations

import dataclasses
import inspect
import json
import re
from pathlib import Path

import pytest

import curiolib
from curiolib.classroom.catalog import NOTEBOOK_DIR, PROJECT_ROOT

GLOSSARY = PROJECT_ROOT / "GLOSSARY.md"
LINK = "Terms from the source essays, in Chinese and English: [GLOSSARY.md](../GLOSSARY.md)."
LESSONS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
#: The essays are not shipped; a maintainer's checkout has them beside it (the issue's ../shared/seeds/).
SEEDS = PROJECT_ROOT.parent / "shared" / "seeds"


def _term_rows() -> list[dict[str, str]]:
    """The glossary's rows of terms, each as {column header: cell}; the table of essay files is left out."""
    rows, header = [], None
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            header = None
        elif header is None:
            header = cells
        elif not set("".join(cells)) <= set("-: ") and header[0] == "中文 (essays)":
            rows.append(dict(zip(header, cells)))
    return rows


def _claims(where: str) -> list[tuple[str, str]]:
    """'000, 003 and 004 §7.3; 004 §8.2' -> [("000", "7.3"), ("003", "7.3"), ("004", "7.3"), ("004", "8.2")]."""
    claims = []
    for group in where.split(";"):
        essays = re.findall(r"\b\d{3}\b", group.split("§")[0])
        claims += [(essay, section) for essay in essays for section in re.findall(r"§(\d+(?:\.\d+)?)", group)]
    return claims


def _sections(path: Path) -> dict[str, str]:
    """An essay's text by section number ("4.2", and "9" for a chapter with no numbered sub-sections)."""
    sections: dict[str, str] = {}
    current = "title"
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{2,3}\s+(\d+(?:\.\d+)?)", line)
        if heading:
            current = heading.group(1)
        sections[current] = sections.get(current, "") + line + "\n"
    return sections


def test_the_glossary_exists_where_the_lessons_link_it() -> None:
    assert GLOSSARY.is_file(), f"{GLOSSARY} is missing"
    assert (NOTEBOOK_DIR / ".." / "GLOSSARY.md").resolve() == GLOSSARY.resolve()  # the link is relative to notebooks/
    assert len(_term_rows()) >= 40


@pytest.mark.parametrize("path", LESSONS, ids=[path.stem for path in LESSONS])
def test_every_lessons_first_markdown_cell_ends_with_the_glossary_link(path: Path) -> None:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = next(cell for cell in cells if cell["cell_type"] == "markdown")
    assert "".join(first["source"]).rstrip().endswith(LINK), f"{path.name}: the first markdown cell lacks {LINK!r}"


def test_all_nine_lessons_are_checked() -> None:
    assert [path.name[:2] for path in LESSONS] == [f"{number:02d}" for number in range(9)]


def test_every_curiolib_name_the_glossary_gives_exists() -> None:
    # A renamed function or setting must be renamed here too. Dotted names (torch's) and files are not curiolib's.
    known = (set(curiolib.__all__) | set(curiolib.STRATEGIES) | set(inspect.signature(curiolib.simulate).parameters)
             | {field.name for config in (curiolib.TrainingConfig, curiolib.ActiveLearningConfig)
                for field in dataclasses.fields(config)}
             | {"labels", "word_ids"})  # the model's input and the tokenizer's method, named as transformers does
    names = [code.split("=")[0] for code in re.findall(r"`([^`]+)`", GLOSSARY.read_text(encoding="utf-8"))]
    unknown = sorted({name for name in names if re.fullmatch(r"[A-Za-z_]\w*", name) and name not in known})
    assert not unknown, f"GLOSSARY.md names what curiolib does not have: {unknown}"


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the essays are not shipped; {SEEDS} is where a maintainer has them")
def test_every_essay_section_the_glossary_names_holds_its_term() -> None:
    essays = {path.name[:3]: _sections(path) for path in sorted(SEEDS.glob("00[0-9]_*.txt"))}
    assert len(essays) == 5, sorted(essays)
    wrong = []
    for row in _term_rows():
        chinese, where = row["中文 (essays)"], row["essays"]
        terms = [term for term in re.split(r"\s*(?:/|\(|\)|、|→)\s*", chinese) if term]
        claims = _claims(where)
        assert claims, f"{chinese}: no essay section named in {where!r}"
        wrong += [(chinese, f"{essay} §{section}") for essay, section in claims
                  if not any(term in essays[essay].get(section, "") for term in terms)]
    assert not wrong, f"(term, essay section that does not use it): {wrong}"
