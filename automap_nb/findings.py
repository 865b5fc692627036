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
    "psnr_max1": ("PSNR (MAX = 1)", "{:+.2f} dB")
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


def _capital(sentence: str) -> str:
    """The sentence with its first letter upper case, except a name that starts in lower case
    before a capital (``dAUTOMAP``)."""
    if sentence[1:2].isupper():
        return sentence
    return sentence[:1].upper() + sentence[1:]


# ---- chapters 01-02 (data exploration, preprocessing): what the data are and how they were split ----


def ch01_intensity_sentence(stats: list[dict]) -> str:
    """Chapter 01: how the raw magnitudes of the sampled slices compare between acquisition labels,
    stated from the numbers only (no final period). ``stats``: rows ``{"acquisition", "max",
    "99th percentile"}``; two values "differ by X %" relative to the smaller."""
    if not stats:
        raise ValueError("ch01_intensity_sentence: no intensity rows")
    if len(stats) == 1:
        row = stats[0]
        return (f"one acquisition label ({row['acquisition']}): largest magnitude {row['max']:.3g}, "
                f"99th percentile {row['99th percentile']:.3g}")
    parts = []
    for key, name in (("max", "largest magnitude"), ("99th percentile", "99th percentile")):
        low, high = min(stats, key=lambda r: r[key]), max(stats, key=lambda r: r[key])
        apart = 100 * (high[key] - low[key]) / low[key]
        parts.append(f"the {name} ranges from {low[key]:.3g} ({low['acquisition']}) to {high[key]:.3g} "
                     f"({high['acquisition']}), {apart:.0f} % apart")
    return " and ".join(parts)


def ch01_acquisition_note(sample_data: bool) -> str:
    """Chapter 01: what the acquisition labels mean, for the sample data or for fastMRI's files."""
    if sample_data:
        return ("These are fastMRI's labels only: the sample volumes are one brain template with its tissues re-weighted "
                "per label, not proton-density or fat-suppressed acquisitions.")
    return "`CORPD_FBK` is proton-density weighted, `CORPDFS_FBK` the same sequence with fat suppression."


def ch01_data_verdict(volumes: int, slices: int, acquisitions: dict, sample_data: bool, folder: str, esc_max_error: float,
                      esc_checked: int) -> str:
    """Chapter 01's verdict line (plain text): what the data are, from the run."""
    labels = ", ".join(f"{n} {name}" for name, n in acquisitions.items())
    if sample_data:
        what = (f"{volumes} pseudo-volumes ({slices} slices) of the embedded sample data ({folder}/): one brain "
                f"template written in the fastMRI single-coil schema under fastMRI's acquisition labels ({labels}), "
                "not fastMRI knee data")
    else:
        what = f"{volumes} volumes ({slices} slices) of the fastMRI-format folder {folder}/ ({labels})"
    check = (f"the stored targets match |crop(ifft2c(kspace))| to a largest relative difference of {esc_max_error:.1e} "
             f"over {esc_checked} slices" if esc_checked else "no file carries a stored target to check")
    return f"The data are {what}; {check}."


def ch02_split_sentence(fractions, volumes: dict, slices: dict, sample_data: bool, sample_split, default_fractions,
                        own_folders=()) -> str:
    """Chapter 02: how the volumes were split, with the fractions and counts of the run (no final
    period). ``own_folders``: the splits that came from a folder of their own (every volume of it)."""
    counts = ", ".join(f"{split} {volumes[split]} volumes ({slices[split]} slices)" for split in volumes)
    pct = " / ".join(f"{100 * f:g}" for f in fractions) + " %"
    default = " / ".join(f"{100 * f:g}" for f in default_fractions) + " %"
    if own_folders:
        return (f"{counts}: {' and '.join(own_folders)} from folders of their own (every volume), the rest hashed by "
                "patient out of the training folder")
    if sample_data and [float(f) for f in fractions] == [float(f) for f in sample_split]:
        rule = (f"the embedded sample data's rule in profiles.SAMPLE_DATA, which gives a few dozen pseudo-volumes larger "
                f"val and test shares than the {default} a fastMRI folder keeps")
    elif [float(f) for f in fractions] == [float(f) for f in default_fractions]:
        rule = "the default for a fastMRI folder"
    else:
        rule = f"this run's choice (a fastMRI folder's default is {default})"
    return f"the volumes were split by patient hash {pct} (train / val / test), {rule}: {counts}"


