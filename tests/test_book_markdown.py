"""Markdown that a chapter displays (IPython's ``Markdown``, e.g. the departures tables) renders as
the book renders it: myst-nb parses it with ``nb_render_markdown_format`` (default CommonMark, which
has no tables, so a table would show as lines of pipes)."""

from pathlib import Path

import yaml
from myst_parser.config.main import MdParserConfig
from myst_parser.mdit_to_docutils.base import DocutilsRenderer
from myst_parser.parsers.mdit import create_md_parser

from automap_nb.orchestration import profiles

REPO = Path(__file__).resolve().parent.parent


def test_displayed_markdown_tables_render_as_tables():
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["sphinx"]["config"].get("nb_render_markdown_format") == "myst"
    extensions = config["parse"]["myst_enable_extensions"]
    md = create_md_parser(MdParserConfig(enable_extensions=set(extensions)), DocutilsRenderer)
    text = profiles.departures_markdown(profiles.departures(profiles.PROFILES["cpu"]))
    tokens = md.parse(text)
    assert [t.type for t in tokens].count("table_open") == 1
    header = [t.content for t in tokens if t.type == "inline"][:3]
    assert header == ["parameter", "the paper → this run", "why, and what it costs"]
