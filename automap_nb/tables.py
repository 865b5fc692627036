"""How the book's tables round their numbers, in one place, so that every chapter (and the landing
page) shows a quantity the same way and no more precisely than it can support:

- PSNR in dB: 2 decimals (:data:`PSNR`); a difference of 0.01 dB is already below the spread
  between volumes or seeds, so a third decimal would be noise;
- SSIM and NMSE: 3 decimals (:data:`SSIM`, :data:`NMSE`; an exact reconstruction's NMSE shows as 0.000);
- times: 2 significant figures, without an exponent (:func:`significant`): a time measured on a
  shared machine varies by more than a few percent from run to run;
- counts (parameters, weights): thousands separators (:data:`COUNT`); weight statistics 3
  significant figures (:data:`RMS`), relative changes 3 decimals (:data:`RELATIVE`).

:func:`styled` applies such formats to a pandas DataFrame for display, without its index;
:func:`as_text` writes them into the frame's cells (e.g. before transposing a wide table).
"""

from __future__ import annotations

import math

PSNR = "{:.2f}"
SSIM = "{:.3f}"
NMSE = "{:.3f}"
COUNT = "{:,}"
RATIO = "{:.1f}"  # an achieved acceleration, 6.4×
RELATIVE = "{:.3f}"  # a relative change ‖W − W₀‖/‖W₀‖, as chapter 04's bar chart writes it
RMS = "{:#.3g}"  # a weight statistic: 3 significant figures, trailing zeros kept (0.700)
RATE = "{:g}"  # a learning rate, 0.001


def significant(value: float, digits: int = 2) -> str:
    """``value`` to ``digits`` significant figures, without an exponent and keeping every integer
    digit: ``57.93`` → ``"58"``, ``1234.6`` → ``"1,235"``, ``0.04231`` → ``"0.042"``, ``3.0`` → ``"3.0"``."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    rounded = round(value, decimals)
    if rounded and math.floor(math.log10(abs(rounded))) > magnitude:  # 0.0996 → 0.10, not 0.100
        decimals = max(0, decimals - 1)
    return f"{rounded:,.{decimals}f}"


def styled(frame, formats: dict, index: bool = False):
    """``frame.style`` with ``formats`` (``{column: format string or callable}``, columns not in the
    frame ignored) and, unless ``index``, without the row index."""
    style = frame.style.format({k: v for k, v in formats.items() if k in frame.columns})
    return style if index else style.hide(axis="index")


def as_text(frame, formats: dict):
    """A copy of ``frame`` whose ``formats`` columns hold their formatted text (``formats`` as for
    :func:`styled`), so that it can be transposed or joined without losing the rounding."""
    out = frame.copy()
    for column, fmt in formats.items():
        if column in out.columns:
            out[column] = out[column].map(fmt if callable(fmt) else fmt.format)
    return out
