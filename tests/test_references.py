"""The book's bibliography: every citation resolves, and the references page lists only what is cited."""

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", (REPO / "book" / "references.bib").read_text(), re.M))


def _cited() -> dict[str, set[str]]:
    """``{key: {files citing it}}`` over the book's pages, the notebooks' markdown and automap_nb."""
    sources = {p: p.read_text() for p in (REPO / "book").glob("*.md")}
    sources.update({p: p.read_text() for p in (REPO / "automap_nb").glob("*.py")})
    for nb in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        cells = json.loads(nb.read_text())["cells"]
        sources[nb] = "\n".join("".join(c["source"]) for c in cells)
    cited: dict[str, set[str]] = {}
    for path, text in sources.items():
        for keys in CITE.findall(text):
            for key in keys.split(","):
                cited.setdefault(key.strip(), set()).add(path.name)
    return cited


def test_every_citation_is_in_the_bibliography():
    missing = {key: sorted(files) for key, files in _cited().items() if key not in _bib_keys()}
    assert not missing, f"cited but not in book/references.bib: {missing}"


def test_the_references_page_lists_only_cited_works():
    page = (REPO / "book" / "references.md").read_text()
    assert "```{bibliography}" in page and ":all:" not in page
    assert {"greenberg2019boosting", "zhu2018automap", "zbontar2018fastmri"} <= set(_cited())
