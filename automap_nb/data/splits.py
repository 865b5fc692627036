"""Volume-level train/val/test split: deterministic, leak-free, stable when files are added.

Each *group* (the file's ``patient_id`` when it has one, else its file name) is hashed with SHA-256
to a number ``u`` in [0, 1); ``u < train`` goes to train, ``u < train + val`` to val, the rest to
test. A group's split depends on its own name only, so adding files never moves existing ones,
and all slices of a volume — and all volumes of a patient — land in one split (no leakage).

With very few groups a hashed split can leave val or test empty (5 % of 16 volumes is less than
one). Then, and only then, the groups with the largest ``u`` in the largest split (train) are moved into the empty
split(s); :func:`assign_splits` reports that it did so. Large folders never take this path.

fastMRI ships its own folders (``singlecoil_train``, ``singlecoil_val``). A split given its own
folder (``--val-dir``, ``--test-dir``) takes every volume of that folder; the splits without a
folder are hashed out of the training folder with their fractions rescaled to sum to 1
(:func:`fractions_for_training_folder`). To train on fastMRI's training set and report on its
validation set, as fastMRI papers do: ``--data-dir singlecoil_train --test-dir singlecoil_val``
(the val split, for monitoring and tuning, is then held out of the training folder).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.9, 0.05, 0.05)


def split_hash(group: str, salt: str = "automap-nb") -> float:
    """A stable number in [0, 1) for ``group`` (SHA-256 of ``salt/group``)."""
    digest = hashlib.sha256(f"{salt}/{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def check_fractions(fractions) -> tuple[float, float, float]:
    """Validate ``(train, val, test)`` fractions: three non-negative numbers summing to 1."""
    try:
        train, val, test = (float(x) for x in fractions)
    except (TypeError, ValueError):
        raise ValueError(f"split fractions must be three numbers (train, val, test), got {fractions!r}") from None
    if not all(math.isfinite(x) for x in (train, val, test)):
        raise ValueError(f"split fractions must be finite numbers, got {fractions!r}")
    if min(train, val, test) < 0 or abs(train + val + test - 1) > 1e-6:
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions!r}")
    return train, val, test


def assign_splits(groups, fractions=DEFAULT_FRACTIONS, salt: str = "automap-nb") -> tuple[dict, dict]:
    """Assign each distinct group name to ``train``/``val``/``test``.

    Returns ``(assignment, moved)``: ``assignment`` maps group → split; ``moved`` maps each group
    moved to fill an empty split to a note saying so (empty for folders big enough for hashing).
    Needs at least three groups when every fraction is positive.
    """
    train, val, _ = check_fractions(fractions)
    names = sorted(set(groups))
    hashes = {name: split_hash(name, salt) for name in names}
    assignment = {}
    for name in names:
        u = hashes[name]
        assignment[name] = "train" if u < train else "val" if u < train + val else "test"
    moved_notes = {}
    wanted = [s for s, frac in zip(SPLITS, check_fractions(fractions)) if frac > 0]
    if len(names) < len(wanted):
        raise ValueError(f"{len(names)} volume group(s) cannot fill the {len(wanted)} non-empty splits {wanted}")
    for split in wanted:
        if split in assignment.values():
            continue
        counts = Counter(assignment.values())
        biggest = max(counts, key=counts.get)
        donors = [n for n in names if assignment[n] == biggest]
        moved = max(donors, key=lambda n: hashes[n])
        moved_notes[moved] = f"moved {assignment[moved]} → {split} (split {split!r} was empty)"
        assignment[moved] = split
    return assignment, moved_notes


def fractions_for_training_folder(fractions, own_folders) -> tuple[float, float, float]:
    """The fractions used to hash the training folder when the splits in ``own_folders`` (a subset
    of ``("val", "test")``) come from folders of their own: those are 0, the others rescaled to 1."""
    kept = [0.0 if split in own_folders else frac for split, frac in zip(SPLITS, check_fractions(fractions))]
    if kept[0] <= 0:
        raise ValueError(f"split fractions {tuple(fractions)!r} give the training folder no training volumes")
    total = sum(kept)
    return tuple(frac / total for frac in kept)