def ch02_sources_markdown(sources: dict, folders) -> str:
    """Chapter 02: where each split comes from (``sources`` ``{split: text}``), a Markdown list in which
    each of ``folders`` (``None`` skipped) is named by its name: the page shows no machine path."""
    from pathlib import Path

    names = {str(Path(d).resolve()): f"`{Path(d).name}/`" for d in folders if d is not None}

    def by_name(text: str) -> str:
        for full, name in names.items():
            text = text.replace(full, name)
        return text

    return "\n".join(f"- **{split}**: {by_name(where)}" for split, where in sources.items())


def ch02_verdict(size: int, split_sentence: str) -> str:
    """Chapter 02's verdict line (plain text)."""
    return f"Every slice was prepared at {size} × {size}, and {split_sentence}."


# ---- chapters 03-04 (training AUTOMAP, its weights) ------------------------------------------------


def ch03_dc_phase_paragraph(dc_phase: bool, share: dict) -> str:
    """Chapter 03's paragraph on the first layer: what ``dc_phase`` does and, on this run's training
    slices, the real part's share of the image energy (``share`` ``{"as stored", "DC phase removed"}``)."""
    if not dc_phase:
        return "The network eats the k-space as it comes, as the paper's does."
    return ("The first layer, `dc_phase`, is ours, not the paper's. It has no weights: it multiplies each k-space by "
            "e<sup>−iφ</sup>, φ the phase of its DC coefficient, so that coefficient becomes real. The magnitude image, and "
            "so the target, does not change, but the arbitrary global phase of each slice goes away: on this run's "
            f"training slices the real part of the image carries {share['DC phase removed']:.0%} of its energy after the "
            f"rotation against {share['as stored']:.0%} before, so AUTOMAP's one real output channel can follow the image "
            "nearly linearly instead of learning to ignore the phase (`benchmarks/learning.md` measures what it buys).")


def ch03_trend_sentence(trend: dict) -> str:
    """Chapter 03: how the run ended, from :func:`automap_nb.figures.learning.final_trend` (no final period)."""
    return (f"the learning rate fell from its peak of {trend['peak_lr']:.1e} to {trend['final_lr']:.1e} "
            f"({trend['final_lr_share']:.1%} of the peak) at the last epoch, and over the last "
            f"{trend['window_end'] - trend['window_start'] + 1} epochs ({trend['window_start']}-{trend['window_end']}, "
            f"{trend['window_points']} validations) the validation PSNR changed by {trend['slope_db_per_100_epochs']:+.2f} dB "
            f"per 100 epochs (least-squares slope; {trend['window_gain_db']:+.2f} dB across those epochs)")


def ch03_verdict(epochs: int, samples: int, samples_per_s: float, seconds: float, val_psnr: float, train_psnr: float,
                 val_slices: int, val_volumes: int) -> str:
    """Chapter 03's verdict line (plain text)."""
    return (f"After {epochs} epochs ({samples:,} training samples seen at {samples_per_s:.0f} samples/s, {seconds:.0f} s), "
            f"AUTOMAP reached a PSNR (MAX = 1) of {val_psnr:.2f} dB on the validation split ({val_slices} slices of "
            f"{val_volumes} volumes; {train_psnr:.2f} dB on its augmented training batches).")


CH04_OUTCOMES = {
    "dense least": "the dense kernels moved less than every other kernel",
    "dense most": "the dense kernels moved more than every other kernel",
    "mixed": "the dense kernels lie within the range of the other kernels", "no dense layer": "there is no dense layer to compare"
}


