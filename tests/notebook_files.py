"""Throw-away notebooks for runner tests: a title, one ``parameters`` cell and one code cell."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def write_notebook(path, params_source: str, body: str) -> None:
    """Write a chapter-shaped notebook to ``path`` (kernel ``python3``)."""
    params = new_code_cell(params_source)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell("# t"), params, new_code_cell(body)],
                      metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)
