"""Paired comparisons over volumes, and the one "learned" rule every chapter applies.

A comparison between two methods is made on the *same* volumes of one split: for each volume the
difference of the two methods' fastMRI per-volume metric (:func:`automap_nb.evaluate.evaluate_volumes`),
then the mean difference and a percentile bootstrap interval over volumes (volumes, not slices,
are the unit: slices of one volume are not independent). The resampling is seeded, so a book
rebuilt from the same run prints the same interval.

- :func:`compare` turns two ``evaluate_volumes`` results into one :class:`Comparison` per metric.
  ``A beats B`` is said only when the interval excludes zero on the side the metric favours
  (PSNR and SSIM: higher is better; NMSE: lower is better); otherwise no difference was shown.
  With fewer than :data:`MIN_VOLUMES` paired volumes no interval is computed and the outcome is
  ``"too few volumes"``.
- :func:`learned` is the one rule by which a chapter calls a model *learned*: the whole interval
  of its paired PSNR gain over the mean training image, on the same slices, lies at or above
  :data:`LEARNED_MARGIN_DB`. Entirely below the margin it has *not learned*; straddling it, or on
  too few volumes, the evidence is *inconclusive*. A chapter draws scientific verdicts (rankings,
  weight analyses, stability claims) only from a model whose status is ``"learned"``.

The sentences that say these results in the book live in :mod:`automap_nb.findings`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: Two-sided coverage of every interval in the book.
CONFIDENCE = 0.95
#: Bootstrap resamples of the volumes (percentile interval of the mean paired difference).
RESAMPLES = 10_000
#: Fewest paired volumes for which an interval is computed.
MIN_VOLUMES = 3
#: How far (dB, fastMRI per-volume PSNR) above the mean training image the whole interval of a
#: model's paired gain must lie before a chapter calls the model learned.
LEARNED_MARGIN_DB = 5.0
#: The direction in which each metric improves.
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "nmse": False, "psnr_max1": True}
#: The metrics every comparison reports.
METRICS = ("psnr", "ssim", "nmse")

OUTCOMES = ("a", "b", "none", "too few volumes", "undefined")
STATUSES = ("learned", "not learned", "inconclusive")


def bootstrap_interval(differences, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``differences`` (1-D, one value per volume).

    Volumes are resampled with replacement ``resamples`` times with a fixed RNG ``seed``;
    returns ``(low, high)``. Needs at least :data:`MIN_VOLUMES` finite values.
    """
    d = np.asarray(differences, dtype=np.float64).reshape(-1)
    if d.size < MIN_VOLUMES:
        raise ValueError(f"bootstrap_interval needs at least {MIN_VOLUMES} values, got {d.size}")
    if not np.all(np.isfinite(d)):
        raise ValueError("bootstrap_interval: differences must be finite")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(int(resamples), d.size))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class Comparison:
    """Method ``a`` against method ``b`` on ``metric`` over ``volumes`` paired volumes of ``split``.

    ``difference`` is the mean over volumes of ``a − b``; ``low``/``high`` its interval (``nan``
    below :data:`MIN_VOLUMES`). ``outcome``: ``"a"`` (a is better), ``"b"``, ``"none"`` (the interval
    contains zero: no difference shown), ``"too few volumes"`` or ``"undefined"`` (a non-finite
    value, e.g. an exact reconstruction's infinite PSNR).
    """
    a: str
    b: str
    metric: str
    split: str
    volumes: int
    mean_a: float
    mean_b: float
    difference: float
    low: float
    high: float
    confidence: float
    outcome: str

    @property
    def winner(self) -> str | None:
        """The better method's name, or ``None`` when no difference was shown."""
        return {"a": self.a, "b": self.b}.get(self.outcome)

    def to_dict(self) -> dict:
        return asdict(self)


def _per_volume(result: dict, metric: str) -> dict[str, float]:
    try:
        return {name: float(values[metric]) for name, values in result["per_volume"].items()}
    except KeyError as missing:
        raise ValueError(f"an evaluate_volumes result without per-volume {metric!r}: {missing}") from None


def compare_metric(a_values: dict[str, float], b_values: dict[str, float], metric: str, split: str, a: str = "A", b: str = "B",
                   confidence: float = CONFIDENCE) -> Comparison:
    """Pair ``a_values`` and ``b_values`` (``{volume: value}``, the same volumes) and compare them."""
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(HIGHER_IS_BETTER)}")
    if set(a_values) != set(b_values):
        raise ValueError(f"{a} and {b} were evaluated on different volumes: "
                         f"{sorted(set(a_values) ^ set(b_values))[:4]} are in one only")
    names = sorted(a_values)
    if not names:
        raise ValueError(f"{a} and {b}: no volumes to compare")
    core = _paired([a_values[n] for n in names], [b_values[n] for n in names], confidence)
    better_if_greater = HIGHER_IS_BETTER[metric]
    outcome = {
        "greater": "a" if better_if_greater else "b", "less": "b" if better_if_greater else "a", "too few": "too few volumes"
    }.get(core["sign"], core["sign"])
    return Comparison(a, b, metric, split, core["units"], core["mean_a"], core["mean_b"], core["difference"], core["low"],
                      core["high"], confidence, outcome)


def compare(a_result: dict, b_result: dict, split: str, a: str = "A", b: str = "B", metrics=METRICS) -> dict[str, Comparison]:
    """Compare two :func:`~automap_nb.evaluate.evaluate_volumes` results on the same volumes:
    ``{metric: Comparison}`` for each of ``metrics``."""
    return {m: compare_metric(_per_volume(a_result, m), _per_volume(b_result, m), m, split, a, b) for m in metrics}