def ch04_claim_sentence(outcomes: dict, labels: dict, formats: dict) -> str:
    """Chapter 04: what each weight-change measure says about the paper's claim that the dense layers
    changed little, i.e. less than the other layers (no final period). ``outcomes``:
    :func:`automap_nb.figures.weights.measure_outcomes`; ``labels``/``formats``: per measure, its name
    and a format string for its values."""
    parts = []
    for key, result in outcomes.items():
        values = ", ".join(f"{k} {formats[key].format(v)}" for k, v in {**result["dense"], **result["other"]}.items())
        parts.append(f"by the {labels[key]}, {CH04_OUTCOMES[result['outcome']]} ({values})")
    kinds = {r["outcome"] for r in outcomes.values()}
    if kinds == {"dense least"}:
        head = "Every measure supports the paper's claim that the dense layers changed less than the others"
    elif "dense least" not in kinds:
        head = "No measure supports the paper's claim that the dense layers changed less than the others"
    else:
        agree = [labels[k] for k, r in outcomes.items() if r["outcome"] == "dense least"]
        head = (f"The measures disagree on the paper's claim that the dense layers changed less than the others: only the "
                f"{' and the '.join(agree)} supports it")
    listed = "; ".join(parts)
    return f"{head}. {listed[0].upper()}{listed[1:]}"


def ch04_verdict(result: Learned, claim_sentence: str) -> str:
    """Chapter 04's verdict line (plain text): the claim sentence for a model that passed the learned
    rule, with the rule's numbers; otherwise why no verdict is drawn."""
    if not result.passed:
        return inconclusive_sentence(result, "What the weights say about the paper's claim") + "."
    return (f"{claim_sentence}. The model passed the learned rule on {result.split} (PSNR gain over the mean training "
            f"image {interval_text(result.gain)}).")


#: Chapter 04: a ring starting this far out (in units of n / 2) lies at the grid's edge (its corners reach √2).
EDGE_RADIUS = 0.9
#: Chapter 04: a ring denser than uniform by less than this factor is called close to uniform.
UNIFORM_DENSITY = 1.5


def ch04_ring_sentence(layer: str, element: str, ring: dict) -> str:
    """Chapter 04: where ``layer``'s change concentrates on its n × n grid of ``element``s, from
    :func:`automap_nb.figures.weights.ring` (radii in units of n / 2; no final period)."""
    return (f"{layer}'s change per {element} is densest at {ring['peak_radius']:.2f} of the half-width from the centre; "
            f"the ring from {ring['inner']:.2f} to {ring['outer']:.2f}, where the radial profile is at least half its "
            f"peak, holds {ring['area_ring']:.1%} of the {element}s and {ring['share_ring']:.1%} of the change "
            f"({ring['density_ring']:.1f}× the uniform density), with {ring['share_inside']:.1%} of the change inside it "
            f"and {ring['share_outside']:.1%} outside" + _ring_shape(ring))


def _ring_shape(ring: dict) -> str:
    """Chapter 04: how to read a ring: nearly uniform, at the grid's edge, or a band inside it."""
    if ring["density_ring"] < UNIFORM_DENSITY:
        return f": close to uniform (the densest ring holds only {ring['density_ring']:.1f}× its share of the grid)"
    if ring["inner"] >= EDGE_RADIUS:
        return ", so the change gathers at the edge of the grid and in its corners rather than inside it"
    return ", a ring around the centre"


# ---- chapters 05 (results) and 06 (undersampling baselines) ------------------------------------------


def _outcome_text(c: Comparison) -> str:
    """``"AUTOMAP better"``, ``"no difference shown"``, ``"too few volumes"`` or ``"undefined"``."""
    if c.winner is not None:
        return f"{c.winner} better"
    return "no difference shown" if c.outcome == "none" else c.outcome


def comparison_cell(c: Comparison, unit: bool = True) -> str:
    """A table cell: ``"+1.20 dB (+0.90 to +1.50): AUTOMAP better"`` (the interval at the comparison's
    confidence); ``unit=False`` leaves out the unit."""
    _, fmt = METRIC_LABELS[c.metric]
    fmt_bare = fmt.replace(" dB", "")
    if c.outcome == "undefined":
        return "undefined (a non-finite value)"
    if c.outcome == "too few volumes":
        return f"{fmt.format(c.difference)} (no interval): too few volumes"
    head = (fmt if unit else fmt_bare).format(c.difference)
    return f"{head} ({fmt_bare.format(c.low)} to {fmt_bare.format(c.high)}): {_outcome_text(c)}"


def comparison_rows(comparisons: dict[str, dict[str, Comparison]]) -> list[dict]:
    """Rows for a table of paired comparisons: ``comparisons`` ``{row label: {metric: Comparison}}``
    → ``{"compared", one column per metric (:func:`comparison_cell`), "volumes", "split"}``."""
    rows = []
    for label, by_metric in comparisons.items():
        first = next(iter(by_metric.values()))
        row = {"compared": label}
        row.update({f"{METRIC_LABELS[m][0]} difference (95 % CI)": comparison_cell(c) for m, c in by_metric.items()})
        rows.append({**row, "volumes": first.volumes, "split": first.split})
    return rows


