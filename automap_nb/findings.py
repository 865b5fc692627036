"""The book's words for :mod:`automap_nb.statistics` results: one wording for every chapter.

Every comparison sentence names the metric, the mean difference, its interval, the number of
volumes and the split; "A beats B" appears only when the interval excludes zero, "no difference
was shown" otherwise. Chapters glue these strings; they do not build their own.
"""

from __future__ import annotations

from automap_nb.statistics import MIN_VOLUMES, Comparison, Learned, agreement

#: How each metric is named and printed.
METRIC_LABELS = {
    "psnr": ("PSNR", "{:+.2f} dB"), "ssim": ("SSIM", "{:+.3f}"), "nmse": ("NMSE", "{:+.3g}"),
    "psnr_seed": ("PSNR (MAX = 1)", "{:+.2f} dB")
}


def interval_text(c: Comparison) -> str:
    """``"+1.39 dB (95 % CI +1.21 to +1.57; 12 test volumes)"``, or the difference and why no interval."""
    label, fmt = METRIC_LABELS[c.metric]
    if c.outcome == "undefined":
        return f"undefined (a non-finite {label}; {c.volumes} {c.split} volumes)"
    if c.outcome == "too few volumes":
        return f"{fmt.format(c.difference)} ({c.volumes} {c.split} volume(s): fewer than {MIN_VOLUMES}, no interval)"
    return (f"{fmt.format(c.difference)} ({100 * c.confidence:.0f} % CI {fmt.format(c.low)} to {fmt.format(c.high)}; "
            f"{c.volumes} {c.split} volumes)")


def comparison_sentence(c: Comparison) -> str:
    """One sentence: who is better on this metric, by how much, with the interval (no final period)."""
    label, _ = METRIC_LABELS[c.metric]
    diff = f"{label} difference {c.a} − {c.b}: {interval_text(c)}"
    if c.outcome in ("a", "b"):
        loser = c.b if c.winner == c.a else c.a
        return f"{c.winner} beats {loser} in {label} ({diff})"
    if c.outcome == "none":
        return f"no {label} difference was shown between {c.a} and {c.b} ({diff})"
    return f"{c.a} against {c.b} in {label} is inconclusive ({diff})"


def agreement_sentence(comparisons: dict[str, Comparison]) -> str:
    """Say whether the metrics agree about ``a`` against ``b`` (no final period)."""
    first = next(iter(comparisons.values()))
    verdicts = {m: (c.winner or "neither") for m, c in comparisons.items()}
    listed = ", ".join(f"{METRIC_LABELS[m][0]}: {w}" for m, w in verdicts.items())
    kind = agreement(comparisons)
    if kind == "agree":
        return f"the metrics agree on {first.a} against {first.b} ({listed})"
    if kind == "disagree":
        return f"the metrics disagree on {first.a} against {first.b} ({listed})"
    return f"the metrics agree only in part on {first.a} against {first.b} ({listed})"


def learned_sentence(result: Learned) -> str:
    """The "learned" rule's verdict on a model, with its interval (no final period)."""
    gain = interval_text(result.gain)
    head = {
        "learned": f"{result.model} has learned the reconstruction",
        "not learned": f"{result.model} has not learned the reconstruction",
        "inconclusive": f"whether {result.model} has learned the reconstruction is inconclusive"
    }[result.status]
    return (f"{head}: its PSNR gain over the mean training image is {gain}, and {result.reason} "
            f"(the rule asks the whole interval to lie at or above {result.margin_db:g} dB)")


def inconclusive_sentence(result: Learned, what: str) -> str:
    """Why a chapter draws no verdict about ``what`` from a model that did not pass the rule."""
    return (f"{what} is inconclusive at this budget: {result.model} did not pass the learned rule on {result.split} "
            f"({result.reason}), so its behaviour says little about a model that has learned the transform")
