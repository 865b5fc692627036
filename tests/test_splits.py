import pytest

from automap_nb.data import splits


def test_split_is_deterministic_and_stable_when_files_are_added():
    names = [f"file{1000000 + i}.h5" for i in range(400)]
    first, notes = splits.assign_splits(names)
    assert notes == {}
    again, _ = splits.assign_splits(list(reversed(names)))
    assert first == again
    more, _ = splits.assign_splits(names + [f"new{i}.h5" for i in range(200)])
    assert all(more[n] == first[n] for n in names)
    counts = {s: list(first.values()).count(s) for s in splits.SPLITS}
    assert 0.85 < counts["train"] / 400 < 0.95 and counts["val"] > 5 and counts["test"] > 5


def test_tiny_folders_get_every_split_and_say_so():
    names = ["a", "b", "c"]
    assignment, notes = splits.assign_splits(names)
    assert set(assignment.values()) == {"train", "val", "test"}
    assert notes  # something had to be moved


def test_bad_fractions_and_too_few_groups():
    with pytest.raises(ValueError, match="sum to 1"):
        splits.assign_splits(["a", "b", "c"], (0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="three numbers"):
        splits.assign_splits(["a"], (1.0, ))
    with pytest.raises(ValueError, match="cannot fill"):
        splits.assign_splits(["a", "b"])