def pair_finding(comparisons: dict[str, Comparison], exact: str | None = None) -> str:
    """One compared pair: its PSNR sentence, then whether the metrics agree (no final period). When one
    of the two is ``exact`` (or has an infinite PSNR), it is said to be exact, not a method to beat."""
    psnr = comparisons["psnr"]
    if exact not in (psnr.a, psnr.b) and psnr.outcome == "undefined":
        exact = psnr.b if psnr.mean_b == float("inf") else psnr.a
    if exact in (psnr.a, psnr.b):
        return (f"{exact} is exact here (the inverse FFT of fully sampled k-space): it is not a method to beat, and "
                f"{psnr.a if exact == psnr.b else psnr.b} is not compared with it")
    return f"{comparison_sentence(psnr)}; {agreement_sentence(comparisons)}"


def pairs_markdown(comparisons: dict[str, dict[str, Comparison]], indent: str = "", exact: str | None = None) -> str:
    """A Markdown list, one item per compared pair (``{label: {metric: Comparison}}``): :func:`pair_finding`."""
    return "\n".join(f"{indent}- {_capital(pair_finding(c, exact))}." for c in comparisons.values())


def results_verdict(result: Learned) -> str:
    """Chapter 05's verdict line: the learned rule's sentence, opened by "Inconclusive at this budget"
    when the model did not pass it."""
    sentence = learned_sentence(result)
    return f"{_capital(sentence)}." if result.passed else f"Inconclusive at this budget: {sentence}."


def undersampling_findings(result: Learned, comparisons: dict, exact: dict | None = None, model: str = "AUTOMAP") -> str:
    """Chapter 06's findings, Markdown: the learned rule on ``model`` first; then, per acceleration
    (``comparisons`` ``{acc_key: {pair: {metric: Comparison}}}``), one item per compared pair
    (:func:`pair_finding`; ``exact`` ``{acc_key: the exact method's name}``). When ``model`` did not
    pass the rule its pairs are not stated as findings."""
    lines = [f"- {_capital(learned_sentence(result))}."]
    if not result.passed:
        lines.append(f"- {_capital(inconclusive_sentence(result, f'{model} against the other methods'))}; "
                     "its comparisons stay in the table and the figure, without a verdict.")
    for key, by_pair in comparisons.items():
        first = next(iter(next(iter(by_pair.values())).values()))
        lines.append(f"- **{key}** ({first.volumes} {first.split} volumes, paired):")
        stated = {p: c for p, c in by_pair.items() if result.passed or model not in (c["psnr"].a, c["psnr"].b)}
        lines.append(pairs_markdown(stated, "  ", (exact or {}).get(key)))
    return "\n".join(lines)


def undersampling_verdict(result: Learned, comparisons: dict, pairs, model: str = "AUTOMAP") -> str:
    """Chapter 06's verdict line: the PSNR differences of ``pairs`` (keys of ``comparisons[acc_key]``)
    at every acceleration with their 95 % intervals, and where the metrics disagree; the pairs with
    ``model`` are replaced by "inconclusive at this budget" when it did not pass the learned rule."""
    first = next(iter(next(iter(next(iter(comparisons.values())).values())).values()))
    parts, disagree = [], []
    for key, by_pair in comparisons.items():
        shown = [by_pair[p] for p in pairs if result.passed or model not in (by_pair[p]["psnr"].a, by_pair[p]["psnr"].b)]
        if shown:
            parts.append(f"at {key} " + ", ".join(f"{c['psnr'].a} − {c['psnr'].b} {comparison_cell(c['psnr'])}" for c in shown))
        disagree += [f"{c['psnr'].a} against {c['psnr'].b} at {key}" for c in shown if agreement(c) == "disagree"]
    head = "" if result.passed else (f"{model} against the other methods is inconclusive at this budget ({model} did not "
                                     f"pass the learned rule: {result.reason}; gain {interval_text(result.gain)}). ")
    body = (f"PSNR differences on {first.volumes} {first.split} volumes (95 % CI): " + "; ".join(parts) + "." if parts else "")
    tail = (" PSNR, SSIM and NMSE disagree on " + ", ".join(disagree) + "." if disagree else "")
    return (head + body + tail).strip()


