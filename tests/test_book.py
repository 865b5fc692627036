"""The book builds (-W) from the quick run, with a page per chapter, its figures and glued numbers."""

import re

import pytest

from automap_nb.orchestration import book, runner

pytestmark = pytest.mark.slow


def test_book_builds_from_the_run(quick_book):
    index = quick_book
    assert index.is_file()
    html = index.parent
    for nb in runner.list_notebooks():
        page = html / "notebooks" / nb.with_suffix(".html").name
        assert page.is_file(), f"no page for {nb.name}"
        text = page.read_text()
        assert "<img" in text, f"{nb.name}: no figure on its page"
        assert "glue:text" not in text and "{glue" not in text, f"{nb.name}: unresolved glue"
    for name in ("methods", "sample_data", "running", "references"):
        assert (html / "book" / f"{name}.html").is_file()
    references = (html / "book" / "references.html").read_text()
    assert re.search(r"Greenberg", references)


def test_book_refuses_an_incomplete_run(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(book.BookError, match="no executed notebooks"):
        book.build_book(tmp_path / "run", build_dir=tmp_path / "_build")
