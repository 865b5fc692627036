"""Numbers this project quotes from other work: the one place they are typed, each with its source.

They are not results of a run: the book compares its own (glued) results against them. The book
build turns every entry into a MyST substitution (``{{ paper_val_psnr }}`` in any markdown page
or notebook markdown cell renders the value), so prose never types them either.
:func:`substitutions` gives the mapping; ``automap_nb.orchestration.book`` writes it into the staged
``_config.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quoted:
    """One quoted number: its value, how it is printed, and where it comes from."""

    value: float
    text: str
    source: str


PAPER = "Greenberg, Narayan, Walczak, Boosting MRI Image Quality with Deep Learning"
FASTMRI = "Zbontar et al. 2018, fastMRI: An Open Dataset and Benchmarks for Accelerated MRI"

QUOTED: dict[str, Quoted] = {
    "paper_val_psnr": Quoted(28.2, "28.2", f"{PAPER}, abstract and §6: PSNR on validation data (dB)"),
    "paper_train_psnr": Quoted(28.9, "28.9", f"{PAPER}, §7: PSNR on training data (dB)"), "paper_tv_psnr": Quoted(
        25.9, "25.9", f"{PAPER}, §6: 'total variational baseline', quoted from fastMRI "
        "(an undersampled 4×/8× number, not fully sampled input)"),
    "paper_epochs": Quoted(300, "300", f"{PAPER}, §5: 300 epochs of training lasted 12 hours"),
    "paper_hours": Quoted(12, "12", f"{PAPER}, §5: 300 epochs on one p3.2xlarge (one V100)"),
    "paper_batch": Quoted(32, "32", f"{PAPER}, §5: batch size"), "paper_train_slices": Quoted(
        51288, "51,288", f"{PAPER}, §3: 90 % of fastMRI's 56,987 knee slices "
        "used for training (0.9 × 56,987)"), "paper_total_slices": Quoted(56987, "56,987",
                                                                          f"{PAPER}, §3: knee slices in fastMRI (1,594 volumes)"),
    "fastmri_unet_nmse_4x": Quoted(0.032, "0.032", f"{FASTMRI}: single-coil knee U-Net baseline at 4×, "
                                   "NMSE after volume-level aggregation"),
    "fastmri_unet_psnr_4x": Quoted(32.3, "32.3", f"{FASTMRI}: single-coil knee U-Net baseline at 4×, "
                                   "PSNR (dB) after volume-level aggregation")
}


def value(key: str) -> float:
    """The quoted number ``key`` (KeyError names the known keys)."""
    if key not in QUOTED:
        raise KeyError(f"no quoted number {key!r}; known: {sorted(QUOTED)}")
    return QUOTED[key].value


def substitutions() -> dict[str, str]:
    """``{key: printed text}`` for MyST substitutions (``{{ key }}``), and ``quoted_sources``:
    the table of them all with their sources."""
    return {**{key: quoted.text for key, quoted in QUOTED.items()}, "quoted_sources": sources_table()}


def sources_table() -> str:
    """A markdown table of every quoted number and its source (for the references page)."""
    rows = ["| number | value | source |", "| --- | --- | --- |"]
    rows += [f"| `{key}` | {quoted.text} | {quoted.source} |" for key, quoted in QUOTED.items()]
    return "\n".join(rows)