def undersampling_design(automap_augment: bool, unet_augment: bool, group_labels, unet_chans: int, unet_residual: bool,
                         automap_init: str) -> dict[str, str]:
    """Chapter 06's training set-up in words, Markdown fragments to glue under their keys."""
    crops = {True: "on the paper's reflection-tiling crops", False: "on the training slices as they are, without the crops"}
    residual = "residual: the input is added to the output" if unet_residual else "not residual, as fastMRI's"
    init = ("AUTOMAP at 1× is chapter 03's trained model itself (it learned on fully sampled k-space); for the undersampled "
            "accelerations it starts from those weights and is fine-tuned on masked inputs."
            if automap_init == "chapter03" else "AUTOMAP starts from random weights.")
    return dict(automap_augment_md=crops[automap_augment], unet_augment_md=crops[unet_augment],
                groups_md=" and ".join(f"`{label}`" for label in group_labels),
                unet_design_md=f"{unet_chans} channels at the top level, {residual}", automap_init_md=init)


# --- Chapters 07 (architecture study) and 09 (transfer): several models judged by the one rule ---


def gains_text(results: list[Learned]) -> str:
    """The PSNR gains over the mean training image of several models, compactly, one interval each:
    ``"greenberg at 1x +0.95 dB (+0.71 to +1.18), original at 1x +1.59 dB (+1.30 to +1.90); 95 % CIs, 9 val volumes"``."""
    fmt = METRIC_LABELS["psnr"][1]
    parts = []
    for r in results:
        g = r.gain
        if g.outcome in ("too few volumes", "undefined"):
            parts.append(f"{r.model} {interval_text(g)}")
        else:
            parts.append(f"{r.model} {fmt.format(g.difference)} ({fmt.format(g.low)} to {fmt.format(g.high)})")
    volumes = sorted({r.gain.volumes for r in results})
    first = results[0].gain
    return (f"{', '.join(parts)}; {100 * first.confidence:.0f} % CIs, "
            f"{'/'.join(map(str, volumes))} {first.split} volumes")


def none_passed_sentence(results: list[Learned], what: str, kind: str = "models") -> str:
    """Why ``what`` is inconclusive when none of several ``kind`` passed the rule, with their gains (no final period)."""
    return (f"{what} is inconclusive at this budget: none of the {len(results)} {kind} passed the learned rule on "
            f"{results[0].split} (PSNR gain over the mean training image: {gains_text(results)}; the rule asks the whole "
            f"interval to lie at or above {results[0].margin_db:g} dB), so their order says little about models that "
            "have learned the transform")


def architecture_verdict(learned: dict[str, Learned], comparisons: list[dict[str, Comparison]]) -> str:
    """Chapter 07's one-line verdict: ``learned`` per variant (:func:`automap_nb.experiments.architecture.learned_by_cell`),
    ``comparisons`` of the variants that passed (:func:`~automap_nb.experiments.architecture.compare_learned`)."""
    results = list(learned.values())
    passed = [r for r in results if r.passed]
    others = [r for r in results if not r.passed]
    if not passed:
        return none_passed_sentence(results, "The ranking of the architecture variants", "variants") + "."
    head = (f"{len(passed)} of {len(results)} variants passed the learned rule on {passed[0].split} "
            f"({gains_text(passed)})")
    if others:
        head += f"; the others did not and are not ranked ({gains_text(others)})"
    if not comparisons:
        return head + "; no two variants that passed share an acceleration, so there is nothing to rank."
    return head + "; " + "; ".join(comparison_sentence(c["psnr"]) for c in comparisons) + "."