def agreement(comparisons: dict[str, Comparison]) -> str:
    """``"agree"`` when every metric gives the same outcome, ``"disagree"`` when one metric finds
    ``a`` better and another ``b``, ``"partial"`` otherwise (some find a difference, some none)."""
    outcomes = {c.outcome for c in comparisons.values()}
    if {"a", "b"} <= outcomes:
        return "disagree"
    return "agree" if len(outcomes) == 1 else "partial"


@dataclass(frozen=True)
class Learned:
    """The one "learned" rule's result for ``model`` on ``split``.

    ``gain`` is the paired PSNR comparison of the model against the mean training image
    (``difference`` = mean gain in dB, with its interval); ``status`` is one of :data:`STATUSES`;
    ``reason`` says why in a few words.
    """
    model: str
    split: str
    margin_db: float
    gain: Comparison
    status: str
    reason: str

    @property
    def passed(self) -> bool:
        return self.status == "learned"

    def to_dict(self) -> dict:
        return {
            "model": self.model, "split": self.split, "margin_db": self.margin_db, "status": self.status, "passed": self.passed,
            "reason": self.reason, "gain": self.gain.to_dict()
        }


def learned(model_result: dict, mean_image_result: dict, split: str, model: str = "AUTOMAP",
            margin_db: float = LEARNED_MARGIN_DB) -> Learned:
    """Apply the one "learned" rule: ``model_result`` and ``mean_image_result`` are
    :func:`~automap_nb.evaluate.evaluate_volumes` results on the same slices of ``split``.

    learned: the interval of the paired PSNR gain lies entirely at or above ``margin_db``;
    not learned: entirely below it; inconclusive: it straddles the margin, or there are fewer
    than :data:`MIN_VOLUMES` volumes.
    """
    gain = compare_metric(_per_volume(model_result, "psnr"), _per_volume(mean_image_result, "psnr"), "psnr", split, model,
                          "mean training image")
    if gain.outcome in ("too few volumes", "undefined"):
        status = "inconclusive"
        reason = f"{gain.volumes} {split} volume(s), fewer than the {MIN_VOLUMES} an interval needs" \
            if gain.outcome == "too few volumes" else "a non-finite PSNR"
    elif gain.low >= margin_db:
        status, reason = "learned", f"the whole interval of its gain lies above {margin_db:g} dB"
    elif gain.high < margin_db:
        status, reason = "not learned", f"the whole interval of its gain lies below {margin_db:g} dB"
    else:
        status, reason = "inconclusive", f"the interval of its gain contains {margin_db:g} dB"
    return Learned(model, split, float(margin_db), gain, status, reason)


def paired_interval(a_values, b_values, confidence: float = CONFIDENCE) -> dict:
    """Paired comparison of any per-unit quantity (not only the metrics :func:`compare_metric` knows).

    ``a_values``, ``b_values``: ``{unit: value}`` over the same units (e.g. one value per volume),
    or equal-length sequences paired by position. Returns ``{"units", "mean_a", "mean_b",
    "difference" (mean of a − b), "low", "high", "confidence", "outcome"}``: ``outcome`` is
    ``"a greater"`` or ``"b greater"`` when the interval excludes zero, ``"none"`` when it contains
    it, ``"too few"`` below :data:`MIN_VOLUMES` units and ``"undefined"`` for a non-finite value
    (then ``low``/``high`` are ``nan``).
    """
    if isinstance(a_values, dict) or isinstance(b_values, dict):
        if not (isinstance(a_values, dict) and isinstance(b_values, dict)) or set(a_values) != set(b_values):
            raise ValueError("paired_interval: a_values and b_values must be dicts over the same units")
        names = sorted(a_values)
        a_values, b_values = [a_values[n] for n in names], [b_values[n] for n in names]
    core = _paired(a_values, b_values, confidence)
    outcome = {"greater": "a greater", "less": "b greater"}.get(core["sign"], core["sign"])
    return {**{k: v for k, v in core.items() if k != "sign"}, "confidence": confidence, "outcome": outcome}


def _paired(a_values, b_values, confidence: float) -> dict:
    """The one paired computation behind :func:`compare_metric` and :func:`paired_interval`: means,
    mean difference ``a − b`` and its bootstrap interval over the paired units; ``sign`` is
    ``"greater"`` / ``"less"`` when the interval excludes zero on that side, ``"none"``, ``"too few"``
    (below :data:`MIN_VOLUMES`, no interval) or ``"undefined"`` (a non-finite value)."""
    va = np.asarray(a_values, dtype=np.float64).reshape(-1)
    vb = np.asarray(b_values, dtype=np.float64).reshape(-1)
    if va.size != vb.size or va.size == 0:
        raise ValueError(f"paired_interval: {va.size} and {vb.size} values; they must pair up (and not be empty)")
    out = {"units": int(va.size), "mean_a": float(np.mean(va)), "mean_b": float(np.mean(vb)), "low": math.nan, "high": math.nan}
    if not (np.all(np.isfinite(va)) and np.all(np.isfinite(vb))):
        return {**out, "difference": math.nan, "sign": "undefined"}
    out["difference"] = float(np.mean(va - vb))
    if va.size < MIN_VOLUMES:
        return {**out, "sign": "too few"}
    low, high = bootstrap_interval(va - vb, confidence)
    sign = "greater" if low > 0 else "less" if high < 0 else "none"
    return {**out, "low": low, "high": high, "sign": sign}
