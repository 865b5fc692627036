"""The book's wording on constructed results: what a sentence claims follows from the numbers it is given."""

import pytest

from automap_nb import findings

RING = dict(peak_radius=0.3, inner=0.1, outer=0.35, area_ring=0.09, share_ring=0.35, share_inside=0.01, share_outside=0.64)


@pytest.mark.parametrize("ring, words", [({"density_ring": 3.7}, "a ring around the centre"),
                                         ({"density_ring": 1.3, "inner": 0.97}, "close to uniform"),
                                         ({"density_ring": 2.5, "inner": 0.97}, "edge of the grid")])
def test_chapter_04_reads_a_ring_by_its_density_and_radius(ring, words):
    sentence = findings.ch04_ring_sentence("dense_1", "k-space coefficient", {**RING, **ring})
    assert sentence.endswith(words) or words in sentence
    assert "dense_1's change per k-space coefficient" in sentence