def transfer_verdict(learned: dict[str, Learned], comparisons: dict[str, dict[str, Comparison]], reference: str = "scratch",
                     unit: str = "picture") -> str:
    """Chapter 09's one-line verdict on transfer. ``learned``: the rule per mode; ``comparisons``:
    each mode that passed against ``reference`` (training from scratch), made only when both passed.
    Transfer is answered only when the reference learned: without it there is nothing to reach sooner."""
    ref = learned[reference]
    modes = [r for m, r in learned.items() if m != reference]
    note = f"; each {ref.split} {unit} counts as one volume"
    if not ref.passed:
        return (inconclusive_sentence(ref, "Whether starting from chapter 03's weights helps") +
                f"; without a reference that learned there is no answer (PSNR gain over the mean training image: "
                f"{gains_text(list(learned.values()))}){note}.")
    if not comparisons:
        return (f"No: {ref.model} passed the learned rule on {ref.split} ({interval_text(ref.gain)}) but no transfer mode "
                f"did ({gains_text(modes)}){note}.")
    psnr = [c["psnr"] for c in comparisons.values()]
    answer = "Yes" if any(c.winner == c.a for c in psnr) else "No" if all(c.winner == c.b for c in psnr) else "Not shown"
    text = f"{answer}: " + "; ".join(comparison_sentence(c) for c in psnr)
    left = [r for m, r in learned.items() if m != reference and m not in comparisons]
    if left:
        text += f"; {', '.join(r.model for r in left)} did not pass the learned rule and were not compared"
    return text + note + "."


def study_bullets(learned: dict[str, Learned], comparisons: list[dict[str, Comparison]]) -> str:
    """Chapters 07 and 09's findings as a Markdown list: the rule's sentence for every model, then one
    item per compared pair with its PSNR, SSIM and NMSE sentences and whether the metrics agree."""
    lines = [f"- {_capital(learned_sentence(r))}." for r in learned.values()]
    for comps in comparisons:
        sentences = [comparison_sentence(c) for c in comps.values()] + [agreement_sentence(comps)]
        lines.append(f"- {_capital('; '.join(sentences))}.")
    return "\n".join(lines)


# ---- chapter 08 (stability): amplifications compared pair by pair ------------------------------


def amplification_text(c: dict) -> str:
    """``"3.21 against 0.99 (difference +2.22, 95 % CI +1.90 to +2.54; 6 test volumes, one slice each)"``
    for a :func:`automap_nb.experiments.stability.compare_amplifications` entry."""
    n = f"{c['units']} test volume{'s' if c['units'] != 1 else ''}, one slice each"
    head = f"{c['mean_a']:.2f} against {c['mean_b']:.2f}"
    if c["outcome"] == "undefined":
        return f"{head} (a non-finite value; {n})"
    if c["outcome"] == "too few":
        return f"{head} (difference {c['difference']:+.2f}; {n}: too few for an interval)"
    return (f"{head} (difference {c['difference']:+.2f}, {100 * c['confidence']:.0f} % CI {c['low']:+.2f} to "
            f"{c['high']:+.2f}; {n})")


#: How :func:`amplification_phrase` names each method in a sentence.
STABILITY_NAMES = dict(automap="AUTOMAP", ifft="the inverse FFT", unet="the U-Net", zero_filled="the zero-filled inverse FFT",
                       tv="TV on the perturbations tried (TV is not searched directly)")


def amplification_phrase(c: dict) -> str:
    """What a :func:`automap_nb.experiments.stability.compare_amplifications` entry shows, in words (no
    final period): "exceeds" only when the interval of the paired difference excludes zero."""
    a = STABILITY_NAMES.get(c["a"], c["a"])
    if c["b_kind"] == "random":
        b = "its amplification of Gaussian noise of the same norm"
    else:
        b = f"that of {STABILITY_NAMES.get(c['b'], c['b'])}"
    verb = {"a greater": "exceeds", "b greater": "is below", "none": "was not shown to differ from"}.get(c["outcome"])
    if verb is None:
        return f"the worst amplification of {a} against {b} is inconclusive, {amplification_text(c)}"
    return f"the worst amplification of {a} {verb} {b}, {amplification_text(c)}"


#: The claims about each attacked network: ``key: (topic, comparisons)`` (names in
#: :data:`automap_nb.experiments.stability.COMPARED`; the first is the one the verdict line states).
STABILITY_CLAIMS = {
    "automap": ("Whether AUTOMAP is less stable than the inverse FFT", ["automap_vs_ifft", "automap_vs_noise"]),
    "unet": ("Whether the U-Net is less stable than TV at 4×", ["unet_vs_tv", "unet_vs_zero_filled"])
}


def _stability_claim(comps: dict, learned, names, topic: str) -> str | None:
    """The claim about one attacked network: its comparisons if it passed the learned rule, else why none."""
    shown = [comps[n] for n in names if n in comps]
    if learned is None or not shown:
        return None
    if learned.passed:
        return "; ".join(amplification_phrase(c) for c in shown)
    return inconclusive_sentence(learned, topic)


def stability_verdict(comps: dict, learned: dict) -> str:
    """Chapter 08's one-line verdict (plain text): the paired comparisons of the attacked networks at
    the largest budget, each drawn only for a network that passed the learned rule (``learned``:
    ``{"automap": Learned, "unet": Learned}``); otherwise that part is "inconclusive at this budget"."""
    top = next(iter(comps.values()))["budget"]
    parts = [_stability_claim(comps, learned.get(key), names[:1], topic) for key, (topic, names) in STABILITY_CLAIMS.items()]
    parts = [p[:1].lower() + p[1:] if p.startswith("Whether") else p for p in parts if p]
    return f"At ‖r‖ = {100 * top:g} % of ‖y‖: " + "; ".join(parts) + "."


def stability_findings(rows: list[dict], comps: dict, learned: dict, labels: dict) -> str:
    """Chapter 08's findings, Markdown: per group, each method's mean amplifications at the largest
    budget (a measurement; ``rows``: :func:`automap_nb.experiments.stability.summary_rows`, ``labels``
    ``{method: name}``); the learned rule for each attacked network; then the paired comparisons, as
    claims only for a network that passed the rule and as measurements without a verdict otherwise.
    TV is not searched directly, so its worst case is a lower bound."""
    top = max(r["budget"] for r in rows)
    units = len(rows[0]["amp_worst_slices"])
    lines = []
    for group in dict.fromkeys(r["group"] for r in rows):
        parts = []
        for r in (r for r in rows if r["group"] == group and r["budget"] == top):
            how = "its own search" if r["own_search"] else "the perturbations searched for the others, a lower bound"
            parts.append(f"{labels.get(r['method'], r['method'])} {r['amp_worst']:.2f} (worst found, {how}; "
                         f"random noise {r['amp_random']:.2f})")
        lines.append(f"- **{group}**, ‖r‖ = {100 * top:g} % of ‖y‖, mean amplification ‖Δf‖/‖r‖ over {units} test "
                     "slices (one per volume): " + "; ".join(parts) + ".")
    for key, (topic, names) in STABILITY_CLAIMS.items():
        result, shown = learned.get(key), [comps[n] for n in names if n in comps]
        if result is None or not shown:
            continue
        lines.append(f"- {_capital(learned_sentence(result))}.")
        if result.passed:
            lines.extend(f"- {_capital(amplification_phrase(c))}." for c in shown)
        else:
            lines.append(f"- {inconclusive_sentence(result, topic)}. Measured, without a verdict: " +
                         "; ".join(amplification_phrase(c) for c in shown) + ".")
    return "\n".join(lines)


# ---- chapter 10 (dAUTOMAP): equal samples at the book's grid, and a larger grid -----------------


def _pair_cells(comparisons: dict, pair: str, keys) -> str:
    """``"at 4x +0.95 dB (+0.84 to +1.08): dAUTOMAP better, at 8x …"`` for ``pair`` at ``keys``."""
    return ", ".join(f"at {k} {comparison_cell(comparisons[k][pair]['psnr'])}" for k in keys if pair in comparisons.get(k, {}))


def seconds_sentence(model: str, reference: str, seconds: dict, ahead: bool) -> str:
    """Whether an equal-samples win of ``model`` over ``reference`` also holds at equal seconds
    (``seconds``: each one's training seconds): only when ``model`` needed no more seconds (no final period)."""
    spent = f"{model} trained {seconds[model]:.1f} s, {reference} {seconds[reference]:.1f} s"
    if not ahead:
        return spent
    if seconds[model] <= seconds[reference]:
        return f"{spent}: {model} needed no more seconds, so where it is ahead at equal samples it is ahead at equal seconds too"
    return f"{spent}: at equal seconds this run does not decide (see the learning curves against seconds)"


def dautomap_verdict(learned: dict[str, Learned], equal: dict, large: dict, seconds: dict, samples: int, n: int, large_n: int,
                     model: str, reference: str, unet: str, zero_filled: str = "zero-filled") -> str:
    """Chapter 10's verdict line. ``equal``: comparisons at the book's grid ``n`` (``{acc_key: {"a − b":
    {metric: Comparison}}}``) after ``samples`` training samples each; ``large``: at ``large_n``, keyed
    by ``model`` at that grid; ``learned``: the rule per model label. A model that did not pass the
    rule gets "inconclusive at this budget" instead of its comparisons."""
    keys = [k for k in equal if k != "1x"]
    parts = []
    big = f"{model} at {large_n}²"
    if learned[model].passed:
        pair = f"{model} − {reference}"
        ahead = any(equal[k][pair]["psnr"].winner == model for k in equal if pair in equal[k])
        parts.append(f"at {n}² and equal samples ({samples:,} each), {pair} PSNR " + _pair_cells(equal, pair, equal) +
                     f" ({seconds_sentence(model, reference, seconds, ahead)})")
        parts.append(f"{model} − {unet} " + _pair_cells(equal, f"{model} − {unet}", keys))
    else:
        parts.append(inconclusive_sentence(learned[model], f"{model} against the other methods at {n}²"))
    if learned[big].passed:
        parts.append(f"{big} − {zero_filled} " + _pair_cells(large, f"{big} − {zero_filled}", [k for k in large if k != "1x"]))
    else:
        parts.append(inconclusive_sentence(learned[big], f"{big} against {zero_filled}"))
    disagree = [
        f"{c['psnr'].a} against {c['psnr'].b} at {k}" for grid in (equal, large) for k, by_pair in grid.items() if k != "1x"
        for c in by_pair.values() if agreement(c) == "disagree"
    ]
    tail = f" PSNR, SSIM and NMSE disagree on {', '.join(disagree)}." if disagree else ""
    first = next(iter(learned.values())).gain
    return (_capital("; ".join(parts)) + f" (95 % CIs over {first.volumes} {first.split} volumes)." + tail)


def dautomap_findings(learned: dict[str, Learned], grids: dict[str, dict], exact: str = "zero-filled") -> str:
    """Chapter 10's findings, Markdown: the rule's sentence for every model, then per grid (``grids``
    ``{title: {acc_key: {pair: {metric: Comparison}}}}``) and acceleration one item per pair whose
    first model passed the rule (:func:`pair_finding`; ``exact`` is exact at 1×). A second model that
    did not pass is named: such a pair compares two budgets, not two models that have learned."""
    lines = [f"- {_capital(learned_sentence(r))}." for r in learned.values()]
    failed = {label for label, r in learned.items() if not r.passed}
    for title, comparisons in grids.items():
        for key, by_pair in comparisons.items():
            stated = {p: c for p, c in by_pair.items() if c["psnr"].a not in failed}
            if stated:
                first = next(iter(next(iter(stated.values())).values()))
                lines.append(f"- **{title}, {key}** ({first.volumes} {first.split} volumes, paired):")
                lines.append(pairs_markdown(stated, "  ", exact if key == "1x" else None))
    if failed:
        lines.append(f"- Did not pass the learned rule: {', '.join(sorted(failed))}. Pairs led by such a model are not "
                     "stated; a pair against one compares what two budgets bought, not two models that have learned.")
    return "\n".join(lines)


def dautomap_stability_sentence(result: Learned, comparisons: dict) -> str:
    """Chapter 10's stability finding, one sentence: ``comparisons`` ``{group: {method: interval}}`` of
    :func:`automap_nb.experiments.dautomap.stability_beside_chapter08`, stated only when ``result`` (the
    rule on the model) passed."""
    if not result.passed:
        return _capital(inconclusive_sentence(result, f"the stability of {result.model}")) + "."
    budget = next(iter(next(iter(comparisons.values())).values()))["budget"]
    parts = [
        f"{'fully sampled' if group == '1×' else 'at ' + group}, " + ", ".join(f"{amplification_text(c)} for {STABILITY_NAMES[m]}"
                                                                               for m, c in by_method.items())
        for group, by_method in comparisons.items() if by_method
    ]
    return (f"At ‖r‖ = {100 * budget:g} % of ‖y‖ the worst amplification ‖Δf‖ / ‖r‖ found for {result.model} against "
            f"that of chapter 08's methods on the same slices is, " + "; ".join(parts) + ".")
